"""include/net/tcp.h constants (times in seconds) and the engine's timer kinds."""

from typing import Final

TCP_TIMEOUT_INIT: Final = 1.0
TCP_TIMEOUT_FALLBACK: Final = 3.0  # RFC 6298 5.7: the RTO after a handshake without an RTT
TCP_RTO_MIN: Final = 0.2
TCP_RTO_MAX: Final = 120.0
TCP_TIMEWAIT_LEN: Final = 60.0
TCP_TIMEOUT_MIN: Final = 0.008  # 2 jiffies at HZ=250
TCP_RESOURCE_PROBE_INTERVAL: Final = 0.5
TCP_MSS_DEFAULT: Final = 536
TCP_MAX_WSCALE: Final = 14  # RFC 7323's largest window scale
TCP_INIT_CWND: Final = 10

# Timer kinds (tcp/timer.py dispatches on them). The kernel's full sockets have icsk_pending
# ICSK_TIME_RETRANS/PROBE0 (one timer), ICSK_TIME_DACK and sk_timer (keepalive, which also
# times an orphaned FIN_WAIT2); request socks have rsk_timer, timewait socks tw_timer.
TIMER_RETRANS: Final = 1  # tcp_retransmit_timer (SYN, SYN-ACK of a simultaneous open, data)
TIMER_PROBE0: Final = 2  # tcp_probe_timer: zero-window probes
TIMER_DACK: Final = 3  # tcp_delack_timer
TIMER_KEEPALIVE: Final = 4  # tcp_keepalive_timer: here the FIN_WAIT2 timer of an orphan
TIMER_SYNACK: Final = 5  # reqsk_timer_handler: SYN-ACK retransmission of a request sock
TIMER_TIME_WAIT: Final = 6  # tw_timer_handler: the end of TIME_WAIT / FIN_WAIT2 minisock
TCP_ATO_MIN: Final = 0.04  # HZ/25: the delayed-ACK timeout to begin with
TCP_DELACK_MIN: Final = 0.04  # HZ/25
TCP_DELACK_MAX: Final = 0.2  # HZ/5

# tp->ecn_flags (include/net/tcp_ecn.h)
TCP_ECN_OK: Final = 1
TCP_ECN_QUEUE_CWR: Final = 2
TCP_ECN_DEMAND_CWR: Final = 4
TCP_ECN_SEEN: Final = 8
