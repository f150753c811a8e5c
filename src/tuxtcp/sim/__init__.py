"""The deterministic simulation: World, hosts, links, traffic generators."""
