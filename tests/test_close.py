"""The close table and TIME_WAIT input rules, packet by packet (spec section 8)."""

import errno
import json
import socket
import struct
import sys

import pytest

from helpers import Harness
from states import (
    CLIENT_ISN,
    PEER_ISN,
    close_wait,
    established,
    established_passive,
    fin_wait2,
    listen,
    syn_sent,
    table,
    timer_expires,
)
from tuxtcp.host.netns import loopback_ns
from tuxtcp.wire.tcp import ACK, FIN, PSH, RST, SYN, TcpSegment


def test_active_close_fin_wait1_fin_wait2_time_wait() -> None:
    h = Harness()
    c = established(h)
    s, syn = c.sock, c.sent[0].seg
    s.close()
    fin = c.take()[0].seg
    assert fin.flags == FIN | ACK and fin.seq == syn.seq + 1
    assert s.state == "FIN_WAIT1"
    c.send(ack=fin.seq + 1)  # ACK of our FIN
    # orphaned with tcp_fin_timeout 60 s <= 60: a FIN_WAIT2 timewait sock at once
    assert c.tw_state() == "FIN_WAIT2"
    out = c.send(FIN | ACK, ack=fin.seq + 1)
    assert out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 2
    assert c.tw_state() == "TIME_WAIT"
    h.advance(h.now + 59.9)
    assert c.in_table()
    h.advance(h.now + 0.2)
    assert not c.in_table()
    assert h.counter("TW") == 1


def test_passive_close_close_wait_last_ack() -> None:
    h = Harness()
    c = established(h)
    s = c.sock
    assert c.send(FIN | ACK) == []  # tcp_fin: pingpong mode, the ACK is delayed by ato (0)
    out = [p for _, p in c.advance(h.now)]
    assert out[0].seg.ack == PEER_ISN + 2 and s.state == "CLOSE_WAIT"
    assert h.counter("DelayedACKs") == 1
    assert s.recv(10) == b""  # EOF
    s.close()
    fin = c.take()[0].seg
    assert fin.flags == FIN | ACK and s.state == "LAST_ACK"
    c.send(ack=fin.seq + 1)
    assert s.state == "CLOSE" and not c.in_table()


def test_the_ack_of_a_fin_after_data_waits_for_ato_or_our_fin() -> None:
    # packetdrill's tcp_basic_server.pkt (passes on 6.18): 1000 bytes ACKed at once (quick
    # ACKs), then the peer's FIN: pingpong mode, its ACK leaves 40 ms later on the delayed-ACK
    # timer; closing within those 40 ms sends the FIN, which carries the ACK instead
    for close_first in (False, True):
        h = Harness()
        c = established(h, active=False)
        assert [p.seg.ack for p in c.send(ACK | PSH, b"d" * 1000)] == [CLIENT_ISN + 1001]
        assert c.sock.recv(1000) == b"d" * 1000
        t0 = h.now
        assert c.send(FIN | ACK) == []
        if close_first:
            h.advance(t0 + 0.01)
            c.sock.close()
            fin = c.take()
            out = [(round(t - t0, 6), p.seg.flags, p.seg.ack) for t, p in c.advance(t0 + 0.1)]
            assert out == [] and [(p.seg.flags, p.seg.ack) for p in fin] == [
                (FIN | ACK, CLIENT_ISN + 1002)]
            assert h.counter("DelayedACKs") == 0
        else:
            out = [(round(t - t0, 6), p.seg.flags, p.seg.ack) for t, p in c.advance(t0 + 0.1)]
            assert out == [(0.04, ACK, CLIENT_ISN + 1002)]
            assert h.counter("DelayedACKs") == 1
            assert c.sock.tcp_info().tcpi_ato == 40_000  # pingpong left: back to the minimum


def test_simultaneous_close_closing_then_time_wait() -> None:
    h = Harness()
    c = established(h)
    s = c.sock
    s.close()
    fin = c.take()[0].seg
    out = c.send(FIN | ACK)  # their FIN, not our ACK
    assert out[0].seg.flags == ACK and s.state == "CLOSING"
    c.send(ack=fin.seq + 1)
    assert c.tw_state() == "TIME_WAIT"


def test_close_with_unread_data_sends_rst() -> None:
    h = Harness()
    c = established(h)
    c.send(ACK, b"unread")
    c.sock.close()
    out = h.take()
    assert len(out) == 1 and out[0].seg.flags == RST | ACK
    assert h.counter("TCPAbortOnClose") == 1 and h.counter("OutRsts") == 1


def test_active_reset_carries_the_timestamp_option() -> None:
    # tcp_send_active_reset goes through tcp_transmit_skb: TSval of now, TSecr ts_recent (the
    # shared corpus's ts_recent/reset_tsval.pkt, passing on 6.18: 1 s after an ACK with TSval
    # X, the RST has TSval X + 1000)
    h = Harness()
    c = established(h)
    ack = c.send(ACK, b"unread")[0].seg
    assert ack.tsval is not None
    peer_tsval = c.seg().tsval
    h.advance(h.now + 1.0)
    c.sock.close()
    rst = h.take()[0].seg
    assert rst.flags == RST | ACK
    assert (rst.tsval, rst.tsecr) == ((ack.tsval + 1000) & 0xFFFFFFFF, peer_tsval)


def test_so_linger_zero_sends_rst() -> None:
    h = Harness()
    s = established(h).sock
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    out = h.take()
    assert len(out) == 1 and out[0].seg.flags & RST


def test_rst_in_established_gives_econnreset() -> None:
    h = Harness()
    c = established(h)
    c.send(RST)
    with pytest.raises(ConnectionResetError):
        c.sock.recv(10)
    assert h.counter("EstabResets") == 1


def test_rst_in_window_but_not_exact_gets_challenge_ack() -> None:
    h = Harness()
    c = established(h)
    out = c.send(RST, seq=PEER_ISN + 100)
    assert out[0].seg.flags == ACK and c.state == "ESTABLISHED"
    assert h.counter("TCPChallengeACK") == 1


def test_syn_in_window_gets_challenge_ack() -> None:
    h = Harness()
    c = established(h)
    out = c.send(SYN, window=64240, tsval=None)
    assert out[0].seg.flags == ACK and c.state == "ESTABLISHED"
    assert h.counter("TCPSYNChallenge") == 1 and h.counter("TCPChallengeACK") == 1


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
    c = established(h)
    c.send(RST)
    with pytest.raises(OSError) as e:
        c.sock.send(b"x")
    assert e.value.errno in (errno.ECONNRESET, errno.EPIPE)


def test_time_wait_rows() -> None:
    h = Harness()
    c = established(h)
    c.sock.close()
    fin = c.take()[0].seg
    c.send(FIN | ACK, ack=fin.seq + 1)
    c.send(seq=PEER_ISN + 1, ack=fin.seq + 1)  # ACK of our FIN (after theirs)
    assert c.tw_state() == "TIME_WAIT"
    # a retransmitted FIN: ACK again, timer re-armed
    h.advance(h.now + 30)
    out = c.send(FIN | ACK, seq=PEER_ISN + 1, ack=fin.seq + 1)
    assert out and out[0].seg.flags == ACK
    assert timer_expires(h, c.lport, c.rport) == pytest.approx(h.now + 60)
    # an in-window RST kills it (TIME_WAIT assassination, tcp_rfc1337=0)
    c.send(RST, seq=PEER_ISN + 2)
    assert not c.in_table()


def test_time_wait_syn_with_higher_seq_reopens_via_listener() -> None:
    h = Harness()
    # server-side connection that we close first -> TIME_WAIT on the server
    c = established_passive(h, listen(h, port=80), sport=40000, isn=100, ts=5, wscale=None,
                            sack=False)
    c.sock.close()
    fin = c.take()[0].seg
    c.send(FIN | ACK, ack=fin.seq + 1)
    assert c.tw_state() == "TIME_WAIT"
    out = c.send(SYN, seq=100000, window=64240, mss=1460, tsval=9)
    assert out[0].seg.flags == SYN | ACK
    assert out[0].seg.seq == (fin.seq + 1 + 65535 + 2) & 0xFFFFFFFF  # tw_snd_nxt + 65537


def test_shutdown_wr_sends_fin_and_keeps_reading() -> None:
    h = Harness()
    c = established(h)
    s = c.sock
    s.shutdown(socket.SHUT_WR)
    fin = c.take()[0].seg
    assert fin.flags == FIN | ACK and s.state == "FIN_WAIT1"
    c.send(ACK, b"more", ack=fin.seq + 1)
    assert s.recv(10) == b"more"
    with pytest.raises(BrokenPipeError):
        s.send(b"x")


def test_fin_wait2_rows() -> None:
    # out of window -> ACK
    c = fin_wait2(orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    out = c.send(ACK, b"x", seq=PEER_ISN + 900_000)
    assert out and out[0].seg.flags == ACK and out[0].seg.ack == PEER_ISN + 1
    # RST -> gone
    c = fin_wait2(orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    c.send(RST)
    assert not c.in_table()
    # SYN with seq >= rcv_nxt -> RST
    c = fin_wait2(orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    out = c.send(SYN, seq=PEER_ISN + 10, window=64240, tsval=None)
    assert out[0].seg.flags & RST
    # a pure duplicate ACK -> dropped silently
    c = fin_wait2(orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    assert c.send() == []
    # data (anything but exactly the FIN) -> RST
    c = fin_wait2(orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    out = c.send(ACK | PSH, b"late data")
    assert out[0].seg.flags & RST and not c.in_table()


def test_tcp_fin_timeout_sets_fin_wait2_lifetime() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_fin_timeout"] = 30
    c = fin_wait2(h, orphan=True)
    assert c.tw_state() == "FIN_WAIT2"
    assert timer_expires(h, c.lport, c.rport) == pytest.approx(h.now + 30)
    h.advance(h.now + 30.1)
    assert not c.in_table()


def test_linger2_negative_resets_once_the_fin_is_acked() -> None:
    # tcp_rcv_state_process (FIN_WAIT1, our FIN acknowledged, orphan, TCP_LINGER2 < 0):
    # tcp_done and TCPAbortOnData; the ACK is answered with a RST (seq = its ack). The host
    # kernel's figures: test_linger2_negative_on_the_host_kernel
    h = Harness()
    c = established(h)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, -1)
    before = h.counters()
    c.sock.close()
    fin = c.take()[0].seg
    assert fin.flags == FIN | ACK
    out = c.send(ack=fin.seq + 1)
    assert [(p.seg.flags, p.seg.seq) for p in out] == [(RST, fin.seq + 1)]
    assert not c.in_table()
    d = h.delta(before)
    assert {k: d.get(k, 0) for k in LINGER2_COUNTERS} == LINGER2_KERNEL


LINGER2_COUNTERS = ("TcpExt.TCPAbortOnData", "TcpExt.TCPAbortOnLinger", "Tcp.OutRsts",
                    "Tcp.EstabResets")
# the host kernel, one side of a loopback connection (the peer's RST-free side does not touch
# these): the same case as above
LINGER2_KERNEL = {"TcpExt.TCPAbortOnData": 1, "TcpExt.TCPAbortOnLinger": 0, "Tcp.OutRsts": 1,
                  "Tcp.EstabResets": 0}


@pytest.mark.root
def test_linger2_negative_on_the_host_kernel(netns_ok: None) -> None:
    code = ("import json, socket, time\n"
            "def c():\n"
            "    out = {}\n"
            "    for f in ('/proc/net/netstat', '/proc/net/snmp'):\n"
            "        lines = open(f).read().splitlines()\n"
            "        for a, b in zip(lines[::2], lines[1::2]):\n"
            "            g = a.split()[0].rstrip(':')\n"
            "            for k, v in zip(a.split()[1:], b.split()[1:]):\n"
            "                out[g + '.' + k] = int(v)\n"
            "    return out\n"
            "l = socket.socket(); l.bind(('127.0.0.1', 7000)); l.listen()\n"
            "s = socket.create_connection(('127.0.0.1', 7000)); p, _ = l.accept()\n"
            "s.setsockopt(socket.IPPROTO_TCP, socket.TCP_LINGER2, -1)\n"
            "b = c(); s.close(); time.sleep(0.2); a = c()\n"
            "print(json.dumps({k: a[k] - b[k] for k in a}))\n")
    with loopback_ns() as ns:
        d = json.loads(ns.run(sys.executable, "-c", code))
    # both ends are in the namespace: the peer in CLOSE_WAIT, reset, adds its EstabResets
    assert d["Tcp.EstabResets"] == 1
    d["Tcp.EstabResets"] -= 1
    assert {k: d[k] for k in LINGER2_COUNTERS} == LINGER2_KERNEL


def test_rfc1337_keeps_time_wait_on_rst() -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_rfc1337"] = 1
    c = established(h)
    c.sock.close()
    fin = c.take()[0].seg
    c.send(FIN | ACK, ack=fin.seq + 1)
    c.send(RST, seq=PEER_ISN + 2)
    assert c.in_table()


def test_time_wait_paws_reject_gets_ack() -> None:
    h = Harness()
    c = established(h)
    c.sock.close()
    fin = c.take()[0].seg
    c.send(FIN | ACK, ack=fin.seq + 1, tsval=5000)
    out = c.send(ACK, b"x", seq=PEER_ISN + 2, ack=fin.seq + 1, tsval=10, tsecr=0)
    assert out and out[0].seg.flags == ACK and h.counter("PAWSTimewait") == 1


def test_close_in_syn_sent_and_listen_sends_nothing() -> None:
    h = Harness()
    s = syn_sent(h).sock
    s.close()
    # close() in SYN_SENT goes straight to CLOSE without tcp_done: no AttemptFails
    # (checked on the 6.18 kernel: ActiveOpens +1, AttemptFails +0)
    assert h.take() == [] and h.counter("AttemptFails") == 0
    ls = listen(h).sock
    ls.close()
    assert h.take() == [] and not [e for e in table(h) if e.kind == "listen"]


def test_rst_in_close_wait_with_rcv_nxt_minus_one_is_accepted() -> None:
    h = Harness()
    c = close_wait(h)
    assert c.state == "CLOSE_WAIT"
    # tcp_reset_check: seq == rcv_nxt - 1 resets CLOSE_WAIT/LAST_ACK/CLOSING
    c.send(RST, seq=PEER_ISN + 1)
    assert c.state == "CLOSE"
    with pytest.raises(BrokenPipeError):
        c.sock.send(b"x")  # tcp_reset in CLOSE_WAIT reports EPIPE
