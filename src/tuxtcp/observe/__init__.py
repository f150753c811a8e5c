"""Operator views: /proc/net/tcp, /proc/net/netstat, /proc/net/snmp, ss."""
