"""Passive open, packet by packet: SYN and accept queues, third ACK, timers.

Expected values are the kernel's, from ../shared/spec/linux-observed.md."""

import errno

import pytest

from helpers import Harness, is_rst, is_synack, syn
from states import (
    CLIENT_ISN,
    Listening,
    Request,
    accept_queue_len,
    established_table,
    handshake,
    listen,
    syn_queue_len,
    syn_recv,
)
from tuxtcp.wire.tcp import ACK, RST, SYN


def delta(h: Harness, before: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in h.delta(before).items()
            if not k.startswith(("Ip.", "Tcp.InSegs", "Tcp.OutSegs"))}


@pytest.mark.parametrize("backlog", [0, 1, 2, 5])
def test_accept_queue_holds_backlog_plus_one_then_drops_syn_silently(backlog: int) -> None:
    h = Harness()
    lst = listen(h, backlog=backlog)
    for i in range(backlog + 1):
        handshake(lst, 40000 + i)
    assert accept_queue_len(lst.sock) == backlog + 1
    before = h.counters()
    assert h.send(syn(50000)) == []  # silent drop: no SYN-ACK, no request
    assert syn_queue_len(h) == 0
    assert delta(h, before) == {"TcpExt.ListenOverflows": 1, "TcpExt.ListenDrops": 1}


def test_synack_contents_with_and_without_timestamps() -> None:
    lst = listen()
    p = syn_recv(listener=lst, ts=100).sent[0]
    s = p.seg
    assert (s.flags, s.window, s.mss, s.sack_perm, s.wscale, s.tsecr) == (
        SYN | ACK, 65160, 1460, True, 10, 100)  # scale 10: tcp_rmem[2] is 32 MiB (6.18)
    assert p.ttl == 64 and p.ip_id == 0 and p.df
    assert s.options_bytes()[:8] == bytes.fromhex("020405b40402080a")  # MSS, SACK_PERM, TS..
    s2 = syn_recv(listener=lst, sport=40001, ts=None).sent[0].seg
    assert s2.window == 64240 and s2.tsval is None


def test_syn_queue_holds_backlog_plus_one_then_cookies() -> None:
    h = Harness()
    h.listener(backlog=2)
    before = h.counters()
    for i in range(3):
        assert is_synack(h.send(syn(40000 + i))[0])
    assert syn_queue_len(h) == 3
    out = h.send(syn(40010))
    assert is_synack(out[0]) and syn_queue_len(h) == 3  # a cookie: nothing stored
    assert delta(h, before) == {"TcpExt.TCPReqQFullDoCookies": 1, "TcpExt.SyncookiesSent": 1}
    assert "Possible SYN flooding on port 0.0.0.0:8080. Sending cookies." in h.dmesg()


def test_syn_queue_full_without_cookies_drops() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_syncookies"] = 0
    h.listener(backlog=2)
    for i in range(3):
        h.send(syn(40000 + i))
    before = h.counters()
    assert h.send(syn(40010)) == []
    assert syn_queue_len(h) == 3
    assert delta(h, before) == {"TcpExt.TCPReqQFullDrop": 1, "TcpExt.ListenDrops": 1}
    assert "Dropping request." in h.dmesg()


@pytest.mark.parametrize("max_syn_backlog,kept", [(8, 7), (64, 49)])
def test_three_quarter_rule_with_cookies_off(max_syn_backlog: int, kept: int) -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_syncookies"] = 0
    h.sysctl["net.ipv4.tcp_max_syn_backlog"] = max_syn_backlog
    h.listener(backlog=1000)
    for i in range(kept + 5):
        h.send(syn(40000 + i))
    assert syn_queue_len(h) == kept
    assert h.counter("ListenDrops") == 5
    assert h.counter("TCPReqQFullDrop") == 0


def test_syncookies_2_cookies_every_syn() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_syncookies"] = 2
    h.listener(backlog=5)
    for i in range(4):
        assert is_synack(h.send(syn(40000 + i))[0])
    assert syn_queue_len(h) == 0
    assert h.counter("TCPReqQFullDoCookies") == 4 and h.counter("SyncookiesSent") == 4
    assert h.dmesg() == ""  # no warning with syncookies=2


def _fill_then_overflow(h: Harness, abort: int) -> tuple[Listening, list[Request]]:
    """listen(2): two handshakes done, then 3 SYNs get SYN-ACKs (their ACKs follow)."""
    h.sysctl["net.ipv4.tcp_abort_on_overflow"] = abort
    lst = listen(h, backlog=2)
    for sport in (21000, 21001):
        handshake(lst, sport)
    return lst, [syn_recv(listener=lst, sport=22000 + i) for i in range(3)]


def test_third_ack_overflow_abort_0_keeps_request_and_resends_synack() -> None:
    h = Harness()
    lst, reqs = _fill_then_overflow(h, 0)
    ls = lst.sock
    before = h.counters()
    outs = [r.complete() for r in reqs]
    assert outs == [[], [], []]
    assert accept_queue_len(ls) == 3 and syn_queue_len(h) == 2
    assert delta(h, before) == {"TcpExt.ListenOverflows": 2, "TcpExt.ListenDrops": 2,
                                "Tcp.PassiveOpens": 1, "Tcp.CurrEstab": 1,
                                "TcpExt.TCPPureAcks": 1}
    sent = h.advance(3.5)
    times = sorted({round(t, 3) for t, p in sent if is_synack(p)})
    assert times == [1.0, 3.0]  # acked requests keep retransmitting SYN-ACKs
    # accept() makes room; the client's ACK to a resent SYN-ACK completes it
    ls.accept()
    assert reqs[1].complete() == []
    assert accept_queue_len(ls) == 3 and syn_queue_len(h) == 1


def test_third_ack_overflow_abort_1_resets() -> None:
    h = Harness()
    _, reqs = _fill_then_overflow(h, 1)
    before = h.counters()
    outs = [r.complete() for r in reqs]
    assert outs[0] == []
    for out, r in zip(outs[1:], reqs[1:], strict=True):
        assert r.synack is not None
        assert len(out) == 1 and out[0].seg.flags == RST and out[0].seg.seq == r.synack.seq + 1
    assert syn_queue_len(h) == 0
    d = delta(h, before)
    assert d["TcpExt.EmbryonicRsts"] == 2 and d["Tcp.OutRsts"] == 2
    assert d["TcpExt.ListenOverflows"] == 2 and d["TcpExt.ListenDrops"] == 2


def test_synack_retransmission_schedule_and_expiry() -> None:
    h = Harness()
    first = syn_recv(h).sent[0].seg
    sent = h.advance(70.0)
    times = [round(t, 6) for t, p in sent if is_synack(p)]
    assert times == [1.0, 3.0, 7.0, 15.0, 31.0]
    assert all(p.seg.seq == first.seq for _, p in sent)  # same ISN
    assert [p.seg.tsval for _, p in sent] == sorted(p.seg.tsval for _, p in sent)
    assert syn_queue_len(h) == 0 and not established_table(h)  # dropped at 63 s, silently
    assert not any(is_rst(p) for _, p in sent)
    assert h.counter("TCPTimeouts") == 6 and h.counter("TCPSynRetrans") == 5


def test_synack_retries_2() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_synack_retries"] = 2
    syn_recv(h)
    sent = h.advance(6.99)
    assert [round(t, 6) for t, _ in sent] == [1.0, 3.0]
    assert syn_queue_len(h) == 1
    h.advance(7.0)
    assert syn_queue_len(h) == 0


def test_young_pruning_cuts_retries_when_queue_is_over_half_full() -> None:
    # listen(8), 9 requests: once none is young, qlen >= young<<k cuts max_retries to 2, so the
    # first five to fire at 7 s expire; with qlen down to 4 the queue is no longer over half
    # full and the other four get the full 1, 3, 7, 15, 31 s schedule. Timers sharing a tick
    # fire last-armed first (net/timers.firing_order): at 1 s the requests fire 8..0 and are
    # re-armed in that order, at 3 s 0..8, at 7 s 8..0 again, so 8..4 are the five cut short.
    h = Harness()
    lst = listen(h, backlog=8)
    for i in range(9):
        syn_recv(listener=lst, sport=40000 + i)
    sent = h.advance(100.0)
    per_flow = {}
    for t, p in sent:
        per_flow.setdefault(p.seg.dport, []).append(round(t, 3))
    short, full = [1.0, 3.0], [1.0, 3.0, 7.0, 15.0, 31.0]
    assert [per_flow[40000 + i] for i in range(9)] == [full] * 4 + [short] * 5
    assert syn_queue_len(h) == 0


def test_retransmitted_syn_gets_synack_again_rate_limited() -> None:
    h = Harness()
    h.listener()
    s = syn(40000)
    h.send(s)
    h.advance(0.6)
    assert is_synack(h.send(s)[0])
    h.advance(0.7)
    assert h.send(s) == []  # within tcp_invalid_ratelimit (500 ms) of the last one
    assert h.counter("TCPACKSkippedSynRecv") == 1


def test_bad_ack_for_request_gets_rst_with_seq_of_ack() -> None:
    r = syn_recv()
    sa = r.sent[0].seg
    out = r.send(ack=sa.seq + 5)
    assert len(out) == 1 and out[0].seg.flags == RST and out[0].seg.seq == sa.seq + 5


def test_out_of_window_segment_for_request_gets_ack() -> None:
    r = syn_recv()
    sa = r.sent[0].seg
    out = r.send(seq=CLIENT_ISN + 1 + 200000)
    assert len(out) == 1 and out[0].seg.flags == ACK
    assert out[0].seg.seq == sa.seq + 1 and out[0].seg.ack == 1001


def test_rst_for_request_is_embryonic_reset() -> None:
    h = Harness()
    r = syn_recv(h)
    sa = r.sent[0].seg
    out = r.send(RST)
    assert out == [] and syn_queue_len(h) == 0
    assert h.counter("EmbryonicRsts") == 1 and h.counter("AttemptFails") == 1
    assert sa.flags == SYN | ACK


def test_closing_listener_resets_queued_children() -> None:
    h = Harness()
    lst = listen(h)
    for sport in (40000, 40001):
        handshake(lst, sport)
    lst.sock.close()
    out = h.take()
    assert len(out) == 2 and all(p.seg.flags == RST | ACK for p in out)
    assert h.counter("OutRsts") == 2


def test_accept_is_fifo_and_nonblocking_accept_raises_eagain() -> None:
    lst = listen()
    ls = lst.sock
    ls.setblocking(False)
    with pytest.raises(BlockingIOError) as e:
        ls.accept()
    assert e.value.errno == errno.EAGAIN
    for p in (40000, 40001, 40002):
        handshake(lst, p)
    assert [ls.accept()[1][1] for _ in range(3)] == [40000, 40001, 40002]


def test_defer_accept_drops_bare_ack() -> None:
    import socket

    h = Harness()
    s = h.socket()
    s.bind(("0.0.0.0", 8080))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) == 7  # 3 retransmits
    s.listen(5)
    r = syn_recv(listener=Listening(h, s, 8080))
    assert r.complete() == []
    assert syn_queue_len(h) == 1 and h.counter("TCPDeferAcceptDrop") == 1
    r.send(ACK, b"GET /")
    assert accept_queue_len(s) == 1
