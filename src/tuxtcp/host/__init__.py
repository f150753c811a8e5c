"""The live host kernel: network namespaces for side-by-side runs (root only)."""
