"""include/net/tcp.h constants, in seconds."""

from typing import Final

TCP_TIMEOUT_INIT: Final = 1.0
TCP_RTO_MIN: Final = 0.2
TCP_RTO_MAX: Final = 120.0
TCP_TIMEWAIT_LEN: Final = 60.0
TCP_MSS_DEFAULT: Final = 536
TCP_INIT_CWND: Final = 10
