"""The TCP metrics cache (tcp/metrics.py) by tcp_metrics.c's rules. Its effect on the wire is
pinned on both targets by tests/packetdrill/metrics-rtt-seeds-rto.pkt (a connection's RTO
from the previous connection's RTT)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tuxtcp.net.namespace import NetNamespace
from tuxtcp.net.sysctl import HZ
from tuxtcp.tcp.lifecycle import new_sock
from tuxtcp.tcp.metrics import (
    get_metrics,
    init_metrics,
    peer_is_proven,
    srtt_us8,
    update_metrics,
)
from tuxtcp.tcp.sock import TcpSock
from tuxtcp.wire.ipv4 import ip_to_int

LOCAL, PEER = ip_to_int("198.18.0.1"), ip_to_int("198.18.0.2")


def _ended(ns: NetNamespace, srtt: float, backoff: int = 0) -> TcpSock:
    sk = new_sock(ns)
    sk.laddr, sk.raddr, sk.srtt, sk.backoff = LOCAL, PEER, srtt, backoff
    update_metrics(sk)
    return sk


def _rtt(ns: NetNamespace) -> int:
    tm = get_metrics(ns, LOCAL, PEER, False)
    assert tm is not None
    return tm.rtt


def test_a_larger_rtt_replaces_the_cached_one_and_a_smaller_one_takes_an_eighth_off() -> None:
    ns = NetNamespace("m", ["198.18.0.1"])
    _ended(ns, 0.040)
    assert _rtt(ns) == 320_000  # srtt_us: 40,000 us times 8
    _ended(ns, 1.040)
    assert _rtt(ns) == 8_320_000
    _ended(ns, 0.040)
    assert _rtt(ns) == 8_320_000 - (8_000_000 >> 3)
    assert peer_is_proven(ns, LOCAL, PEER)
    assert not peer_is_proven(ns, PEER, LOCAL)  # the pair, not the destination alone
    assert not peer_is_proven(ns, LOCAL + 1, PEER)  # another local address, same remote


def test_a_connection_whose_rto_backed_off_resets_the_rtt_and_makes_no_entry() -> None:
    ns = NetNamespace("m", ["198.18.0.1"])
    _ended(ns, 0.040, backoff=1)
    assert ns.tcp_metrics == {}
    _ended(ns, 0.040)
    _ended(ns, 0.040, backoff=1)
    assert _rtt(ns) == 0
    assert not peer_is_proven(ns, LOCAL, PEER)


@given(cached_ms=st.integers(1, 5000), own_ms=st.integers(1, 5000))
def test_the_first_rto_comes_from_the_cache_only_when_the_cached_rtt_is_larger(
        cached_ms: int, own_ms: int) -> None:
    ns = NetNamespace("m", ["198.18.0.1"])
    _ended(ns, cached_ms / 1000)
    sk = new_sock(ns)
    sk.laddr, sk.raddr, sk.srtt, sk.rto = LOCAL, PEER, own_ms / 1000, 0.123
    seeded = init_metrics(sk)
    assert seeded == (cached_ms > own_ms)
    if seeded:
        crtt = srtt_us8(_ended(NetNamespace("n", ["198.18.0.1"]), cached_ms / 1000)) // 32_000
        assert round(sk.rto * HZ) == crtt + max(2 * crtt, 50)
    else:
        assert sk.rto == 0.123
