"""The close table and TIME_WAIT input rules, packet by packet (spec section 8)."""

import errno
import socket
import struct

import pytest

from helpers import Harness
from tuxtcp.net.tcp_states import TcpState
from tuxtcp.wire.tcp import ACK, FIN, PSH, RST, SYN, TcpSegment

PEER_ISN = 5000


def established(h: Harness) -> tuple[socket.socket, TcpSegment]:
    """An active-open socket in ESTABLISHED; returns it and our SYN."""
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    syn = h.take()[0].seg
    h.send(TcpSegment(80, syn.sport, PEER_ISN, syn.seq + 1, SYN | ACK, 65160, mss=1460,
                      wscale=7, sack_perm=True, tsval=1000, tsecr=syn.tsval))
    h.take()
    assert s.connect_ex(("198.18.0.2", 80)) == 0
    return s, syn


def peer(syn: TcpSegment, seq: int, ack: int, flags: int = ACK, data: bytes = b"",
         ts: int = 1001) -> TcpSegment:
    return TcpSegment(80, syn.sport, seq, ack, flags, 502, data, tsval=ts, tsecr=0)


def state(s: socket.socket) -> str:
    return s.sk.state.name  # type: ignore[attr-defined]


def test_active_close_fin_wait1_fin_wait2_time_wait() -> None:
    h = Harness()
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    assert fin.flags == FIN | ACK and fin.seq == syn.seq + 1
    me = s.sk  # type: ignore[attr-defined]
    assert me.state == TcpState.FIN_WAIT1
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1))  # ACK of our FIN
    # orphaned with tcp_fin_timeout 60 s <= 60: a FIN_WAIT2 timewait sock at once
    tw = h.ns.ehash[me.key]
    assert tw.substate == TcpState.FIN_WAIT2  # type: ignore[attr-defined]
    out = h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, FIN | ACK))
    assert out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 2
    assert tw.substate == TcpState.TIME_WAIT  # type: ignore[attr-defined]
    h.advance(h.now + 59.9)
    assert me.key in h.ns.ehash
    h.advance(h.now + 0.2)
    assert me.key not in h.ns.ehash
    assert h.ns.mib["TW"] == 1


def test_passive_close_close_wait_last_ack() -> None:
    h = Harness()
    s, syn = established(h)
    out = h.send(peer(syn, PEER_ISN + 1, syn.seq + 1, FIN | ACK))
    assert out[0].seg.ack == PEER_ISN + 2 and state(s) == "CLOSE_WAIT"
    assert s.recv(10) == b""  # EOF
    s.close()
    fin = h.take()[0].seg
    assert fin.flags == FIN | ACK and state(s) == "LAST_ACK"
    h.send(peer(syn, PEER_ISN + 2, fin.seq + 1))
    assert state(s) == "CLOSE" and s.sk.key not in h.ns.ehash  # type: ignore[attr-defined]


def test_simultaneous_close_closing_then_time_wait() -> None:
    h = Harness()
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    out = h.send(peer(syn, PEER_ISN + 1, syn.seq + 1, FIN | ACK))  # their FIN, not our ACK
    assert out[0].seg.flags == ACK and state(s) == "CLOSING"
    h.send(peer(syn, PEER_ISN + 2, fin.seq + 1))
    tw = h.ns.ehash[s.sk.key]  # type: ignore[attr-defined]
    assert tw.substate == TcpState.TIME_WAIT  # type: ignore[attr-defined]


def test_close_with_unread_data_sends_rst() -> None:
    h = Harness()
    s, syn = established(h)
    h.send(peer(syn, PEER_ISN + 1, syn.seq + 1, ACK, b"unread"))
    h.take()
    s.close()
    out = h.take()
    assert len(out) == 1 and out[0].seg.flags == RST | ACK
    assert h.ns.mib["TCPAbortOnClose"] == 1 and h.ns.mib["OutRsts"] == 1


def test_so_linger_zero_sends_rst() -> None:
    h = Harness()
    s, _ = established(h)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    out = h.take()
    assert len(out) == 1 and out[0].seg.flags & RST


def test_rst_in_established_gives_econnreset() -> None:
    h = Harness()
    s, syn = established(h)
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 1, 0, RST, 0))
    with pytest.raises(ConnectionResetError):
        s.recv(10)
    assert h.ns.mib["EstabResets"] == 1


def test_rst_in_window_but_not_exact_gets_challenge_ack() -> None:
    h = Harness()
    s, syn = established(h)
    out = h.send(TcpSegment(80, syn.sport, PEER_ISN + 100, 0, RST, 0))
    assert out[0].seg.flags == ACK and state(s) == "ESTABLISHED"
    assert h.ns.mib["TCPChallengeACK"] == 1


def test_syn_in_window_gets_challenge_ack() -> None:
    h = Harness()
    s, syn = established(h)
    out = h.send(TcpSegment(80, syn.sport, PEER_ISN + 1, 0, SYN, 64240))
    assert out[0].seg.flags == ACK and state(s) == "ESTABLISHED"
    assert h.ns.mib["TCPSYNChallenge"] == 1 and h.ns.mib["TCPChallengeACK"] == 1


def test_syn_to_closed_port_gets_rst_ack() -> None:
    h = Harness()
    out = h.send(TcpSegment(4000, 81, 77, 0, SYN, 64240))
    assert out[0].seg.flags == RST | ACK and out[0].seg.ack == 78 and out[0].seg.seq == 0


def test_ack_to_closed_port_gets_rst_with_its_ack_number() -> None:
    h = Harness()
    out = h.send(TcpSegment(4000, 81, 77, 999, ACK, 64240))
    assert out[0].seg.flags == RST and out[0].seg.seq == 999


def test_send_after_peer_reset_is_epipe_or_econnreset() -> None:
    h = Harness()
    s, syn = established(h)
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 1, 0, RST, 0))
    with pytest.raises(OSError) as e:
        s.send(b"x")
    assert e.value.errno in (errno.ECONNRESET, errno.EPIPE)


def test_time_wait_rows() -> None:
    h = Harness()
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, FIN | ACK, ts=1001))
    h.take()
    key = s.sk.key  # type: ignore[attr-defined]
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1))  # ACK of our FIN (after theirs)
    tw = h.ns.ehash[key]
    assert tw.substate == TcpState.TIME_WAIT  # type: ignore[attr-defined]
    # a retransmitted FIN: ACK again, timer re-armed
    h.advance(h.now + 30)
    out = h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, FIN | ACK, ts=1002))
    assert out and out[0].seg.flags == ACK
    assert tw.timer.when == pytest.approx(h.now + 60)  # type: ignore[attr-defined]
    # an in-window RST kills it (TIME_WAIT assassination, tcp_rfc1337=0)
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 2, 0, RST, 0))
    assert key not in h.ns.ehash


def test_time_wait_syn_with_higher_seq_reopens_via_listener() -> None:
    h = Harness()
    ls = h.listener(port=80)
    # server-side connection that we close first -> TIME_WAIT on the server
    sa = h.send(TcpSegment(40000, 80, 100, 0, SYN, 64240, mss=1460, tsval=5, tsecr=0))[0].seg
    h.send(TcpSegment(40000, 80, 101, sa.seq + 1, ACK, 502, tsval=6, tsecr=sa.tsval))
    conn, _ = ls.accept()
    conn.close()
    fin = h.take()[0].seg
    h.send(TcpSegment(40000, 80, 101, fin.seq + 1, FIN | ACK, 502, tsval=7, tsecr=fin.tsval))
    h.take()
    key = (h.addr, 80, h.peer, 40000)
    assert h.ns.ehash[key].substate == TcpState.TIME_WAIT  # type: ignore[attr-defined]
    out = h.send(TcpSegment(40000, 80, 100000, 0, SYN, 64240, mss=1460, tsval=9, tsecr=0))
    assert out[0].seg.flags == SYN | ACK
    assert out[0].seg.seq == (fin.seq + 1 + 65535 + 2) & 0xFFFFFFFF  # tw_snd_nxt + 65537


def test_shutdown_wr_sends_fin_and_keeps_reading() -> None:
    h = Harness()
    s, syn = established(h)
    s.shutdown(socket.SHUT_WR)
    fin = h.take()[0].seg
    assert fin.flags == FIN | ACK and state(s) == "FIN_WAIT1"
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, ACK, b"more"))
    assert s.recv(10) == b"more"
    with pytest.raises(BrokenPipeError):
        s.send(b"x")


def _fin_wait2_tw(h: Harness) -> tuple[object, TcpSegment, TcpSegment]:
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1))
    tw = h.ns.ehash[s.sk.key]  # type: ignore[attr-defined]
    assert tw.substate == TcpState.FIN_WAIT2  # type: ignore[attr-defined]
    return tw, syn, fin


def test_fin_wait2_rows() -> None:
    # out of window -> ACK
    h = Harness()
    tw, syn, fin = _fin_wait2_tw(h)
    out = h.send(peer(syn, PEER_ISN + 900_000, fin.seq + 1, ACK, b"x"))
    assert out and out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 1
    # RST -> gone
    h = Harness()
    tw, syn, fin = _fin_wait2_tw(h)
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 1, 0, RST, 0))
    assert tw.key not in h.ns.ehash  # type: ignore[attr-defined]
    # SYN with seq >= rcv_nxt -> RST
    h = Harness()
    tw, syn, fin = _fin_wait2_tw(h)
    out = h.send(TcpSegment(80, syn.sport, PEER_ISN + 10, 0, SYN, 64240))
    assert out[0].seg.flags & RST
    # a pure duplicate ACK -> dropped silently
    h = Harness()
    tw, syn, fin = _fin_wait2_tw(h)
    assert h.send(peer(syn, PEER_ISN + 1, fin.seq + 1)) == []
    # data (anything but exactly the FIN) -> RST
    h = Harness()
    tw, syn, fin = _fin_wait2_tw(h)
    out = h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, ACK | PSH, b"late data"))
    assert out[0].seg.flags & RST and tw.key not in h.ns.ehash  # type: ignore[attr-defined]


def test_tcp_fin_timeout_sets_fin_wait2_lifetime() -> None:
    h = Harness()
    h.ns.sysctl["net.ipv4.tcp_fin_timeout"] = 30
    tw, syn, fin = _fin_wait2_tw(h)
    assert tw.timer.when == pytest.approx(h.now + 30)  # type: ignore[attr-defined]
    h.advance(h.now + 30.1)
    assert tw.key not in h.ns.ehash  # type: ignore[attr-defined]


def test_linger2_negative_resets_in_fin_wait2() -> None:
    h = Harness()
    s, syn = established(h)
    s.setsockopt(socket.IPPROTO_TCP, 8, -1)  # TCP_LINGER2 < 0
    s.close()
    fin = h.take()[0].seg
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1))
    assert s.sk.state.name == "CLOSE"  # type: ignore[attr-defined]
    assert h.ns.mib["TCPAbortOnLinger"] == 1


def test_rfc1337_keeps_time_wait_on_rst() -> None:
    h = Harness()
    h.ns.sysctl["net.ipv4.tcp_rfc1337"] = 1
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, FIN | ACK))
    key = s.sk.key  # type: ignore[attr-defined]
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 2, 0, RST, 0))
    assert key in h.ns.ehash


def test_time_wait_paws_reject_gets_ack() -> None:
    h = Harness()
    s, syn = established(h)
    s.close()
    fin = h.take()[0].seg
    h.send(peer(syn, PEER_ISN + 1, fin.seq + 1, FIN | ACK, ts=5000))
    old = TcpSegment(80, syn.sport, PEER_ISN + 2, fin.seq + 1, ACK, 502, b"x", tsval=10,
                     tsecr=0)
    out = h.send(old)
    assert out and out[0].seg.flags == ACK and h.ns.mib["PAWSTimewait"] == 1


def test_close_in_syn_sent_and_listen_sends_nothing() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    h.take()
    s.close()
    # close() in SYN_SENT goes straight to CLOSE without tcp_done: no AttemptFails
    # (checked on the 6.18 kernel: ActiveOpens +1, AttemptFails +0)
    assert h.take() == [] and h.ns.mib["AttemptFails"] == 0
    ls = h.listener()
    ls.close()
    assert h.take() == [] and not h.ns.lhash


def test_rst_in_close_wait_with_rcv_nxt_minus_one_is_accepted() -> None:
    h = Harness()
    s, syn = established(h)
    h.send(peer(syn, PEER_ISN + 1, syn.seq + 1, FIN | ACK))
    assert state(s) == "CLOSE_WAIT"
    # tcp_reset_check: seq == rcv_nxt - 1 resets CLOSE_WAIT/LAST_ACK/CLOSING
    h.send(TcpSegment(80, syn.sport, PEER_ISN + 1, 0, RST, 0))
    assert state(s) == "CLOSE"
    with pytest.raises(BrokenPipeError):
        s.send(b"x")  # tcp_reset in CLOSE_WAIT reports EPIPE
