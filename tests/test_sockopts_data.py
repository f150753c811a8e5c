"""Delayed ACK, Nagle/TCP_NODELAY, TCP_CORK, TCP_CONGESTION, SO_*BUF and makefile."""

import socket

import pytest

from helpers import Harness
from states import connected, established, pair
from tuxtcp.wire.tcp import ACK, PSH


def test_quickack_then_delayed_ack_40ms() -> None:
    h = Harness()
    c = established(h)
    quick = None
    for i in range(40):
        out = c.send(ACK, b"x" * 100)
        if quick is None and not out:
            quick = i  # the first segment that was not ACKed at once
            break
    assert quick == 16  # TCP_MAX_QUICKACKS segments are ACKed immediately
    sent = h.advance(h.now + 0.1)
    assert len(sent) == 1 and round(sent[0][0] - (h.now - 0.1), 3) == 0.04
    assert sent[0][1].seg.ack == c.seq and h.counter("DelayedACKs") == 1
    # the delayed ACK had to fire (no reply carried it): tcp_delack_timer_handler inflates ato
    # to min(2 * ato, rto)
    assert c.sock.tcp_info().tcpi_ato == 80_000


def test_two_full_segments_are_acked_at_once_or_by_the_read() -> None:
    # __tcp_ack_snd_check: more than one full segment unacknowledged: ACK now, if the
    # application has read everything or the window would not shrink; else the read sends it
    # (tcp_cleanup_rbuf: "once-per-two-segments ACK was not sent by tcp_input.c"). Both
    # targets agree: tests/packetdrill/receive-window.pkt
    h = Harness()
    c = established(h)
    # past the quickack phase: 16 quick ACKs (rcv_wnd / (2 * rcv_mss), at most 16), not
    # spent while tcp_grow_window raises rcv_ssthresh (it sets quick's low bit, up to the
    # window clamp), so 32 segments, each read as it comes
    for _ in range(32):
        c.send(ACK, b"q" * 1448)
        assert len(c.sock.recv(1 << 20)) == 1448
    assert c.sock.sk.icsk_ack.quick == 0  # white box: the phase is over
    c.take()
    seq = c.seq
    assert c.send(ACK, b"a" * 1448) == []
    assert c.send(ACK, b"b" * 1448) == []  # unread: the window would shrink
    assert len(c.sock.recv(1 << 20)) == 2896
    out = c.take()
    assert len(out) == 1 and out[0].seg.ack == seq + 2896


def test_nagle_holds_small_segments_until_acked_and_nodelay_does_not() -> None:
    h = Harness()
    c = established(h)
    s, syn = c.sock, c.sent[0].seg
    s.send(b"a")
    s.send(b"b")
    s.send(b"c")
    out = c.take()
    assert [p.seg.payload for p in out] == [b"a"]  # the rest waits for the ACK
    out = c.send(ack=syn.seq + 2)
    assert [p.seg.payload for p in out] == [b"bc"]
    h2 = Harness()
    s2 = established(h2).sock
    s2.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for ch in (b"a", b"b", b"c"):
        s2.send(ch)
    assert [p.seg.payload for p in h2.take()] == [b"a", b"b", b"c"]


def test_cork_holds_partial_segments_until_uncorked() -> None:
    h = Harness()
    s = established(h).sock
    s.setsockopt(socket.IPPROTO_TCP, 3, 1)  # TCP_CORK
    s.send(b"header ")
    s.send(b"body")
    assert h.take() == []
    s.setsockopt(socket.IPPROTO_TCP, 3, 0)
    out = h.take()
    assert [p.seg.payload for p in out] == [b"header body"]
    assert out[0].seg.flags & PSH


def test_congestion_control_name_and_buffers() -> None:
    h = Harness()
    s = h.socket()
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16) == b"cubic" + bytes(11)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16) == b"reno" + bytes(12)
    with pytest.raises(FileNotFoundError):  # ENOENT, before anything changes
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"bbr")
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16) == b"reno" + bytes(12)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 10000)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 20000  # doubled, as Linux
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 4608  # SOCK_MIN_SNDBUF


def test_makefile_text_roundtrip() -> None:
    w, srv, cli = pair(seed=4, delay=0.002)
    ls, c, conn = connected(srv, cli, backlog=1)
    wf = c.makefile("w", encoding="utf-8")
    wf.write("GET / HTTP/1.0\r\n\r\n")
    wf.flush()
    rf = conn.makefile("rb")
    assert rf.readline() == b"GET / HTTP/1.0\r\n"
    assert rf.readline() == b"\r\n"


def test_a_reply_within_ato_enters_pingpong_and_acks_wait() -> None:
    # tcp_event_data_sent: data sent within ato of the data received counts towards pingpong
    # mode (tcp_pingpong_thresh = 1); in pingpong mode quick ACKs stop (tcp_in_quickack_mode)
    # and the next request's ACK waits ato for a reply to carry it; a delayed ACK that fires
    # leaves pingpong mode (tcp_delack_timer_handler)
    h = Harness()
    c = established(h)
    assert [p.seg.ack for p in c.send(ACK | PSH, b"request")] == [c.seq]  # quick ACK
    c.sock.recv(100)
    c.sock.send(b"reply")  # at once: within ato (40 ms) of the request
    assert [p.seg.payload for p in c.take()] == [b"reply"]
    assert c.sock.sk.icsk_ack.pingpong == 1
    t0 = h.now
    assert c.send(ACK | PSH, b"again", ack=c.nxt) == []  # pingpong: the ACK waits
    out = [(round(t - t0, 6), p.seg.ack) for t, p in c.advance(t0 + 0.1)]
    assert out == [(0.04, c.seq)] and c.sock.sk.icsk_ack.pingpong == 0
    # out of pingpong, quick ACKs again
    assert [p.seg.ack for p in c.send(ACK | PSH, b"third")] == [c.seq]


def test_tcp_pingpong_thresh_counts_replies() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_pingpong_thresh"] = 3
    c = established(h)
    for i in range(3):
        assert len(c.send(ACK | PSH, b"req")) == 1, i  # still quick-ACKed
        c.sock.recv(100)
        c.sock.send(b"rep")
        c.take()
        c.send(ACK, ack=c.nxt)
    assert c.sock.sk.icsk_ack.pingpong == 3
    assert c.send(ACK | PSH, b"req") == []  # the third reply made it interactive
    with pytest.raises(OSError):
        h.sysctl["net.ipv4.tcp_pingpong_thresh"] = 0


def test_ato_follows_the_gap_between_data_segments() -> None:
    # tcp_event_data_recv: back-to-back data (gap <= 20 ms) pulls ato towards 20 ms + ato/2;
    # a gap shorter than ato sets ato to ato/2 + gap (at most the RTO); a delayed ACK that
    # fires doubles it (test_quickack_then_delayed_ack_40ms)
    h = Harness()
    c = established(h)
    for _ in range(17):  # past the 16 quick ACKs
        c.send(ACK, b"x" * 100)
    info = c.sock.tcp_info
    assert info().tcpi_ato == 40_000
    h.advance(h.now + 0.1)  # the delayed ACK fires: ato 80 ms
    assert info().tcpi_ato == 80_000
    c.send(ACK, b"y" * 100)  # 100 ms after the last: longer than ato, shorter than the RTO
    assert info().tcpi_ato == 80_000
    h.advance(h.now + 0.03)
    c.send(ACK, b"z" * 100)  # 30 ms after: ato/2 + 30 ms
    assert info().tcpi_ato == 70_000
    c.send(ACK, b"w" * 100)  # at once: ato/2 + 20 ms
    assert info().tcpi_ato == 55_000


def test_the_delayed_ack_timeout_is_capped_by_the_rtt() -> None:
    # tcp_send_delayed_ack: an inflated ato (the timer fired twice: 40, 80, 160 ms) is cut to
    # the smoothed RTT (6.18 on a 100 ms path: delayed ACKs after 44, 84 and 107 ms, the wheel
    # adding its tick), to TCP_DELACK_MAX in pingpong mode, and never below TCP_DELACK_MIN
    from tuxtcp.tcp.stream import delack_timeout

    c = established(Harness())
    sk = c.sock.sk
    sk.srtt = 0.1
    for ato, want in ((0.04, 0.04), (0.08, 0.08), (0.16, 0.1), (0.9, 0.1)):
        sk.icsk_ack.ato = ato
        assert delack_timeout(sk) == want
    sk.srtt = 0.3
    sk.icsk_ack.ato = 0.9
    assert delack_timeout(sk) == 0.3
    sk.icsk_ack.pingpong = 255
    assert delack_timeout(sk) == 0.2
    sk.srtt = 0.001
    assert delack_timeout(sk) == 0.04
