"""The send chronograph (tcp_chrono_*) read through TCP_INFO: busy, receive-window-limited and
send-buffer-limited time, in whole jiffies (4 ms). The busy and receive-window cases are pinned
against 6.18 by tests/packetdrill/tcp-info-chrono.pkt; the send-buffer case here, on tuxtcp
only (its send buffer counts bytes, not skb truesize, so a packetdrill write would fill it at
another size than on the kernel)."""

import socket

import states as S
from helpers import Harness
from tuxtcp.wire.tcp import ACK


def _chrono(c: S.Conn) -> tuple[int, int, int]:
    info = c.sock.tcp_info()
    return info.tcpi_busy_time, info.tcpi_rwnd_limited, info.tcpi_sndbuf_limited


def test_an_idle_connection_has_no_busy_time() -> None:
    c = S.established_active()
    c.h.advance(c.h.now + 1.0)
    assert _chrono(c) == (0, 0, 0)


def test_a_writer_held_by_the_send_buffer_counts_sndbuf_limited_time() -> None:
    # SO_SNDBUF 1 gives the 4,608-byte minimum: a 20,000-byte write takes what fits, all of it
    # leaves at once (cwnd 10 is not the limit), and the writer waits for room (SOCK_NOSPACE):
    # tcp_cwnd_validate starts the send-buffer chronograph. The ACK of everything 100 ms later
    # frees the buffer (tcp_check_space stops it) and empties both queues (the chronograph
    # stops): 100 ms busy, all of it send-buffer-limited (25 jiffies).
    h = Harness()
    c = S.established_active(h)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
    c.sock.setblocking(False)
    n = c.sock.send(b"x" * 20000)
    assert 0 < n < 20000
    sent = c.take()
    assert sum(len(p.seg.payload) for p in sent) == n  # nothing left unsent
    assert c.sock.sk.nospace
    h.advance(h.now + 0.1)
    assert _chrono(c) == (100_000, 0, 100_000)  # still running: counted up to now
    assert c.send(ACK, ack=c.nxt) == []
    assert not c.sock.sk.nospace
    h.advance(h.now + 0.5)
    assert _chrono(c) == (100_000, 0, 100_000)  # stopped with the queues empty


def test_a_closed_window_counts_rwnd_limited_time() -> None:
    # the peer's window shuts under a write: the data waits on the receive window
    # (tcp_write_xmit's is_rwnd_limited) until a window update lets it go 200 ms later; its
    # ACK 100 ms after that ends the busy period: 300 ms busy, 200 of them rwnd-limited
    h = Harness()
    c = S.established_active(h)
    assert c.send(ACK, ack=c.nxt, window=0) == []
    c.sock.setblocking(False)
    assert c.sock.send(b"y" * 3000) == 3000
    c.take()  # (a zero-window probe timer is armed; nothing leaves yet)
    h.advance(h.now + 0.2)
    h.take()
    out = c.send(ACK, ack=c.nxt, window=65535)
    assert sum(len(p.seg.payload) for p in out) == 3000
    h.advance(h.now + 0.1)
    assert c.send(ACK, ack=c.nxt, window=65535) == []
    h.advance(h.now + 0.5)
    assert _chrono(c) == (300_000, 200_000, 0)
