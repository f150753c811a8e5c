"""TCP memory accounting (issue 10: memory accounting per socket and per namespace).

Each socket holds whole pages of the namespace's tcp_memory_allocated: what it has queued
(receive queue, out-of-order truesize, sk_wmem_queued) rounded up to pages, the rest of the
last page being its forward allocation. `ss -m` shows it as skmem:(r,rb,t,tb,f,w,o,bl,d).
net.ipv4.tcp_mem sets three thresholds in pages: above the second the namespace is under
pressure (TCPMemoryPressures, once per episode; TCPMemoryPressuresChrono adds its length in ms
when it ends at or below the first), above the third nothing more is allocated: received data
is dropped (TCPRcvQDrop, PROTO_MEM) unless the receive queue is empty, and a writer waits."""

from __future__ import annotations

import socket

import pytest

import states as S
from tuxtcp.tcp.mem import PAGE_SIZE, SKB_OVERHEAD, skb_truesize, skmem
from tuxtcp.wire.tcp import ACK, PSH

M32 = 0xFFFFFFFF


def total_pages(c: S.Conn) -> int:
    ns = c.sock.sk.ns
    assert ns.tcp_memory_allocated == sum(sk.mem_pages for sk in ns.sockets)
    return ns.tcp_memory_allocated


def test_skmem_of_a_socket_with_unread_data() -> None:
    # each segment is charged its truesize as a TUN device builds it (6.18, measured with
    # SK_MEMINFO_RMEM_ALLOC): 1000 bytes in a 2 KiB kmalloc head plus the sk_buff, 5000 in
    # an 8 KiB page block plus the sk_buff
    c = S.established_active()
    c.take()
    sk = c.sock.sk
    r, rb, t, tb, f, w, o, bl, d = skmem(sk)
    assert (r, rb, t, f, w, o, bl, d) == (0, 131072, 0, 0, 0, 0, 0, 0)
    assert total_pages(c) == 0
    c.send(ACK | PSH, b"x" * 1000)
    assert skb_truesize(1040) == 2304
    assert skmem(sk)[0] == 2304 and skmem(sk)[4] == PAGE_SIZE - 2304
    assert total_pages(c) == 1
    c.send(ACK | PSH, b"y" * 5000)
    assert skb_truesize(5040) == 8448
    assert skmem(sk)[0] == 10752 and skmem(sk)[4] == 3 * PAGE_SIZE - 10752
    assert total_pages(c) == 3
    assert c.sock.recv(10000) == b"x" * 1000 + b"y" * 5000
    assert skmem(sk)[0] == 0 and skmem(sk)[4] == 0 and total_pages(c) == 0


def test_skmem_of_a_sender_facing_a_closed_window() -> None:
    c = S.established_active()
    c.take()
    sk = c.sock.sk
    c.send(ACK, window=0)
    c.sock.send(b"z" * 3000)  # nothing can leave: the bytes wait in the write queue
    w = skmem(sk)[5]
    segs = -(-3000 // sk.mss_cache)
    assert w == 3000 + segs * SKB_OVERHEAD
    assert skmem(sk)[4] == -(-w // PAGE_SIZE) * PAGE_SIZE - w


def test_ss_m_prints_skmem_under_each_socket() -> None:
    c = S.established_active()
    c.take()
    c.send(ACK | PSH, b"x" * 1000)
    text = c.h.ss("-tanm")
    assert "\n\t skmem:(r2304,rb131072,t0,tb" in text and ",f1792,w0,o0,bl0,d0)" in text


def test_drops_count_in_skmem() -> None:
    c = S.established_active()
    c.take()
    c.send(ACK | PSH, b"x" * 10, seq=(c.seq + 10_000_000) & M32)  # far outside the window
    assert skmem(c.sock.sk)[8] == 1


def test_pressure_then_the_hard_limit_then_relief() -> None:
    # tcp_mem 1 2 3 (pages), one socket, 1000-byte segments (2304 bytes of truesize each):
    # the first takes a page (at the low mark: no pressure), the second a second page, the
    # third fits in what is left of it; the fourth takes a third page (over the middle mark:
    # pressure, TCPMemoryPressures; allowed: its socket holds less than tcp_mem[2] / 1
    # socket; tcp_grow_window, under pressure, cuts rcv_ssthresh to four segments), the fifth
    # fits in it, the sixth would go over the hard limit: dropped (the receive queue is not
    # empty). Reading it all ends the pressure 2.5 s later.
    c = S.established_active()
    c.take()
    h = c.h
    h.sysctl["net.ipv4.tcp_mem"] = "1 2 3"
    sk = c.sock.sk
    ns = sk.ns
    assert len(ns.sockets) == 1
    pages = []
    for i in range(5):
        c.send(ACK | PSH, bytes([65 + i]) * 1000)
        pages.append(total_pages(c))
        if i == 2:
            assert h.counters()["TcpExt.TCPMemoryPressures"] == 0
            assert sk.rcv_ssthresh > 4 * sk.advmss
    assert pages == [1, 2, 2, 3, 3]
    counters = h.counters()
    assert counters["TcpExt.TCPMemoryPressures"] == 1
    nxt = c.seq
    out = c.send(ACK | PSH, b"F" * 1000)
    counters = h.counters()
    assert counters["TcpExt.TCPRcvQDrop"] == 1 and counters["TcpExt.RcvPruned"] == 0
    assert counters["TcpExt.PruneCalled"] == 1
    assert [(p.seg.ack, p.seg.window) for p in out] == [(nxt, 0)]  # dropped: ICSK_ACK_NOMEM
    assert sk.rcv_ssthresh == 4 * sk.advmss  # tcp_prune_queue under pressure cut it
    assert total_pages(c) == 3
    h.advance(h.now + 2.5)
    assert len(c.sock.recv(1 << 20)) == 5 * 1000
    counters = h.counters()
    assert total_pages(c) == 0
    assert counters["TcpExt.TCPMemoryPressuresChrono"] == 2500
    assert counters["TcpExt.TCPMemoryPressures"] == 1
    assert ns.tcp_memory_pressure < 0


def test_over_the_hard_limit_only_an_empty_queue_takes_data() -> None:
    # tcp_mem 0 0 0: the first segment is forced in (the receive queue was empty), and the
    # ACK offers a zero window (ICSK_ACK_NOMEM); the next at rcv_nxt ends past the closed
    # window while the receive queue holds data (tcp_sequence: TCP_INVALID_END_SEQUENCE,
    # BeyondWindow), its dupack reopens it; the retransmission fits in what is left of the
    # first segment's pages (forward allocation); one more page is refused: out of order,
    # TCPOFODrop; in order, TCPRcvQDrop (and a zero window again).
    c = S.established_active()
    c.take()
    c.h.sysctl["net.ipv4.tcp_mem"] = (0, 0, 0)
    nxt = c.seq
    out = c.send(ACK | PSH, b"a" * 4000)  # 4352 bytes of truesize: two pages
    assert [(p.seg.ack, p.seg.window) for p in out] == [((nxt + 4000) & M32, 0)]
    nxt = (nxt + 4000) & M32
    out = c.send(ACK | PSH, b"b" * 90, seq=nxt)
    assert [(p.seg.ack, p.seg.window > 0) for p in out] == [(nxt, True)]
    out = c.send(ACK | PSH, b"b" * 90, seq=nxt)  # 1280 bytes of truesize, in the 2nd page
    assert [p.seg.ack for p in out] == [(nxt + 90) & M32]
    nxt = (nxt + 90) & M32
    c.send(ACK | PSH, b"d" * 3000, seq=(nxt + 1000) & M32)  # needs another page: dropped
    assert c.h.counters()["TcpExt.TCPOFODrop"] == 1
    out = c.send(ACK | PSH, b"c" * 3000, seq=nxt)  # in order: dropped too
    assert [(p.seg.ack, p.seg.window) for p in out] == [(nxt, 0)]
    counters = c.h.counters()
    assert counters["TcpExt.BeyondWindow"] == 1
    assert c.h.ns.drops["TCP_INVALID_END_SEQUENCE"] == 1
    assert counters["TcpExt.TCPRcvQDrop"] == 1 and counters["TcpExt.TCPOFODrop"] == 1
    assert c.sock.recv(10000) == b"a" * 4000 + b"b" * 90


def test_over_the_hard_limit_a_writer_sends_one_segment_then_waits() -> None:
    c = S.established_active()
    c.take()
    c.h.sysctl["net.ipv4.tcp_mem"] = (0, 0, 0)
    c.sock.setblocking(False)
    mss = c.sock.sk.mss_cache
    assert c.sock.send(b"x" * (4 * mss)) == mss  # forced: nothing was queued
    c.take()
    with pytest.raises(BlockingIOError):  # more than the rest of its page
        c.sock.send(b"y" * (4 * mss))
    c.send(ACK, ack=c.nxt)  # acknowledged: the queues are empty again
    assert c.sock.send(b"y" * (4 * mss)) == mss


def test_tcp_mem_sysctl_takes_one_to_three_values() -> None:
    h = S.Harness()
    h.sysctl["net.ipv4.tcp_mem"] = "10 20 30"
    assert h.sysctl["net.ipv4.tcp_mem"] == (10, 20, 30)
    h.sysctl["net.ipv4.tcp_mem"] = "5"
    assert h.sysctl["net.ipv4.tcp_mem"] == (5, 20, 30)
    for bad in ("-1 2 3", "1 2 3 4", "x"):
        with pytest.raises(OSError):
            h.sysctl["net.ipv4.tcp_mem"] = bad
    assert h.sysctl.render("net.ipv4.tcp_mem") == "5\t20\t30"


def test_so_rcvbuf_default_is_tcp_rmem_1() -> None:
    c = S.established_active()
    assert c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 131072
