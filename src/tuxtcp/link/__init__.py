"""Links that carry packets between namespaces."""
