"""Path MTU discovery (net/route.py, tcp/pmtu.py). The kernel's own answers for the main case
are tests/packetdrill/pmtu-frag-needed.pkt (both targets: the MSS and what is resent, the
Loss state, a larger MTU ignored, one under route.min_pmtu raised to it, a new connection's
SYN offering the learned MSS). Here: what a script cannot see."""

from __future__ import annotations

import states as S
from test_icmp import icmp
from tuxtcp.net.route import route_mtu
from tuxtcp.wire.tcp import ACK

FRAG_NEEDED = (3, 4)


def _frag_needed(c: S.Conn, mtu: int) -> None:
    seg = [p.seg for p in c.sent if p.seg.payload][0]
    c.h.ns.receive_bytes(icmp(c.h, *FRAG_NEEDED, seg.sport, seg.dport, seg.seq, mtu=mtu),
                         c.h.now)
    c.h.driver.kick(c.h.ns)


def _established_with_data_out(nbytes: int = 4000) -> S.Conn:
    c = S.established_active()
    c.take()
    c.sock.send(b"d" * nbytes)
    return c


def test_frag_needed_lowers_the_mss_and_resends_at_once() -> None:
    c = _established_with_data_out()
    first = c.take()
    assert {len(p.seg.payload) for p in first} == {1448, 1104}  # TS on: 1460 - 12
    _frag_needed(c, 1000)
    again = c.take()
    # at once, cwnd's worth, 1000 - 40 - 12 = 948 bytes a segment, DF still set
    assert again and all(len(p.seg.payload) <= 948 and p.df for p in again)
    assert again[0].seg.seq == first[0].seg.seq
    sk = c.sock.sk
    assert (sk.mss_cache, sk.pmtu_cookie, sk.ca_state) == (948, 1000, 4)
    assert route_mtu(c.h.ns, c.h.peer, c.h.now) == 1000
    counters = c.h.counters()
    assert counters["Icmp.InDestUnreachs"] == 1 and counters["Tcp.RetransSegs"] == len(again)


def test_below_min_pmtu_the_route_locks_and_drops_df() -> None:
    c = _established_with_data_out()
    c.take()
    _frag_needed(c, 300)
    again = c.take()
    assert c.sock.sk.pmtu_cookie == 552 and c.sock.sk.mss_cache == 552 - 40 - 12
    assert again and not any(p.df for p in again)  # ip_dont_fragment: the MTU is locked
    # a locked route learns nothing more until it expires
    _frag_needed(c, 540)
    assert c.sock.sk.pmtu_cookie == 552


def test_the_learned_mtu_expires_and_the_mss_grows_back() -> None:
    c = _established_with_data_out(1000)
    c.take()
    _frag_needed(c, 1200)
    c.take()
    assert c.sock.sk.mss_cache == 1200 - 52
    c.h.ns.sysctl["net.ipv4.route.mtu_expires"] = 600
    c.send(ACK, ack=c.sock.sk.snd_nxt)  # all acknowledged
    c.h.advance(c.h.now + 601)
    c.take()
    c.sock.send(b"e" * 3000)  # tcp_current_mss: the route is back to 1500
    out = c.take()
    assert c.sock.sk.pmtu_cookie == 1500 and max(len(p.seg.payload) for p in out) == 1448


def test_ip_no_pmtu_disc_2_ignores_the_message() -> None:
    c = _established_with_data_out()
    c.h.ns.sysctl["net.ipv4.ip_no_pmtu_disc"] = 2
    c.take()
    _frag_needed(c, 1000)
    assert c.take() == [] and c.sock.sk.mss_cache == 1448


def test_another_connection_to_the_peer_follows_the_route() -> None:
    """tcp_current_mss: a connection that did not get the message cuts its next data at the
    route's new MTU too."""
    h = S.Harness()
    a = S.established_active(h)
    a.take()
    b = S.established_active(h, dport=S.PEER_PORT + 1)
    b.take()
    a.sock.send(b"x" * 3000)
    a.take()
    _frag_needed(a, 1000)
    h.take()
    b.sock.send(b"y" * 3000)
    out = [p for p in h.take() if p.seg.dport == S.PEER_PORT + 1 and p.seg.flags & ACK]
    assert out and max(len(p.seg.payload) for p in out) == 948
