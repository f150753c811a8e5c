"""Keepalive settings and the keepalive timer's arming (include/net/tcp.h: keepalive_time_when,
keepalive_intvl_when, keepalive_probes, keepalive_time_elapsed; inet_connection_sock.c:
inet_csk_reset_keepalive_timer). The timer's handler is tcp/timer.py: keepalive_timer. The
keepalive timer is sk_timer, which also times an orphan's FIN_WAIT2."""

from __future__ import annotations

from .constants import TIMER_KEEPALIVE
from .sock import TcpSock

MAX_TCP_KEEPIDLE = 32767  # seconds
MAX_TCP_KEEPINTVL = 32767
MAX_TCP_KEEPCNT = 127


def keepalive_time_when(sk: TcpSock) -> float:
    return sk.keepalive_time or float(sk.ns.sysctl.tcp_keepalive_time)


def keepalive_intvl_when(sk: TcpSock) -> float:
    return sk.keepalive_intvl or float(sk.ns.sysctl.tcp_keepalive_intvl)


def keepalive_probes(sk: TcpSock) -> int:
    return sk.keepalive_probes or sk.ns.sysctl.tcp_keepalive_probes


def keepalive_time_elapsed(sk: TcpSock, now: float) -> float:
    """Idle time: since the last data or the last acceptable ACK, whichever is later."""
    return min(now - sk.icsk_ack.lrcvtime, now - sk.rcv_tstamp)


def reset_keepalive_timer(sk: TcpSock, now: float, delay: float) -> None:
    """inet_csk_reset_keepalive_timer."""
    if sk.keepalive_timer is not None:
        sk.keepalive_timer.cancel()
    sk.keepalive_timer = sk.ns.arm(now, max(delay, 0.0), TIMER_KEEPALIVE, sk)


def delete_keepalive_timer(sk: TcpSock) -> None:
    """inet_csk_delete_keepalive_timer."""
    if sk.keepalive_timer is not None:
        sk.keepalive_timer.cancel()
        sk.keepalive_timer = None


def keepalive_established(sk: TcpSock, now: float) -> None:
    """tcp_finish_connect / tcp_create_openreq_child: the connection is up; with SO_KEEPALIVE
    the idle clock starts now."""
    sk.icsk_ack.lrcvtime = now
    sk.rcv_tstamp = now
    if sk.keepalive:
        reset_keepalive_timer(sk, now, keepalive_time_when(sk))
