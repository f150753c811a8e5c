"""Every TCP state, reached by real packets (tests/states.py): what went out on the way, that
the socket is in that state, and one thing the state does with a segment or a timer.

All fixtures run at virtual time 0 on the exact timer model; each test names the segment it
injects, what must come out, and when.
"""

import errno

import pytest

import states as S
from helpers import PEER, Harness, is_synack, syn
from tuxtcp.tcp.cong import TCP_CA_OPEN
from tuxtcp.wire.ipv4 import Packet
from tuxtcp.wire.tcp import ACK, FIN, PSH, RST, SYN

M32 = 0xFFFFFFFF


def flags(pkts: list[Packet]) -> list[int]:
    return [p.seg.flags for p in pkts]


# --- the template ---------------------------------------------------------------------------
def test_template_fills_ports_seq_ack_window_and_timestamps() -> None:
    c = S.established_active()
    s = c.seg()
    assert (s.sport, s.dport) == (S.PEER_PORT, c.lport)
    assert (s.seq, s.ack, s.flags, s.window) == (S.PEER_ISN + 1, c.nxt, ACK, 502)
    assert s.tsval == 1001 and s.tsecr == c.sent[-1].seg.tsval  # echoes our last TSval
    assert s.payload == b"" and s.mss is None and s.sack == ()
    # only what differs is written
    d = c.seg(ACK | PSH, b"hi", window=7, sack=((1, 2),))
    assert (d.flags, d.payload, d.window, d.sack, d.seq) == (ACK | PSH, b"hi", 7, ((1, 2),),
                                                             S.PEER_ISN + 1)
    # a bare RST: no ACK number, window 0, no options (as tcp_v4_send_reset)
    r = c.seg(RST)
    assert (r.flags, r.ack, r.window, r.tsval) == (RST, 0, 0, None)
    # the peer's TSval is a millisecond clock on virtual time
    c.advance(1.5)
    assert c.seg().tsval == 1001 + 1500


def test_template_send_moves_the_peer_sequence_and_sees_our_answer() -> None:
    c = S.established_active()
    out = c.send(ACK | PSH, b"abc")
    assert c.seq == S.PEER_ISN + 4
    assert flags(out) == [ACK] and c.sent[-1] is out[0]
    c.send(seq=S.PEER_ISN + 1)  # an old duplicate does not move it back
    assert c.seq == S.PEER_ISN + 4
    c.sock.send(b"xyz")
    c.take()
    assert c.nxt == c.sock.tcp_info().snd_nxt  # our data, as the peer saw it


# --- LISTEN ---------------------------------------------------------------------------------
def test_listen() -> None:
    lst = S.listen(backlog=5)
    h = lst.h
    assert h.take() == []  # nothing on the wire
    info = lst.sock.tcp_info()
    assert lst.sock.state == "LISTEN" and info.tcpi_state == 10
    assert S.backlog(lst.sock) == 5 and S.accept_queue_len(lst.sock) == 0
    assert h.ss("-ltn").splitlines()[1].split()[:4] == ["LISTEN", "0", "5", "0.0.0.0:8080"]
    # t=0: the peer's SYN in -> a SYN-ACK out acknowledging it, and a request in the SYN queue
    out = h.send(syn(S.CLIENT_PORT, seq=S.CLIENT_ISN))
    assert len(out) == 1 and is_synack(out[0]) and out[0].seg.ack == S.CLIENT_ISN + 1
    assert S.syn_queue_len(h) == 1


# --- SYN_RECV (a request sock) ---------------------------------------------------------------
def test_syn_recv() -> None:
    r = S.syn_recv()
    h = r.h
    assert flags(r.sent) == [SYN | ACK] and r.synack is not None
    assert r.synack.ack == S.CLIENT_ISN + 1 and (r.synack.mss, r.synack.wscale) == (1460, 10)
    e = S.find(h, S.LISTEN_PORT, S.CLIENT_PORT)
    assert e is not None and (e.kind, e.state) == ("request", "SYN_RECV")
    assert S.syn_queue_len(h) == 1 and S.accept_queue_len(r.listener) == 0
    # no third ACK: the same SYN-ACK again at t = 1 s
    sent = r.advance(1.5)
    assert [(t, p.seg.flags, p.seg.seq) for t, p in sent] == [(1.0, SYN | ACK, r.synack.seq)]
    # t=1.5: the third ACK in -> nothing out; the child waits in the accept queue
    assert r.complete() == []
    assert S.syn_queue_len(h) == 0 and S.accept_queue_len(r.listener) == 1
    conn, peer = r.listener.accept()
    assert peer == (PEER, S.CLIENT_PORT) and conn.state == "ESTABLISHED"


# --- SYN_SENT -------------------------------------------------------------------------------
def test_syn_sent() -> None:
    c = S.syn_sent()
    s = c.sent[0].seg
    assert flags(c.sent) == [SYN] and (s.dport, s.ack, s.window, s.mss) == (80, 0, 64240, 1460)
    info = c.sock.tcp_info()
    assert c.state == "SYN_SENT" and info.tcpi_state == 2
    assert info.tcpi_unacked == 1 and info.iss == s.seq and info.snd_nxt == s.seq + 1
    assert info.tcpi_options == 0  # nothing is negotiated before the SYN-ACK
    # no answer: the SYN again at t = 1 s, same ISN
    sent = c.advance(1.0)
    assert [(t, p.seg.flags, p.seg.seq) for t, p in sent] == [(1.0, SYN, s.seq)]
    assert c.sock.tcp_info().tcpi_retransmits == 1


def test_syn_sent_synack_gives_established_and_an_ack() -> None:
    c = S.syn_sent()
    # t=0: SYN-ACK in (ISN 5000, acknowledging our SYN) -> our ACK of 5001 out
    out = c.send(SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True)
    assert flags(out) == [ACK] and out[0].seg.ack == S.PEER_ISN + 1
    assert out[0].seg.seq == c.sent[0].seg.seq + 1
    assert c.state == "ESTABLISHED" and c.sock.connect_ex((PEER, 80)) == 0


def test_syn_sent_rst_ack_refuses() -> None:
    c = S.syn_sent()
    # t=0: RST|ACK acknowledging our SYN in -> nothing out, connect() fails ECONNREFUSED
    assert c.send(RST | ACK, window=0, tsval=None) == []
    assert c.state == "CLOSE"
    assert c.sock.connect_ex((PEER, 80)) == errno.ECONNREFUSED


# --- ESTABLISHED ----------------------------------------------------------------------------
def test_established_active() -> None:
    c = S.established_active()
    ours, ack = (p.seg for p in c.sent)
    assert flags(c.sent) == [SYN, ACK] and ack.seq == ours.seq + 1
    # rcv_ssthresh (64088: the clamp, 65536 less advmss 1448) rounded up to 63 << 10
    assert ack.ack == S.PEER_ISN + 1 and ack.window == 63
    info = c.sock.tcp_info()
    assert c.state == "ESTABLISHED" and info.tcpi_state == 1
    assert info.snd_una == info.snd_nxt == ours.seq + 1 and info.rcv_nxt == S.PEER_ISN + 1
    assert info.tcpi_options == 7 and (info.tcpi_snd_wscale, info.tcpi_rcv_wscale) == (7, 10)
    assert info.tcpi_snd_mss == 1448 and info.tcpi_ca_state == TCP_CA_OPEN
    # t=0: 100 bytes in -> an ACK of them at once (quickack), readable
    out = c.send(ACK | PSH, b"x" * 100)
    assert flags(out) == [ACK] and out[0].seg.ack == S.PEER_ISN + 101
    assert c.sock.tcp_info().recv_queue == 100 and c.sock.recv(200) == b"x" * 100


def test_established_passive() -> None:
    c = S.established_passive()
    assert flags(c.sent) == [SYN | ACK]  # the third ACK got no answer
    assert c.listener is not None and S.accept_queue_len(c.listener) == 0  # accepted
    info = c.sock.tcp_info()
    assert c.state == "ESTABLISHED" and info.rcv_nxt == S.CLIENT_ISN + 1
    assert info.snd_nxt == c.sent[0].seg.seq + 1 == c.nxt
    # t=0: we send 5 bytes -> one segment out at our next seq; the peer's ACK clears it
    c.sock.send(b"hello")
    out = c.take()
    assert [(p.seg.seq, p.seg.payload) for p in out] == [(info.snd_nxt, b"hello")]
    assert c.sock.tcp_info().tcpi_unacked == 1
    assert c.send(ack=c.nxt) == []
    assert c.sock.tcp_info().tcpi_unacked == 0 and c.sock.tcp_info().tcpi_bytes_acked == 5


# --- FIN_WAIT1 ------------------------------------------------------------------------------
def test_fin_wait1() -> None:
    c = S.fin_wait1()
    assert c.fin is not None and flags(c.sent)[-1] == FIN | ACK
    info = c.sock.tcp_info()
    assert c.state == "FIN_WAIT1" and info.fin_sent and not info.fin_acked
    assert info.send_queue == 1 and info.snd_nxt == c.fin.seq + 1
    # nothing from the peer: the FIN again after one RTO (200 ms after a 0 s RTT sample)
    assert info.tcpi_rto == 200_000
    sent = c.advance(0.5)
    assert [(t, p.seg.flags, p.seg.seq) for t, p in sent][0] == (0.2, FIN | ACK, c.fin.seq)


def test_fin_wait1_ack_of_fin_gives_fin_wait2() -> None:
    c = S.fin_wait1()
    assert c.fin is not None
    # t=0: the ACK of our FIN in -> nothing out, FIN_WAIT2
    assert c.send(ack=c.fin.seq + 1) == []
    assert c.state == "FIN_WAIT2" and c.sock.tcp_info().fin_acked


# --- FIN_WAIT2 ------------------------------------------------------------------------------
def test_fin_wait2() -> None:
    c = S.fin_wait2()
    assert c.state == "FIN_WAIT2" and flags(c.sent)[-1] == FIN | ACK
    e = S.find(c.h, c.lport, c.rport)
    assert e is not None and (e.kind, e.state) == ("socket", "FIN_WAIT2")
    # t=0: the peer's FIN in -> our ACK of it out, a TIME_WAIT sock in the table
    out = c.send(FIN | ACK)
    assert flags(out) == [ACK] and out[0].seg.ack == S.PEER_ISN + 2
    e = S.find(c.h, c.lport, c.rport)
    assert e is not None and (e.kind, e.state) == ("timewait", "TIME_WAIT")
    assert c.state == "CLOSE"  # the socket itself is done


def test_fin_wait2_orphan_is_a_timewait_sock_for_tcp_fin_timeout() -> None:
    c = S.fin_wait2(orphan=True)
    e = S.find(c.h, c.lport, c.rport)
    assert e is not None and (e.kind, e.state) == ("timewait", "FIN_WAIT2")
    assert S.timer_expires(c.h, c.lport, c.rport) == pytest.approx(60.0)
    # nothing arrives: gone at t = 60 s, silently
    assert c.advance(60.0) == [] and S.find(c.h, c.lport, c.rport) is None


# --- CLOSING --------------------------------------------------------------------------------
def test_closing() -> None:
    c = S.closing()
    assert c.fin is not None
    assert flags(c.sent)[-2:] == [FIN | ACK, ACK] and c.sent[-1].seg.ack == S.PEER_ISN + 2
    assert c.state == "CLOSING" and c.sock.tcp_info().rcv_nxt == S.PEER_ISN + 2
    # t=0: the ACK of our FIN in -> nothing out, TIME_WAIT
    assert c.send(ack=c.fin.seq + 1) == []
    e = S.find(c.h, c.lport, c.rport)
    assert e is not None and (e.kind, e.state) == ("timewait", "TIME_WAIT")


# --- TIME_WAIT ------------------------------------------------------------------------------
def test_time_wait() -> None:
    c = S.time_wait()
    assert flags(c.sent)[-2:] == [FIN | ACK, ACK] and c.sent[-1].seg.ack == S.PEER_ISN + 2
    e = S.find(c.h, c.lport, c.rport)
    assert e is not None and (e.kind, e.state) == ("timewait", "TIME_WAIT")
    assert c.h.counter("TW") == 1
    # t=30: the peer's FIN again (our ACK was lost) -> re-ACKed, the 60 s start over
    c.advance(30.0)
    out = c.send(FIN | ACK, seq=S.PEER_ISN + 1)
    assert flags(out) == [ACK] and out[0].seg.ack == S.PEER_ISN + 2
    assert S.timer_expires(c.h, c.lport, c.rport) == pytest.approx(90.0)
    # gone at t = 90 s, silently
    assert c.advance(89.9) == [] and S.find(c.h, c.lport, c.rport) is not None
    assert c.advance(90.0) == [] and S.find(c.h, c.lport, c.rport) is None


# --- CLOSE_WAIT -----------------------------------------------------------------------------
def test_close_wait() -> None:
    c = S.close_wait()
    assert flags(c.sent)[-1] == ACK and c.sent[-1].seg.ack == S.PEER_ISN + 2
    assert c.state == "CLOSE_WAIT" and c.sock.tcp_info().tcpi_state == 8
    assert c.sock.recv(10) == b""  # EOF
    # t=0: a RST at rcv_nxt in -> nothing out; the socket is closed with EPIPE pending
    assert c.send(RST) == []
    assert c.state == "CLOSE" and c.sock.tcp_info().sk_err == errno.EPIPE
    with pytest.raises(BrokenPipeError):
        c.sock.send(b"x")


# --- LAST_ACK -------------------------------------------------------------------------------
def test_last_ack() -> None:
    c = S.last_ack()
    assert c.fin is not None and flags(c.sent)[-2:] == [ACK, FIN | ACK]
    assert c.state == "LAST_ACK" and c.sock.tcp_info().fin_sent
    # t=0: the ACK of our FIN in -> nothing out; closed and out of the table
    assert c.send(ack=c.fin.seq + 1) == []
    assert c.state == "CLOSE" and S.find(c.h, c.lport, c.rport) is None


@pytest.mark.parametrize("fixture", ["fin_wait1", "fin_wait2", "closing", "time_wait",
                                     "close_wait", "last_ack"])
def test_every_closing_state_from_a_passive_open_too(fixture: str) -> None:
    c = getattr(S, fixture)(active=False)
    expect = {"time_wait": "CLOSE"}.get(fixture, fixture.upper())
    assert c.state == expect and c.sent[0].seg.flags == SYN | ACK
    assert c.lport == S.LISTEN_PORT and c.rport == S.CLIENT_PORT


def test_fixtures_share_a_harness() -> None:
    h = Harness()
    lst = S.listen(h)
    a = S.established_passive(listener=lst, sport=40001)
    b = S.established_passive(listener=lst, sport=40002)
    c = S.established_active(h)
    assert {a.h, b.h, c.h} == {h}
    assert sorted(e.rport for e in S.established_table(h)) == [80, 40001, 40002]
    assert {e.state for e in S.established_table(h)} == {"ESTABLISHED"}
