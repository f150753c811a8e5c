"""Active open: SYN retransmission schedules, connect() errno, simultaneous open."""

import errno
import socket

import pytest

from helpers import Harness
from tuxtcp.wire.tcp import ACK, RST, SYN, TcpSegment


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
    h.ns.sysctl["net.ipv4.tcp_syn_retries"] = retries
    h.ns.sysctl["net.ipv4.tcp_syn_linear_timeouts"] = linear
    s = h.socket()
    if syncnt:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, syncnt)
    s.setblocking(False)
    assert s.connect_ex(("198.18.0.99", 9)) == errno.EINPROGRESS
    first = h.take()
    assert len(first) == 1 and first[0].seg.flags == SYN
    sent = h.advance(fail_at - 0.001)
    assert [0.0] + [round(t, 6) for t, _ in sent] == [float(t) for t in times]
    assert s.sk.state.name == "SYN_SENT"
    h.advance(fail_at)
    assert s.sk.state.name == "CLOSE"
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ETIMEDOUT
    assert h.ns.mib["AttemptFails"] == 1
    assert h.ns.mib["TCPSynRetrans"] == len(times) - 1


def test_blocking_connect_times_out_at_131s() -> None:
    h = Harness()
    s = h.socket()
    with pytest.raises(TimeoutError):
        s.connect(("198.18.0.99", 9))
    assert h.now == pytest.approx(131.0)


def test_rst_to_syn_gives_econnrefused() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 9))
    syn = h.take()[0].seg
    h.send(TcpSegment(9, syn.sport, 0, syn.seq + 1, RST | ACK, 0))
    assert s.connect_ex(("198.18.0.2", 9)) == errno.ECONNREFUSED
    assert h.ns.mib["AttemptFails"] == 1


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
    syn = h.take()[0].seg
    synack = TcpSegment(80, syn.sport, 5000, syn.seq + 1, SYN | ACK, 65160, mss=1460,
                        wscale=7, sack_perm=True, tsval=1, tsecr=syn.tsval)
    out = h.send(synack)
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
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    p = h.take()[0]
    seg = p.seg
    assert (seg.window, seg.mss, seg.sack_perm, seg.wscale, seg.tsecr) == (64240, 1460, True, 7, 0)
    assert seg.tsval is not None
    assert h.ns.mib["ActiveOpens"] == 1


def test_simultaneous_open() -> None:
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    mysyn = h.take()[0].seg
    their = TcpSegment(80, mysyn.sport, 7000, 0, SYN, 64240, mss=1460, wscale=7, sack_perm=True,
                       tsval=50, tsecr=0)
    out = h.send(their)
    assert out[0].seg.flags == SYN | ACK and out[0].seg.seq == mysyn.seq
    assert out[0].seg.ack == 7001 and s.sk.state.name == "SYN_RECV"
    h.send(TcpSegment(80, mysyn.sport, 7001, mysyn.seq + 1, ACK, 502, tsval=51,
                      tsecr=out[0].seg.tsval))
    assert s.sk.state.name == "ESTABLISHED"


def test_first_ack_window_rounds_up_to_the_scale_like_linux() -> None:
    # Linux's third ACK says "win 502": 64240 rounded up to 502 << 7 (__tcp_select_window)
    h = Harness()
    s = h.socket()
    s.setblocking(False)
    s.connect_ex(("198.18.0.2", 80))
    syn = h.take()[0].seg
    out = h.send(TcpSegment(80, syn.sport, 5000, syn.seq + 1, SYN | ACK, 65160, mss=1460,
                            wscale=7, sack_perm=True, tsval=1, tsecr=syn.tsval))
    assert out[0].seg.flags == ACK and out[0].seg.window == 502
