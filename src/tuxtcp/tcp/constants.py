"""include/net/tcp.h constants, in seconds."""

TCP_TIMEOUT_INIT = 1.0
TCP_RTO_MIN = 0.2
TCP_RTO_MAX = 120.0
TCP_TIMEWAIT_LEN = 60.0
TCP_MSS_DEFAULT = 536
TCP_INIT_CWND = 10
