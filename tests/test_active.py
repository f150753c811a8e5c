"""Active open: SYN retransmission schedules, connect() errno, simultaneous open."""

import errno
import socket

import pytest

from helpers import Harness
from states import connecting, syn_sent
from tuxtcp.wire.tcp import ACK, RST, SYN


@pytest.mark.parametrize("retries,linear,syncnt,times,fail_at", [
    (6, 4, None, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67], 131),
    (1, 4, None, [0, 1, 2], 3),
    (2, 4, None, [0, 1, 2, 3, 4, 5], 7),
    (6, 4, 3, [0, 1, 2, 3, 4, 5, 7, 11], 19),
    (3, 4, None, [0, 1, 2, 3, 4, 5, 7, 11], 19),
    (4, 0, None, [0, 1, 3, 7, 15], 31),
    (2, 0, None, [0, 1, 3], 7),
])
def test_syn_retransmission_schedule(retries: int, linear: int, syncnt: int | None,
                                     times: list[int], fail_at: int) -> None:
    h = Harness()
    h.sysctl["net.ipv4.tcp_syn_retries"] = retries
    h.sysctl["net.ipv4.tcp_syn_linear_timeouts"] = linear
    s = h.socket()
    if syncnt:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, syncnt)
    s.setblocking(False)
    assert s.connect_ex(("198.18.0.99", 9)) == errno.EINPROGRESS
    first = h.take()
    assert len(first) == 1 and first[0].seg.flags == SYN
    sent = h.advance(fail_at - 0.001)
    assert [0.0] + [round(t, 6) for t, _ in sent] == [float(t) for t in times]
    assert s.state == "SYN_SENT"
    h.advance(fail_at)
    assert s.state == "CLOSE"
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ETIMEDOUT
    assert h.counter("AttemptFails") == 1
    assert h.counter("TCPSynRetrans") == len(times) - 1


def test_blocking_connect_times_out_at_131s() -> None:
    h = Harness()
    s = h.socket()
    with pytest.raises(TimeoutError):
        s.connect(("198.18.0.99", 9))
    assert h.now == pytest.approx(131.0)


def test_rst_to_syn_gives_econnrefused() -> None:
    h = Harness()
    c = syn_sent(h, dport=9)
    c.send(RST | ACK, seq=0, window=0, tsval=None)
    assert c.sock.connect_ex(("198.18.0.2", 9)) == errno.ECONNREFUSED
    assert h.counter("AttemptFails") == 1


def test_connect_errno_sequence() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    assert s.connect_ex(("198.18.0.2", 80)) == errno.EINPROGRESS
    assert s.connect_ex(("198.18.0.2", 80)) == errno.EALREADY
    assert s.connect_ex(("198.18.0.3", 81)) == errno.EALREADY
    with pytest.raises(OSError) as e:
        s.listen(1)
    assert e.value.errno == errno.EINVAL
    c = connecting(h, s)
    out = c.send(SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True, tsval=1)
    assert out[0].seg.flags == ACK and out[0].seg.ack == 5001
    assert s.connect_ex(("198.18.0.2", 80)) == 0  # first call after success reports 0
    assert s.connect_ex(("198.18.0.2", 80)) == errno.EISCONN
    with pytest.raises(OSError) as e:
        s.listen(1)
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        s.bind(("0.0.0.0", 0))
    assert e.value.errno == errno.EINVAL


def test_syn_options_and_window() -> None:
    h = Harness()
    seg = syn_sent(h).sent[0].seg
    assert (seg.window, seg.mss, seg.sack_perm, seg.wscale, seg.tsecr) == (64240, 1460, True, 10, 0)
    assert seg.tsval is not None
    assert h.counter("ActiveOpens") == 1


def test_simultaneous_open() -> None:
    c = syn_sent()
    mysyn = c.sent[0].seg
    out = c.send(SYN, seq=7000, window=64240, mss=1460, wscale=7, sack_perm=True, tsval=50)
    assert out[0].seg.flags == SYN | ACK and out[0].seg.seq == mysyn.seq
    assert out[0].seg.ack == 7001 and c.state == "SYN_RECV"
    c.send(tsval=51)  # 7001, acknowledging our SYN, echoing our SYN-ACK's TSval
    assert c.state == "ESTABLISHED"


def test_first_ack_window_rounds_up_to_the_scale_like_linux() -> None:
    # 6.18's third ACK says "win 63" (scale 10: tcp_rmem[2] is 32 MiB): rcv_ssthresh, the
    # clamp 65536 - 1448, rounded up to 63 << 10 (__tcp_select_window)
    c = syn_sent()
    out = c.send(SYN | ACK, window=65160, mss=1460, wscale=7, sack_perm=True, tsval=1)
    assert out[0].seg.flags == ACK and out[0].seg.window == 63
