"""The TCP metrics cache (net/ipv4/tcp_metrics.c): per namespace, one entry per pair of local
and remote address, holding the RTT that connections which ended well learned (as the kernel
keeps srtt_us: microseconds times 8). A new connection's first RTO starts from it when it is
above the handshake's own sample, and a listener with cookies off keeps the last quarter of
its SYN queue for peers with a cached RTT.

Only the RTT is kept: tcp_init_metrics reads the cached ssthresh and reordering too, which
connections that leave slow start or see reordering store; tuxtcp does not cache those.
"""

from __future__ import annotations

from typing import Final

from ..net.clock import round_int
from ..net.namespace import NetNamespace
from ..net.sysctl_specs import HZ
from .constants import TCP_RTO_MIN
from .sock import TcpSock

_US8: Final = 8_000_000  # srtt_us counts microseconds times 8
_US8_PER_JIFFY: Final = 8 * 1_000_000 // HZ  # tcp_init_metrics: 8 * USEC_PER_SEC / HZ
_RTO_MIN_J: Final = round(TCP_RTO_MIN * HZ)
# entries at most: the kernel's table reclaims the oldest entry of a hash chain more than
# TCP_METRICS_RECLAIM_DEPTH (5) long; one bound for the whole table here
MAX_ENTRIES: Final = 1 << 16


def _key(laddr: int, raddr: int) -> int:
    return laddr << 32 | raddr


def srtt_us8(sk: TcpSock) -> int:
    """The socket's smoothed RTT as the kernel holds it (tp->srtt_us: microseconds times 8)."""
    return round_int(sk.srtt * _US8)


def update_metrics(sk: TcpSock) -> None:
    """tcp_update_metrics, from tcp_time_wait and at LAST_ACK's end: a connection whose RTO
    backed off, or that never measured an RTT, resets the cached RTT to 0 (an entry is not
    made for it); otherwise a larger RTT replaces the cached one and a smaller one takes an
    eighth of the difference off it (an overestimate is the safer error)."""
    table = sk.ns.tcp_metrics
    key = _key(sk.laddr, sk.raddr)
    if sk.backoff or not sk.srtt:
        if key in table:
            table[key] = 0
        return
    srtt = srtt_us8(sk)
    cached = table.get(key, 0)
    m = cached - srtt
    _store(table, key, srtt if m <= 0 else cached - (m >> 3))


def init_metrics(sk: TcpSock) -> bool:
    """tcp_init_metrics' RTO (from tcp_init_transfer, after the handshake's RTT sample): a
    cached RTT above the socket's own sets the RTO as tcp_rtt_estimator would from it
    (rtt + max(2 * rtt, the minimum RTO), in whole jiffies), leaving srtt and rttvar as the
    handshake left them. Makes the entry if there is none (tcp_get_metrics(create)). Whether
    the cache set the RTO."""
    table = sk.ns.tcp_metrics
    key = _key(sk.laddr, sk.raddr)
    cached = table.get(key)
    if cached is None:
        _store(table, key, 0)
        return False
    if cached <= srtt_us8(sk):
        return False
    crtt = cached // _US8_PER_JIFFY
    sk.rto = (crtt + max(2 * crtt, _RTO_MIN_J)) / HZ
    return True


def peer_is_proven(ns: NetNamespace, laddr: int, raddr: int) -> bool:
    """tcp_peer_is_proven: the cache holds a non-zero RTT for this pair of addresses."""
    return ns.tcp_metrics.get(_key(laddr, raddr), 0) != 0


def _store(table: dict[int, int], key: int, rtt: int) -> None:
    if key not in table and len(table) >= MAX_ENTRIES:
        del table[next(iter(table))]  # the oldest entry (tcpm_new's reclaim)
    table[key] = rtt
