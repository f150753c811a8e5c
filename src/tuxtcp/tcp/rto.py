"""RTT estimation and the retransmission timer's arming (tcp_rtt_estimator, tcp_set_rto,
tcp_rearm_rto)."""

from __future__ import annotations

from .constants import TCP_RTO_MAX, TCP_RTO_MIN, TIMER_RETRANS
from .sock import TcpSock


def update_rtt(sk: TcpSock, rtt: float) -> None:
    """tcp_rtt_estimator / tcp_set_rto (RFC 6298 with Linux's 200 ms floor), and
    tcp_update_rtt_min (the kernel keeps the minimum over net.ipv4.tcp_min_rtt_wlen, 300 s;
    here over the connection's life)."""
    if sk.min_rtt < 0 or rtt < sk.min_rtt:
        sk.min_rtt = rtt
    if sk.srtt == 0.0:
        sk.srtt = rtt
        sk.rttvar = rtt / 2
    else:
        sk.rttvar = 0.75 * sk.rttvar + 0.25 * abs(sk.srtt - rtt)
        sk.srtt = 0.875 * sk.srtt + 0.125 * rtt
    sk.rto = min(max(sk.srtt + max(4 * sk.rttvar, TCP_RTO_MIN), TCP_RTO_MIN), TCP_RTO_MAX)
    sk.backoff = 0  # RFC 6298: only a valid RTT sample resets the backoff


def arm_rto(sk: TcpSock, now: float, timeout: float = -1.0) -> None:
    """inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS, timeout or the RTO)."""
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    sk.rtx_timer = sk.ns.arm(now, sk.rto if timeout < 0 else timeout, TIMER_RETRANS, sk)


def ensure_rto(sk: TcpSock, now: float) -> None:
    """Arm the retransmission timer unless it is already pending."""
    if sk.rtx_timer is None or not sk.rtx_timer.pending:
        arm_rto(sk, now)


def stop_rto(sk: TcpSock) -> None:
    """inet_csk_clear_xmit_timer(ICSK_TIME_RETRANS)."""
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
        sk.rtx_timer = None
