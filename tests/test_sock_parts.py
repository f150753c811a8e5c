"""The parts of a socket that are allocated on first use (issue 9: leaner objects): the SACK
scoreboard appears with the first SACK and goes back once everything is acknowledged; a request
sock is its own SYN-ACK timer and keeps its 4-tuple as its ehash key; the SYN queue is a count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import states as S
from tuxtcp.net.sock_common import SockCommon
from tuxtcp.tcp.ehash import _key, entries, insert, lookup, remove
from tuxtcp.tcp.reqsk import RequestSock
from tuxtcp.tcp.sock import EMPTY_SCOREBOARD
from tuxtcp.wire.tcp import ACK, RST, SYN


def test_scoreboard_comes_with_the_first_sack_and_goes_when_all_is_acknowledged() -> None:
    c = S.established_active()
    sk = c.sock.sk  # white box: which object the socket holds
    assert sk.sack is EMPTY_SCOREBOARD
    c.sock.setsockopt(6, 1, 1)  # TCP_NODELAY: four segments leave at once
    for _ in range(4):
        c.sock.send(b"x" * 1000)
    out = c.take()
    assert [len(p.seg.payload) for p in out] == [1000] * 4
    first = out[0].seg.seq
    # the peer lost the first segment and SACKs the other three: a dupack with a SACK block
    c.send(ACK, ack=first, sack=(((first + 1000) & 0xFFFFFFFF, (first + 4000) & 0xFFFFFFFF),))
    assert sk.sack is not EMPTY_SCOREBOARD
    assert c.sock.tcp_info().tcpi_sacked == 3
    assert (sk.sack.sacked_out, sk.sack.high_sacked) == (3, (first + 4000) & 0xFFFFFFFF)
    c.send(ACK, ack=(first + 4000) & 0xFFFFFFFF)
    assert sk.sack is EMPTY_SCOREBOARD and c.sock.tcp_info().tcpi_sacked == 0
    assert EMPTY_SCOREBOARD.empty()


def test_request_is_its_own_timer_keyed_by_its_packed_four_tuple() -> None:
    req = S.syn_recv()
    assert [p.seg.flags for p in req.sent] == [SYN | ACK]
    requests = [o for o in entries(req.h.ns) if isinstance(o, RequestSock)]
    assert len(requests) == 1
    r = requests[0]
    assert (r.local, r.remote) == ((r.laddr << 16) | r.lport, (r.raddr << 16) | r.rport)
    assert (r.lport, r.rport) == (S.LISTEN_PORT, S.CLIENT_PORT)
    assert lookup(req.h.ns, r.local, r.remote) is r
    assert r.pending and S.timer_expires(req.h, S.LISTEN_PORT, S.CLIENT_PORT) == r.when
    # the SYN-ACK timer fires at its deadline and re-arms the same object (1 s, then 2 s)
    first = r.when
    out = req.advance(first)
    assert [p.seg.flags for _, p in out] == [SYN | ACK]
    assert r.pending and r.when > first and lookup(req.h.ns, r.local, r.remote) is r
    assert S.syn_queue_len(req.h) == 1


def test_listener_close_leaves_its_requests_to_their_timers() -> None:
    """inet_csk_listen_stop does not walk the SYN queue: the requests stay in ehash until
    their SYN-ACK timer fires (reqsk_timer_handler: the listener no longer listens -> drop,
    nothing sent) or a segment finds them. The other listener's request is untouched."""
    a = S.listen()
    S.syn_recv(None, a, sport=40001)
    S.syn_recv(None, a, sport=40002)
    b = S.listen(a.h, port=8081)
    S.syn_recv(None, b, sport=40003)
    ns = a.h.ns
    assert sum(isinstance(o, RequestSock) for o in entries(ns)) == 3
    a.sock.close()
    assert sum(isinstance(o, RequestSock) for o in entries(ns)) == 3
    sent = a.h.advance(a.h.now + 1.0)
    assert [p.seg.dport for _, p in sent] == [40003]  # only b's request retransmits
    left = [o for o in entries(ns) if isinstance(o, RequestSock)]
    assert [r.rport for r in left] == [40003] and left[0].pending
    assert S.syn_queue_len(a.h, 8081) == 1


def test_a_segment_for_a_closed_listeners_request_is_looked_up_again() -> None:
    """tcp_v4_rcv: the request's listener no longer listens -> the request goes and the
    segment is looked up again: no socket now, so the third ACK draws a RST (NO_SOCKET)."""
    a = S.listen()
    r = S.syn_recv(None, a, sport=40001)
    a.sock.close()
    out = r.complete()
    assert [p.seg.flags for p in out] == [RST]
    assert not any(isinstance(o, RequestSock) for o in entries(a.h.ns))
    assert dict(a.h.ns.drops) == {"NO_SOCKET": 1}


# (ends drawn from a few addresses and ports, so that remote ends are shared and entries
# replaced; the extremes of each field included)
_END_ADDR = st.sampled_from([0, 1, 0xC6120001, 0xC6120002, 0x7F000001, 0xFFFFFFFF])
_END_PORT = st.sampled_from([0, 1, 80, 8080, 40000, 65535])
_OPS = st.lists(st.tuples(st.sampled_from(["insert", "remove", "remove_other"]),
                          _END_ADDR, _END_PORT, _END_ADDR, _END_PORT), max_size=60)


@given(_OPS)
def test_the_established_table_answers_as_a_dict_keyed_by_the_four_tuple(
        ops: list[tuple[str, int, int, int, int]]) -> None:
    # one key folded from both ends (a chain where 4-tuples share it) and no 96-bit key:
    # after any inserts (a later one replacing), removes of the entry there and removes of
    # an entry that is not there, every 4-tuple finds what a dict would, all entries listed
    ns = S.listen().h.ns
    ns.ehash.clear()
    model: dict[tuple[int, int, int, int], object] = {}
    for op, laddr, lport, raddr, rport in ops:
        local, remote = (laddr << 16) | lport, (raddr << 16) | rport
        four = (laddr, lport, raddr, rport)
        if op == "insert":
            obj = SockCommon(laddr, lport, raddr, rport, 0)
            insert(ns, obj, local, remote)
            model[four] = obj
        elif op == "remove":
            there = model.pop(four, None)
            if there is None:
                there = SockCommon(laddr, lport, raddr, rport, 0)
                assert not remove(ns, there, local, remote)
            else:
                assert remove(ns, there, local, remote)
        else:  # an entry of the same 4-tuple that is not the one hashed: left alone
            assert not remove(ns, SockCommon(laddr, lport, raddr, rport, 0), local, remote)
        for (la, lp, ra, rp), want in model.items():
            assert lookup(ns, (la << 16) | lp, (ra << 16) | rp) is want
        assert lookup(ns, local, remote) is model.get(four)
        listed = entries(ns)
        assert len(listed) == len(model) and set(map(id, listed)) == set(map(id, model.values()))


@given(st.floats(min_value=-10.0, max_value=1000.0, allow_nan=False))
def test_usecs_to_jiffies_rounds_up_as_it_did_with_negated_floor_division(seconds: float) -> None:
    # rto._jiffies goes through net.clock.usecs_to_jiffies (no product, which compiled is slow
    # for a negative operand): the same jiffies as max(0, ceil) by negated floor division
    from tuxtcp.net.sysctl_specs import HZ
    from tuxtcp.tcp.rto import _jiffies

    assert _jiffies(seconds) == max(0, -(-round(seconds * 1_000_000) * HZ // 1_000_000))


@given(st.integers(min_value=-(1 << 40), max_value=1 << 40))
def test_usecs_to_jiffies_is_the_rounded_up_quotient(us: int) -> None:
    # the one usecs_to_jiffies (CUBIC's delay_min, RACK's reordering timer, the RTO's):
    # ceil(us * HZ / 10**6) for any sign
    from tuxtcp.net.clock import usecs_to_jiffies
    from tuxtcp.net.sysctl_specs import HZ

    assert usecs_to_jiffies(us) == -(-us * HZ // 1_000_000)


_ADDR = st.one_of(st.integers(min_value=0, max_value=0xFFFFFFFF),
                  st.integers(min_value=0x7F000000, max_value=0x7FFFFFFF),  # 127/8
                  st.integers(min_value=0xC6120000, max_value=0xC613FFFF),  # 198.18/15
                  st.integers(min_value=0xC6120000, max_value=0xC61201FF))  # a bitmap's span


@given(st.lists(_ADDR, max_size=6), st.lists(_ADDR, max_size=3), st.lists(_ADDR, max_size=20))
def test_is_local_is_membership_or_loopback(first: list[int], added: list[int],
                                            probes: list[int]) -> None:
    # owns()'s shortcuts (the span of the addresses, the primary address, the bitmap of a
    # span up to 64 Ki addresses wide) decide as the set does, and is_local as the set and
    # 127/8, before and after addresses are added
    from tuxtcp.net.namespace import NetNamespace
    from tuxtcp.wire.ipv4 import int_to_ip, is_loopback

    ns = NetNamespace("t", [int_to_ip(a) for a in first])
    for a in added:
        ns.add_address(int_to_ip(a))
    near = [a + d for a in [*first, *added] for d in (-1, 1)]  # in a span, not ours
    for a in [*probes, *first, *added, *near, ns.primary, 0x7F000001]:
        assert ns.owns(a) == (a in ns.addresses)
        assert ns.is_local(a) == (a in ns.addresses or is_loopback(a))


@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
       st.integers(0, 0xFFFF), st.integers(0, 3), st.integers(0, 0xFFFF))
def test_four_tuples_folding_to_one_key_share_a_chain(
        laddr: int, lport: int, raddr: int, rport: int, flip: int, lport2: int) -> None:
    # a second 4-tuple made to fold to the first one's key (its local address differs in the
    # low two bits, its remote end makes up the difference): both are found, each removal
    # takes its own, the last one left goes back in the chain's place
    local, remote = (laddr << 16) | lport, (raddr << 16) | rport
    local2 = ((laddr ^ flip) << 16) | lport2
    remote2 = remote ^ _key(local, 0) ^ _key(local2, 0)
    assert remote2 < 1 << 48 and _key(local2, remote2) == _key(local, remote)
    if (local2, remote2) == (local, remote):
        return
    ns = S.listen().h.ns
    ns.ehash.clear()
    a = SockCommon(local >> 16, local & 0xFFFF, remote >> 16, remote & 0xFFFF, 0)
    b = SockCommon(local2 >> 16, local2 & 0xFFFF, remote2 >> 16, remote2 & 0xFFFF, 0)
    insert(ns, a, local, remote)
    insert(ns, b, local2, remote2)
    assert len(ns.ehash) == 1
    assert lookup(ns, local, remote) is a and lookup(ns, local2, remote2) is b
    assert entries(ns) == [a, b]
    assert not remove(ns, SockCommon(local >> 16, local & 0xFFFF, remote >> 16,
                                     remote & 0xFFFF, 0), local, remote)
    assert remove(ns, a, local, remote)
    assert lookup(ns, local, remote) is None and lookup(ns, local2, remote2) is b
    assert list(ns.ehash.values()) == [b]
    assert remove(ns, b, local2, remote2) and not ns.ehash
