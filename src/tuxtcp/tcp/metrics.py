"""The TCP metrics cache (net/ipv4/tcp_metrics.c): per namespace, one entry per pair of local
and remote address, holding the RTT that connections which ended well learned (as the kernel
keeps srtt_us: microseconds times 8). A new connection's first RTO starts from it when it is
above the handshake's own sample, and a listener with cookies off keeps the last quarter of
its SYN queue for peers with a cached RTT.

Only the RTT is kept: tcp_init_metrics reads the cached ssthresh and reordering too, which
connections that leave slow start or see reordering store; tuxtcp does not cache those. The
handshakes of connect() and of a listener's child consult it (tcp/rto.py: handshake_rtt); a
simultaneous open's SYN_RECV does not yet.
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
# remote addresses at most: the kernel's table reclaims the oldest entry of a hash chain
# more than TCP_METRICS_RECLAIM_DEPTH (5) long; here the oldest remote address goes
MAX_REMOTES: Final = 1 << 16


class MetricsBlock:
    """tcp_metrics_block: one local address's entry in its remote address's chain, and the
    RTT it caches (microseconds times 8, as srtt_us)."""

    def __init__(self, laddr: int) -> None:
        self.laddr = laddr
        self.rtt = 0


def srtt_us8(sk: TcpSock) -> int:
    """The socket's smoothed RTT as the kernel holds it (tp->srtt_us: microseconds times 8)."""
    return round_int(sk.srtt * _US8)


def get_metrics(ns: NetNamespace, laddr: int, raddr: int, create: bool) -> MetricsBlock | None:
    """tcp_get_metrics: the entry of a pair of addresses, made (RTT 0) if asked. The table
    is keyed by the remote address, each a chain of local addresses (no 64-bit key)."""
    chain: list[MetricsBlock] | None = ns.tcp_metrics.get(raddr)
    if chain is not None:
        for tm in chain:
            if tm.laddr == laddr:
                return tm
    if not create:
        return None
    tm = MetricsBlock(laddr)
    if chain is None:
        if len(ns.tcp_metrics) >= MAX_REMOTES:
            del ns.tcp_metrics[next(iter(ns.tcp_metrics))]  # the oldest (tcpm_new's reclaim)
        ns.tcp_metrics[raddr] = [tm]
    else:
        chain.append(tm)
    return tm


def update_metrics(sk: TcpSock) -> None:
    """tcp_update_metrics, from tcp_time_wait and at LAST_ACK's end: a connection whose RTO
    backed off, or that never measured an RTT, resets the cached RTT to 0 (an entry is not
    made for it); otherwise a larger RTT replaces the cached one and a smaller one takes an
    eighth of the difference off it (an overestimate is the safer error)."""
    if sk.backoff or not sk.srtt:
        tm = get_metrics(sk.ns, sk.laddr, sk.raddr, False)
        if tm is not None:
            tm.rtt = 0
        return
    tm = get_metrics(sk.ns, sk.laddr, sk.raddr, True)
    assert tm is not None
    srtt = srtt_us8(sk)
    m = tm.rtt - srtt
    tm.rtt = srtt if m <= 0 else tm.rtt - (m >> 3)


def init_metrics(sk: TcpSock) -> bool:
    """tcp_init_metrics' RTO (from tcp_init_transfer, after the handshake's RTT sample): a
    cached RTT above the socket's own sets the RTO as tcp_rtt_estimator would from it
    (rtt + max(2 * rtt, the minimum RTO), in whole jiffies), leaving srtt and rttvar as the
    handshake left them. Makes the entry if there is none. Whether the cache set the RTO."""
    tm = get_metrics(sk.ns, sk.laddr, sk.raddr, True)
    assert tm is not None
    if tm.rtt <= srtt_us8(sk):
        return False
    crtt = tm.rtt // _US8_PER_JIFFY
    sk.rto = (crtt + max(2 * crtt, _RTO_MIN_J)) / HZ
    return True


def peer_is_proven(ns: NetNamespace, laddr: int, raddr: int) -> bool:
    """tcp_peer_is_proven: the cache holds a non-zero RTT for this pair of addresses."""
    tm = get_metrics(ns, laddr, raddr, False)
    return tm is not None and tm.rtt != 0
