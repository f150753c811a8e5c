"""The receive side as Linux bounds it (issue 10; tcp_input.c: tcp_data_queue,
tcp_data_queue_ofo, tcp_try_rmem_schedule, tcp_prune_ofo_queue; tcp_output.c:
tcp_select_window). A peer that ignores our window cannot make the receive queue or the
out-of-order queue grow past what was offered and what rcvbuf allows. Each test states the
segments in, the segments out and the counters and drop reasons, as the kernel code gives them.

Our socket here: a passive open with tcp_rmem "4096 131072 6291456" (the default before 6.18,
as in tests/packetdrill/receive-window-beyond.pkt; our SYN-ACK offered 65,160 bytes,
unscaled; our later segments scale by 7), an application that never reads."""

from __future__ import annotations

import socket

import states as S
from helpers import Harness
from tuxtcp.tcp.mem import skb_truesize
from tuxtcp.tcp.receive import rmem_alloc
from tuxtcp.wire.tcp import ACK, PSH

SYNACK_WINDOW = 65160  # tcp_select_initial_window for MSS 1460 with timestamps
M32 = 0xFFFFFFFF


def drops(h: Harness) -> dict[str, int]:
    return dict(h.ns.drops)


def conn() -> S.Conn:
    h = Harness()
    h.sysctl["net.ipv4.tcp_rmem"] = "4096 131072 6291456"
    c = S.established_passive(h)
    assert c.sent[0].seg.window == SYNACK_WINDOW
    c.take()
    return c


def test_in_order_data_past_the_window_is_dropped_beyond_window() -> None:
    """The issue's peer: 400 in-order segments of 32 KiB back to back, to an application
    that never reads. Each costs 37,120 bytes of truesize (scaling ratio 225/256). The first
    is taken and ACKed at once (quickack), offering 646 << 7: rcv_ssthresh grew to the free
    space. The second is taken; less than half the clamp is free now, which ends quickack
    mode, and the smaller window waits for the delayed ACK. The third fits in the window
    (65536..98304 within 115456) and is taken. The fourth ends past the right edge while the
    receive queue holds data: tcp_sequence drops it (TCP_INVALID_END_SEQUENCE, 6.17+) with a
    dupack offering the free space (135 << 7); the others start past the edge
    (TCP_INVALID_SEQUENCE), each with a dupack (data segments are never rate-limited:
    tcp_oow_rate_limited); BeyondWindow counts both kinds. Retransmissions at rcv_nxt still
    end past the edge. The first five segments are tests/packetdrill/receive-window.pkt,
    which passes on both targets."""
    c = conn()
    base = c.seq
    chunk = b"z" * 32768
    answers = [c.send(ACK | PSH, chunk, seq=(base + i * len(chunk)) & M32) for i in range(400)]
    taken = (base + 3 * 32768) & M32
    assert [(p.seg.ack, p.seg.window) for p in answers[0]] == [((base + 32768) & M32, 646)]
    assert answers[1] == answers[2] == []
    assert all([(p.seg.ack, p.seg.window) for p in out] == [(taken, 135)]
               for out in answers[3:])
    h = c.h
    assert drops(h) == {"TCP_INVALID_END_SEQUENCE": 1, "TCP_INVALID_SEQUENCE": 396}
    for _ in range(10):
        out = c.send(ACK | PSH, chunk, seq=taken)
        assert [(p.seg.ack, p.seg.window) for p in out] == [(taken, 135)]
    assert drops(h) == {"TCP_INVALID_END_SEQUENCE": 11, "TCP_INVALID_SEQUENCE": 396}
    counters = h.counters()
    assert counters["TcpExt.BeyondWindow"] == 407
    assert counters["TcpExt.TCPACKSkippedSeq"] == 0
    assert rmem_alloc(c.sock.sk) == 3 * skb_truesize(32768 + 52) == 111360
    assert len(c.sock.recv(1 << 20)) == 3 * 32768  # not 13 MB


def test_out_of_order_segment_at_the_right_edge_is_dropped_overwindow() -> None:
    """tcp_data_queue: a segment starting at rcv_nxt + window (a zero-window probe, say) is
    out of window: dropped with TCP_OVERWINDOW and ACKed; one starting beyond the edge never
    gets there (tcp_sequence: TCP_INVALID_SEQUENCE, a dupack)."""
    c = conn()
    nxt = c.seq
    out = c.send(ACK | PSH, b"edge", seq=(nxt + SYNACK_WINDOW) & M32)
    assert [(p.seg.flags, p.seg.ack, p.seg.sack) for p in out] == [(ACK, nxt, ())]
    assert drops(c.h) == {"TCP_OVERWINDOW": 1}
    # that ACK offered the whole free space, scaled: 65160 rounded up to 510 << 7
    assert out[0].seg.window == 510
    out = c.send(ACK | PSH, b"far", seq=(nxt + (510 << 7) + 1) & M32)
    assert [(p.seg.flags, p.seg.ack, p.seg.sack) for p in out] == [(ACK, nxt, ())]
    assert drops(c.h) == {"TCP_OVERWINDOW": 1, "TCP_INVALID_SEQUENCE": 1}
    assert c.h.counters()["TcpExt.TCPOFOQueue"] == 0


def test_overlapping_out_of_order_flood_stays_within_rcvbuf() -> None:
    """1,500 out-of-order segments of 60,000 bytes, each one byte further on, all inside the
    window: each overlaps the others but none is covered by one already queued, so each is
    queued while its payload fits under rcvbuf with what is charged (tcp_can_ingest; 61,696
    bytes of truesize each: two); from then on tcp_prune_ofo_queue finds nothing above the
    arriving segment to drop, and the segment is dropped (TCPOFODrop, TCP_OFO_DROP).
    (The kernel also D-SACKs the overlap, which tuxtcp does not yet; the same flood without
    overlaps matches the kernel's windows, rcvbuf and rmem_alloc: receive-window.pkt.)"""
    c = conn()
    sk = c.sock.sk  # white box: the charged memory
    nxt = c.seq
    data = b"o" * 60000
    for i in range(1500):
        out = c.send(ACK | PSH, data, seq=(nxt + 1 + i) & M32)
        assert [p.seg.ack for p in out] == [nxt]  # each is ACKed at once (out of order)
    per_seg = skb_truesize(len(data) + 52)
    assert per_seg == 61696
    assert rmem_alloc(sk) == 2 * per_seg <= sk.rcvbuf == 131072
    counters = c.h.counters()
    assert counters["TcpExt.TCPOFOQueue"] == 2
    assert counters["TcpExt.TCPOFODrop"] == 1498
    assert counters["TcpExt.PruneCalled"] == counters["TcpExt.RcvPruned"] == 1498
    assert counters["TcpExt.OfoPruned"] == 0
    assert drops(c.h) == {"TCP_OFO_DROP": 1498}


def test_in_order_data_prunes_the_out_of_order_queue_from_the_top() -> None:
    """With the out-of-order queue holding what rcvbuf allows, in-sequence data makes room:
    tcp_prune_ofo_queue drops out-of-order segments from the highest sequence down
    (OfoPruned), and the in-sequence segment is queued."""
    c = conn()
    sk = c.sock.sk
    nxt = c.seq
    data = b"o" * 60000
    for i in range(4):  # two fit in rcvbuf (tcp_rmem[1], 131072); the next two are dropped
        c.send(ACK | PSH, data, seq=(nxt + 100 + i) & M32)
    assert rmem_alloc(sk) == 2 * skb_truesize(len(data) + 52)
    c.send(ACK | PSH, b"i" * 30000, seq=nxt)
    counters = c.h.counters()
    assert counters["TcpExt.TCPOFODrop"] == 2
    assert counters["TcpExt.PruneCalled"] == 3 and counters["TcpExt.OfoPruned"] == 1
    assert counters["TcpExt.RcvPruned"] == 2
    assert rmem_alloc(sk) <= sk.rcvbuf
    assert c.sock.recv(1 << 20)[:30000] == b"i" * 30000


def test_out_of_order_segment_covered_by_one_held_is_merged_and_a_covering_one_replaces() -> None:
    """tcp_data_queue_ofo: a segment inside one already queued: all the bits are present
    (TCPOFOMerge, TCP_OFOMERGE; TCPOFOQueue counts it first); one covering queued segments
    replaces them (one TCPOFOMerge each)."""
    c = conn()
    sk = c.sock.sk
    nxt = c.seq
    c.send(ACK | PSH, b"a" * 100, seq=(nxt + 10) & M32)
    c.send(ACK | PSH, b"b" * 10, seq=(nxt + 50) & M32)  # inside [10, 110)
    assert drops(c.h) == {"TCP_OFOMERGE": 1}
    counters = c.h.counters()
    assert (counters["TcpExt.TCPOFOQueue"], counters["TcpExt.TCPOFOMerge"]) == (2, 1)
    c.send(ACK | PSH, b"c" * 10, seq=(nxt + 200) & M32)
    c.send(ACK | PSH, b"d" * 300, seq=(nxt + 5) & M32)  # covers both queued segments
    counters = c.h.counters()
    assert counters["TcpExt.TCPOFOMerge"] == 3
    assert sorted((q - nxt) & M32 for q in sk.ooo) == [5]
    out = c.send(ACK | PSH, b"e" * 5, seq=nxt)
    assert [p.seg.ack for p in out] == [(nxt + 305) & M32]
    assert c.sock.recv(1000) == b"e" * 5 + b"d" * 300


def test_the_offered_window_never_shrinks() -> None:
    """tcp_select_window: after SO_RCVBUF shrinks the buffer, the next ACK still offers what
    is left of the window already offered (rounded up to the scale), not less."""
    c = conn()
    nxt = c.seq
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    out = c.send(ACK | PSH, b"x" * 1000, seq=nxt)
    out += c.take() + [p for _, p in c.advance(c.h.now + 0.5)]
    acks = [p.seg for p in out if p.seg.ack == (nxt + 1000) & M32]
    assert acks, out
    # free space now: 4096 - 1000 bytes; what is left of the offer: 65160 - 1000
    assert acks[0].window == (SYNACK_WINDOW - 1000 + 127) >> 7 == 502
    assert c.h.counters()["TcpExt.TCPWantZeroWindowAdv"] == 0


def test_receiver_silly_window_avoidance_offers_zero_below_one_segment() -> None:
    """__tcp_select_window: once less free space than the peer's segment size (rcv_mss, 1448
    here) is left, the window to offer is zero rather than a sliver; the offer already made
    is never taken back, so it shows as TCPWantZeroWindowAdv. rcvbuf 16384 (SO_RCVBUF 8192),
    2304 bytes of truesize per segment at a scaling ratio of 160/256: after 6 unread segments
    1536 bytes of window are free (the window to offer), after 7 only 160 (zero). The ACKs
    offer what is left of the first window all along; from the fifth segment on they wait
    for the delayed-ACK timer (the window would shrink). As the kernel does it (the same
    segments on 6.18: the same windows, TCPWantZeroWindowAdv at the seventh)."""
    c = conn()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    want = []
    windows = []
    for _ in range(7):
        out = c.send(ACK | PSH, b"d" * 1448)
        out += [p for _, p in c.advance(c.h.now + 0.2)]  # the delayed ACK, if any, goes
        windows.append([p.seg.window for p in out])
        want.append(c.h.counters()["TcpExt.TCPWantZeroWindowAdv"])
    assert windows == [[498], [487], [476], [465], [454], [443], [432]]
    assert want == [0, 0, 0, 0, 0, 0, 1]
