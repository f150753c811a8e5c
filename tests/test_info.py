"""TCP_INFO: Socket.tcp_info() and getsockopt(IPPROTO_TCP, TCP_INFO) in the kernel's layout."""

import errno
import socket
import struct
import sys

import pytest

import states as S
from helpers import Harness
from tuxtcp.host.netns import loopback_ns
from tuxtcp.host.tcpinfo import decode_tcp_info as decode
from tuxtcp.tcp.info import KERNEL_FIELDS as INFO_KERNEL_FIELDS
from tuxtcp.tcp.info import TCP_INFO_FORMAT, TCP_INFO_LEN
from tuxtcp.wire.tcp import ACK, SYN

KERNEL_FIELDS = list(INFO_KERNEL_FIELDS)


def test_layout_is_the_6_18_struct() -> None:
    assert TCP_INFO_LEN == 280
    assert struct.calcsize("@" + TCP_INFO_FORMAT[1:]) == TCP_INFO_LEN  # no padding anywhere
    assert len(KERNEL_FIELDS) == 70


def test_getsockopt_bytes_match_the_object() -> None:
    c = S.established_active()
    info = c.sock.tcp_info()
    raw = c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    assert isinstance(raw, bytes) and len(raw) == TCP_INFO_LEN  # the kernel's size, not 512
    got = decode(raw)
    assert got == {n: getattr(info, n) for n in KERNEL_FIELDS}
    assert got["tcpi_state"] == 1 and got["tcpi_snd_mss"] == 1448
    assert (got["tcpi_snd_wscale"], got["tcpi_rcv_wscale"]) == (7, 10)
    assert struct.unpack_from("=I", raw, 228)[0] == info.tcpi_snd_wnd == 65160  # the SYN-ACK's
    # cut to the buffer; without one, Python reads an int from the start
    assert c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8) == raw[:8]
    assert c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO) == struct.unpack_from(
        "i", raw)[0]


def test_listener_aliases_accept_queue_and_backlog() -> None:
    lst = S.listen(backlog=7)
    S.established_passive(listener=lst).sock.close()
    S.syn_recv(listener=lst, sport=40001).complete()
    raw = lst.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 280)
    assert isinstance(raw, bytes)
    # what Linux 6.18 returned for listen(7): state 0x0a, unacked at 24, sacked at 28
    assert raw[0] == 0x0A and struct.unpack_from("=II", raw, 24) == (1, 7)
    assert S.accept_queue_len(lst.sock) == 1 and S.backlog(lst.sock) == 7


def test_rtt_rto_and_units() -> None:
    c = S.syn_sent()
    c.advance(0.05)
    c.send(SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True)  # at t = 50 ms
    info = c.sock.tcp_info()
    # one 50 ms sample: srtt 50 ms, rttvar 25 ms, rto = srtt + max(4 * rttvar, 200 ms)
    assert (info.tcpi_rtt, info.tcpi_rttvar, info.tcpi_rto) == (50_000, 25_000, 250_000)
    assert info.tcpi_pacing_rate == int(1448 * 10 * 2 / 0.05)  # 200% of cwnd * mss / srtt


def test_counts_in_flight_and_queues() -> None:
    c = S.established_active()
    c.sock.send(b"a" * 3000)
    # Minshall's Nagle: the partial 104 goes too, no earlier partial segment is out
    assert [len(p.seg.payload) for p in c.take()] == [1448, 1448, 104]
    c.sock.send(b"b" * 10)  # now one is: these 10 bytes wait for its ACK
    assert c.take() == []
    info = c.sock.tcp_info()
    assert info.tcpi_unacked == 3 and info.send_queue == 3010 and info.tcpi_notsent_bytes == 10
    out = c.send(ack=c.nxt)  # all three acknowledged: the 10 bytes go
    assert [len(p.seg.payload) for p in out] == [10]
    info = c.sock.tcp_info()
    # bytes_acked counts an active opener's SYN (the host kernel: 101 after 100 bytes)
    assert info.tcpi_unacked == 1 and info.tcpi_bytes_acked == 3001 and info.send_queue == 10
    assert info.tcpi_notsent_bytes == 0
    c.send(ACK, b"z" * 10, ack=c.nxt)
    info = c.sock.tcp_info()
    assert info.tcpi_bytes_received == 10 and info.recv_queue == 10 and info.tcpi_unacked == 0


def test_after_close_and_other_types() -> None:
    c = S.fin_wait1(orphan=True)
    c.sock.close()
    assert c.sock.tcp_info().state == "FIN_WAIT1"  # ss -ti still shows the orphan
    with pytest.raises(OSError) as e:
        c.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 280)
    assert e.value.errno == errno.EBADF
    udp = Harness().socket(type=socket.SOCK_DGRAM)
    assert udp.tcp_info().pack() == bytes(TCP_INFO_LEN)


def test_layout_against_the_host_kernel() -> None:
    """A real loopback connection's TCP_INFO decodes field for field with our layout."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with ls, socket.create_connection(ls.getsockname()) as c:
        raw = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
        if len(raw) != TCP_INFO_LEN:
            pytest.skip(f"the host kernel's struct tcp_info has {len(raw)} bytes, not 280")
        got = decode(raw)
        mss = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    assert got["tcpi_state"] == 1 and got["tcpi_snd_mss"] == mss
    assert got["tcpi_options"] & 7 == 7 and got["tcpi_snd_ssthresh"] == 0x7FFFFFFF
    assert got["tcpi_pmtu"] == 65535 and got["tcpi_advmss"] == 65483  # loopback
    assert got["tcpi_max_pacing_rate"] == 2**64 - 1 and got["tcpi_reordering"] == 3
    assert got["tcpi_snd_wnd"] > 0 and got["tcpi_rcv_wnd"] > 0 and got["tcpi_total_rto"] == 0


def test_bytes_acked_and_received_count_syns_as_the_kernel_does() -> None:
    """tcp_snd_una_update counts what snd_una moves over: an active opener's SYN too, the
    passive side's never (its snd_una starts past the SYN); bytes_received counts no SYN.
    The host kernel on loopback after 100 bytes one way and 50 the other: active (101, 50),
    passive (50, 100); test_bytes_acked_on_the_host_kernel checks that live."""
    w, srv, cli = S.pair()
    _, c, a = S.connected(srv, cli)
    c.sendall(b"x" * 100)
    a.sendall(b"y" * 50)
    assert a.recv(1000) == b"x" * 100 and c.recv(1000) == b"y" * 50
    w.run(1.0)
    ci, ai = c.tcp_info(), a.tcp_info()
    assert (ci.tcpi_bytes_acked, ci.tcpi_bytes_received) == (101, 50)
    assert (ai.tcpi_bytes_acked, ai.tcpi_bytes_received) == (50, 100)


@pytest.mark.root
def test_bytes_acked_on_the_host_kernel(netns_ok: None) -> None:
    code = ("import socket, struct, time\n"
            "l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen()\n"
            "c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n"
            "c.send(b'x' * 100); s.send(b'y' * 50); time.sleep(0.2)\n"
            "for so in (c, s):\n"
            "    raw = so.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 280)\n"
            "    print(*struct.unpack_from('=QQ', raw, 120))\n")
    with loopback_ns() as ns:
        out = ns.run(sys.executable, "-c", code).split()
    assert struct.calcsize("=QQ") == 16
    assert list(map(int, out)) == [101, 50, 50, 100]
