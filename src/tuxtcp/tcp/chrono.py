"""The send chronograph (tcp_chrono_start, tcp_chrono_stop, tcp_get_info_chrono_stats): how
long, in jiffies, a socket had data to send (busy), and of that how long the peer's receive
window or the send buffer held it back. One kind is timed at a time, the most telling of
those that hold (send buffer over receive window over busy); TCP_INFO shows them in us."""

from __future__ import annotations

from typing import Final

from .sock import TcpSock, has_send_head

CHRONO_UNSPEC: Final = 0
CHRONO_BUSY: Final = 1  # data queued or in flight
CHRONO_RWND_LIMITED: Final = 2  # stalled on the peer's receive window
CHRONO_SNDBUF_LIMITED: Final = 3  # stalled on the send buffer
USEC_PER_JIFFY: Final = 4000  # USEC_PER_SEC / HZ at HZ=250


def _set(sk: TcpSock, kind: int, now: float) -> None:
    """tcp_chrono_set: the running kind's time is added up, `kind` starts now."""
    j = sk.ns.clock.jiffies(now)
    old = sk.chrono_type
    if old:
        spent = (j - sk.chrono_start) & 0xFFFFFFFF
        if old == CHRONO_BUSY:
            sk.chrono_busy += spent
        elif old == CHRONO_RWND_LIMITED:
            sk.chrono_rwnd += spent
        else:
            sk.chrono_sndbuf += spent
    sk.chrono_start = j
    sk.chrono_type = kind


def chrono_start(sk: TcpSock, kind: int, now: float) -> None:
    """tcp_chrono_start: a more telling kind takes over; a less telling one waits."""
    if kind > sk.chrono_type:
        _set(sk, kind, now)


def chrono_stop(sk: TcpSock, kind: int, now: float) -> None:
    """tcp_chrono_stop: with nothing queued or in flight the chronograph stops; otherwise a
    stopping kind that is the one being timed falls back to busy."""
    if not has_send_head(sk) and not sk.rtx_queue:  # tcp_rtx_and_write_queues_empty
        _set(sk, CHRONO_UNSPEC, now)
    elif kind == sk.chrono_type:
        _set(sk, CHRONO_BUSY, now)


def chrono_stats(sk: TcpSock, now: float) -> tuple[int, int, int]:
    """tcp_get_info_chrono_stats: (busy, rwnd-limited, sndbuf-limited) in us; busy is the sum
    of all three, the running kind counted up to now."""
    stats = [sk.chrono_busy, sk.chrono_rwnd, sk.chrono_sndbuf]
    if sk.chrono_type:
        j = sk.ns.clock.jiffies(now)
        stats[sk.chrono_type - 1] += (j - sk.chrono_start) & 0xFFFFFFFF
    return (sum(stats) * USEC_PER_JIFFY, stats[1] * USEC_PER_JIFFY,
            stats[2] * USEC_PER_JIFFY)
