"""Keepalive (issue 10: dead peers; tcp_timer.c: tcp_keepalive_timer, tcp_write_wakeup,
tcp_xmit_probe_skb, tcp_write_err). An idle connection with SO_KEEPALIVE sends a probe (an ACK
one below snd_una, no data) after keepalive_time, then one every keepalive_intvl; after
keepalive_probes unanswered probes it sends a RST and fails with ETIMEDOUT. Any acceptable ACK
from the peer restarts the idle clock. The harness runs the exact timer model, so each probe
leaves exactly when its timer says."""

from __future__ import annotations

import errno
import socket

import pytest

import states as S
from tuxtcp.wire.tcp import ACK, RST

TCP = socket.IPPROTO_TCP
M32 = 0xFFFFFFFF


def keepalive(c: S.Conn, idle: int | None = 10, intvl: int | None = 2,
              cnt: int | None = 3) -> float:
    if idle is not None:
        c.sock.setsockopt(TCP, socket.TCP_KEEPIDLE, idle)
    if intvl is not None:
        c.sock.setsockopt(TCP, socket.TCP_KEEPINTVL, intvl)
    if cnt is not None:
        c.sock.setsockopt(TCP, socket.TCP_KEEPCNT, cnt)
    t0 = c.h.now
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return t0


def test_silent_peer_gets_probes_then_a_reset_and_etimedout() -> None:
    c = S.established_active()
    c.take()
    una, nxt_in = c.nxt, c.seq
    t0 = keepalive(c)
    out = c.advance(t0 + 100)
    assert [(t - t0, p.seg.flags, p.seg.seq, p.seg.ack, p.seg.payload) for t, p in out] == [
        (10.0, ACK, (una - 1) & M32, nxt_in, b""),
        (12.0, ACK, (una - 1) & M32, nxt_in, b""),
        (14.0, ACK, (una - 1) & M32, nxt_in, b""),
        (16.0, RST | ACK, una, nxt_in, b""),
    ]
    counters = c.h.counters()
    assert counters["TcpExt.TCPKeepAlive"] == 3 and counters["TcpExt.TCPAbortOnTimeout"] == 1
    assert c.state == "CLOSE"
    with pytest.raises(OSError) as e:
        c.sock.recv(10)
    assert e.value.errno == errno.ETIMEDOUT


def test_an_answered_probe_restarts_the_idle_clock() -> None:
    c = S.established_active()
    c.take()
    t0 = keepalive(c)
    out = c.advance(t0 + 10)
    assert [t - t0 for t, _ in out] == [10.0]
    c.send(ACK)  # the peer answers the probe: idle again from now, and the count restarts
    out = c.advance(t0 + 100)
    assert [(t - t0, p.seg.flags) for t, p in out] == [
        (20.0, ACK), (22.0, ACK), (24.0, ACK), (26.0, RST | ACK)]
    assert c.h.counters()["TcpExt.TCPKeepAlive"] == 4


def test_received_data_counts_as_activity() -> None:
    c = S.established_active()
    c.take()
    t0 = keepalive(c)
    c.advance(t0 + 6)
    c.send(ACK | 0x08, b"hello")
    out = c.advance(t0 + 16.5)
    probes = [t - t0 for t, p in out if not p.seg.payload and p.seg.seq == (c.nxt - 1) & M32]
    assert probes == [16.0]  # 10 s after the data, not after the option was set


def test_data_in_flight_is_not_idle() -> None:
    c = S.established_active()
    c.take()
    t0 = keepalive(c, idle=10, intvl=2, cnt=1)
    c.sock.send(b"x" * 100)
    c.take()
    # the peer never ACKs: retransmissions run, but no keepalive probe leaves meanwhile
    out = c.advance(t0 + 30)
    assert all(p.seg.payload for _, p in out)
    assert c.h.counters()["TcpExt.TCPKeepAlive"] == 0


def test_the_sysctls_apply_without_the_options() -> None:
    h = S.Harness()
    h.sysctl["net.ipv4.tcp_keepalive_time"] = 30
    h.sysctl["net.ipv4.tcp_keepalive_intvl"] = 5
    h.sysctl["net.ipv4.tcp_keepalive_probes"] = 2
    c = S.established_active(h)
    c.take()
    t0 = keepalive(c, None, None, None)
    assert (c.sock.getsockopt(TCP, socket.TCP_KEEPIDLE),
            c.sock.getsockopt(TCP, socket.TCP_KEEPINTVL),
            c.sock.getsockopt(TCP, socket.TCP_KEEPCNT)) == (30, 5, 2)
    out = c.advance(t0 + 100)
    assert [(t - t0, p.seg.flags) for t, p in out] == [(30.0, ACK), (35.0, ACK),
                                                        (40.0, RST | ACK)]


def test_defaults_are_the_kernels() -> None:
    s = S.Harness().socket()
    assert (s.getsockopt(TCP, socket.TCP_KEEPIDLE), s.getsockopt(TCP, socket.TCP_KEEPINTVL),
            s.getsockopt(TCP, socket.TCP_KEEPCNT)) == (7200, 75, 9)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


def test_an_accepted_socket_inherits_the_listeners_keepalive() -> None:
    h = S.Harness()
    lst = S.listen(h)
    lst.sock.setsockopt(TCP, socket.TCP_KEEPIDLE, 5)
    lst.sock.setsockopt(TCP, socket.TCP_KEEPCNT, 1)
    lst.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c = S.established_passive(h, lst)
    c.take()
    t0 = h.now
    assert c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    out = c.advance(t0 + 100)
    assert [(t - t0, p.seg.flags) for t, p in out] == [(5.0, ACK), (80.0, RST | ACK)]


def test_turning_keepalive_off_stops_the_probes() -> None:
    c = S.established_active()
    c.take()
    t0 = keepalive(c)
    c.advance(t0 + 10)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 0)
    assert c.advance(t0 + 100) == []
