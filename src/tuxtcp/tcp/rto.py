"""RTT estimation and the retransmission timer's arming (tcp_rtt_estimator, tcp_set_rto,
tcp_rearm_rto), as the RTO or as a tail loss probe (tcp_schedule_loss_probe)."""

from __future__ import annotations

from ..net.clock import round_int, usecs_to_jiffies
from ..net.sysctl_specs import HZ
from .cong import TCP_CA_CWR, TCP_CA_OPEN
from .constants import (
    TCP_RTO_MAX,
    TCP_RTO_MIN,
    TCP_TIMEOUT_FALLBACK,
    TCP_TIMEOUT_INIT,
    TIMER_RETRANS,
)
from .metrics import init_metrics
from .sock import TcpSock

_RTO_MIN_J = round(TCP_RTO_MIN * HZ)
_TIMEOUT_INIT_J = round(TCP_TIMEOUT_INIT * HZ)
_TIMEOUT_MIN_J = 2  # TCP_TIMEOUT_MIN


def update_rtt(sk: TcpSock, rtt: float) -> None:
    """tcp_rtt_estimator / tcp_set_rto (RFC 6298 with Linux's 200 ms floor), and
    tcp_update_rtt_min (the kernel keeps the minimum over net.ipv4.tcp_min_rtt_wlen, 300 s;
    here over the connection's life; a sample of 0 counts as one jiffy there)."""
    low = rtt if rtt > 0 else 1 / HZ
    if sk.min_rtt < 0 or low < sk.min_rtt:
        sk.min_rtt = low
    if sk.srtt == 0.0:
        sk.srtt = rtt
        sk.rttvar = rtt / 2
    else:
        sk.rttvar = 0.75 * sk.rttvar + 0.25 * abs(sk.srtt - rtt)
        sk.srtt = 0.875 * sk.srtt + 0.125 * rtt
    sk.rto = min(max(sk.srtt + max(4 * sk.rttvar, TCP_RTO_MIN), TCP_RTO_MIN), TCP_RTO_MAX)
    sk.backoff = 0  # RFC 6298: only a valid RTT sample resets the backoff


def handshake_rtt(sk: TcpSock, clean: float, tsecr: int, now: float) -> None:
    """tcp_ack_update_rtt for the ACK of our SYN or SYN-ACK, then tcp_init_metrics. A clean
    sample (`clean` >= 0: nothing was resent, no cookie) comes first; else, with timestamps,
    the echoed TSval gives one (tcp_rtt_tsopt_us: whole ms, at least 1). Then a cached RTT
    above it sets the RTO (tcp/metrics.py); else, without a sample, the RTO is RFC 6298 5.7's
    3 s (TCP_TIMEOUT_FALLBACK; mdev 3 s, so tcpi_rttvar shows 750 ms) until a sample comes."""
    rtt = clean
    if rtt < 0 and sk.rx_opt.tstamp_ok and tsecr:
        delta = (sk.ns.clock.tcp_clock_ms(now) + sk.ts_off - tsecr) & 0xFFFFFFFF
        if delta < 0x7FFFFFFF // 1000:
            rtt = max(delta, 1) / 1000
    if rtt >= 0:
        update_rtt(sk, rtt)
    if init_metrics(sk) or rtt >= 0:
        return
    sk.rto = TCP_TIMEOUT_FALLBACK
    sk.rttvar = TCP_TIMEOUT_FALLBACK / 4


def arm_rto(sk: TcpSock, now: float, timeout: float = -1.0) -> None:
    """inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS, timeout or the RTO)."""
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    sk.loss_probe_armed = False
    sk.reo_armed = False
    sk.rtx_timer = sk.ns.arm(now, sk.rto if timeout < 0 else timeout, TIMER_RETRANS, sk)


def _jiffies(seconds: float) -> int:
    """usecs_to_jiffies of a time in seconds, rounded to the microsecond first (as the kernel
    keeps them); none below zero."""
    return max(0, usecs_to_jiffies(round_int(seconds * 1_000_000)))


def rto_delta(sk: TcpSock, now: float) -> float:
    """tcp_rto_delta_us: how long until the RTO, counted from when the head of the
    retransmission queue last left."""
    return sk.rtx_queue[0].xmit + sk.rto - now


def rearm_rto(sk: TcpSock, now: float) -> None:
    """tcp_rearm_rto: nothing in flight, no timer; else the RTO, which a pending loss probe's
    or RACK reordering timer's replacement keeps counting from the head's last
    transmission."""
    if not sk.rtx_queue:
        stop_rto(sk)
        return
    timeout = sk.rto
    if sk.loss_probe_armed or sk.reo_armed:
        timeout = max(_jiffies(rto_delta(sk, now)), 1) / HZ
    arm_rto(sk, now, timeout)


def schedule_loss_probe(sk: TcpSock, now: float, advancing_rto: bool) -> bool:
    """tcp_schedule_loss_probe: with tcp_early_retrans 3 or 4, a SACK peer and the congestion
    state Open or CWR, the retransmission timer becomes a probe due two smoothed RTTs from now,
    plus the minimum RTO when one packet is out (the peer may be delaying its ACK) or two
    jiffies otherwise (1 s before any RTT sample), unless the RTO comes sooner: from now when
    an ACK just advanced (`advancing_rto`), else from the head's last transmission."""
    if (sk.ns.sysctl.tcp_early_retrans not in (3, 4) or not sk.rtx_queue
            or not sk.rx_opt.sack_ok or sk.ca_state not in (TCP_CA_OPEN, TCP_CA_CWR)):
        return False
    if sk.srtt:
        timeout = _jiffies(2 * sk.srtt)
        timeout += _RTO_MIN_J if len(sk.rtx_queue) == 1 else _TIMEOUT_MIN_J
    else:
        timeout = _TIMEOUT_INIT_J
    delta = sk.rto if advancing_rto else rto_delta(sk, now)
    if delta > 0:
        timeout = min(timeout, _jiffies(delta))
    arm_rto(sk, now, timeout / HZ)
    sk.loss_probe_armed = True
    return True


def ensure_rto(sk: TcpSock, now: float) -> None:
    """Arm the retransmission timer unless it is already pending."""
    if sk.rtx_timer is None or not sk.rtx_timer.pending:
        arm_rto(sk, now)


def stop_rto(sk: TcpSock) -> None:
    """inet_csk_clear_xmit_timer(ICSK_TIME_RETRANS)."""
    sk.loss_probe_armed = False
    sk.reo_armed = False
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
        sk.rtx_timer = None


def update_rto_stats(sk: TcpSock, now: float) -> None:
    """tcp_update_rto_stats: one RTO more; the first of a run starts an RTO recovery, timed
    from now in ms (tcpi_total_rto_recoveries, tcpi_total_rto_time)."""
    if not sk.retransmits:
        sk.total_rto_recoveries += 1
        sk.rto_stamp = sk.ns.clock.tcp_clock_ms(now)
    sk.retransmits += 1
    sk.total_rto += 1


def update_rto_time(sk: TcpSock, now: float) -> None:
    """tcp_update_rto_time: an RTO recovery ended (Loss left): its ms are added up."""
    if sk.rto_stamp:
        sk.total_rto_time += sk.ns.clock.tcp_clock_ms(now) - sk.rto_stamp
        sk.rto_stamp = 0
