"""Helpers shared by request socks, timewait socks and full sockets (tcp_minisocks.c,
tcp_input.c)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..wire.seq import after, before

if TYPE_CHECKING:
    from ..net.namespace import NetNamespace


class HasOowStamp(Protocol):
    last_oow_ack: float


def in_window(seq: int, end_seq: int, s_win: int, e_win: int) -> bool:
    """tcp_minisocks.c:tcp_in_window."""
    if seq == s_win:
        return True
    if after(end_seq, s_win) and before(seq, e_win):
        return True
    return seq == e_win and seq == end_seq


def oow_rate_limited(ns: NetNamespace, holder: HasOowStamp, now: float, counter: str,
                     data: bool = False) -> bool:
    """tcp_oow_rate_limited / __tcp_oow_rate_limited: at most one out-of-window reply per
    tcp_invalid_ratelimit ms per socket; a suppressed one counts under `counter`. `data`: the
    segment carries data and no SYN (tcp_oow_rate_limited: not likely part of an ACK loop,
    never limited)."""
    if data:
        return False
    limit = ns.sysctl.tcp_invalid_ratelimit / 1000.0
    if 0 <= now - holder.last_oow_ack < limit:
        ns.mib.tcp_ext[counter] += 1
        return True
    holder.last_oow_ack = now
    return False
