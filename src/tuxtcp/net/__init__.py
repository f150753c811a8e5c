"""Network-namespace state: sysctls, MIB counters, port tables, secrets."""
