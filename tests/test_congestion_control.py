"""Choosing the congestion control (issue 15): net.ipv4.tcp_congestion_control and its lists,
TCP_CONGESTION, what a listener's children get, and CUBIC's own arithmetic. The sysctl writes
and the inheritance run the same case on the host kernel (root)."""

from __future__ import annotations

import errno
import socket
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tuxtcp
from states import pair
from tuxtcp.host.netns import all_congestion_controls_allowed, loopback_ns
from tuxtcp.net.namespace import NetNamespace
from tuxtcp.socket.api import Socket
from tuxtcp.tcp.cubic import CUBE_FACTOR, Bictcp, _update, cubic_root

CC = "net.ipv4.tcp_congestion_control"
# writes to the sysctl: (bytes written, errno or 0); "" changes nothing (proc_dostring)
WRITES = [(b"reno\n", 0), (b"reno", 0), (b"foo\n", errno.ENOENT), (b" reno", errno.ENOENT),
          (b"reno cubic", errno.ENOENT), (b"", 0)]


def _tuxtcp_write(ns: NetNamespace, value: bytes) -> int:
    try:
        ns.sysctl[CC] = value
    except OSError as e:
        return e.errno or -1
    return 0


def test_sysctl_writes_answer_as_the_kernel() -> None:
    ns = NetNamespace("cc")
    for value, want in WRITES:
        assert _tuxtcp_write(ns, value) == want, value
        assert ns.sysctl[CC] == "reno"  # a refused write changes nothing
    ns.sysctl[CC] = "cubic"
    assert ns.sysctl.render(CC) == "cubic"
    for name in ("net.ipv4.tcp_available_congestion_control",
                 "net.ipv4.tcp_allowed_congestion_control"):
        assert ns.sysctl.render(name) == "reno cubic"
        with pytest.raises(PermissionError):  # mode 0444, even for root
            ns.sysctl[name] = "reno"


_KERNEL_WRITES = r"""
import os, sys
path = "/proc/sys/net/ipv4/tcp_congestion_control"
for value in eval(sys.argv[1]):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value)
        print(0)
    except OSError as e:
        print(e.errno)
    finally:
        os.close(fd)
"""


@pytest.mark.root
def test_sysctl_writes_on_the_kernel(netns_ok: None) -> None:
    with loopback_ns() as ns:
        out = ns.run(sys.executable, "-c", _KERNEL_WRITES, repr([v for v, _ in WRITES]))
    assert [int(x) for x in out.split()] == [want for _, want in WRITES]


# a listener made under default A, the default then switched to B: its children get B unless
# the listener chose one by TCP_CONGESTION (tcp_ca_openreq_child)
_KERNEL_CHILDREN = r"""
import socket
def cc(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0").decode()
def default(name):
    with open("/proc/sys/net/ipv4/tcp_congestion_control", "w") as f:
        f.write(name)
default("reno")
plain = socket.socket()
plain.bind(("127.0.0.1", 8001))
plain.listen()
chose = socket.socket()
chose.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
chose.bind(("127.0.0.1", 8002))
chose.listen()
default("cubic")
for listener, port in ((plain, 8001), (chose, 8002)):
    c = socket.create_connection(("127.0.0.1", port))
    s, _ = listener.accept()
    print(cc(listener), cc(s))
"""


def _listener(host: tuxtcp.Host, port: int, cc: bytes = b"") -> Socket:
    s = host.socket()
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
    s.bind(("0.0.0.0", port))
    s.listen(5)
    return s


def _tuxtcp_children() -> list[str]:
    w, srv, cli = pair()
    srv.sysctl[CC] = "reno"
    out = []
    plain = _listener(srv, 8001)
    chose = _listener(srv, 8002, b"reno")
    srv.sysctl[CC] = "cubic"
    for listener, port in ((plain, 8001), (chose, 8002)):
        c = cli.socket()
        c.connect(("198.18.0.1", port))
        s, _ = listener.accept()
        names = [x.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0")
                 for x in (listener, s)]
        out.append(" ".join(n.decode() for n in names))
    return out


def test_children_get_the_default_of_their_birth_unless_the_listener_chose() -> None:
    assert _tuxtcp_children() == ["reno cubic", "reno reno"]


@pytest.mark.root
def test_children_get_the_same_on_the_kernel(netns_ok: None) -> None:
    with all_congestion_controls_allowed(), loopback_ns() as ns:
        out = ns.run(sys.executable, "-c", _KERNEL_CHILDREN)
    assert out.splitlines() == _tuxtcp_children()


def test_tcp_congestion_restarts_the_algorithm_on_a_connected_socket() -> None:
    # tcp_reinit_congestion_control: a socket past CLOSE/LISTEN starts the new one at once
    w, srv, cli = pair()
    _listener(srv, 80)
    c = cli.socket()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
    c.connect(("198.18.0.1", 80))
    assert not isinstance(c.sk.ca_priv, Bictcp)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
    assert isinstance(c.sk.ca_priv, Bictcp) and c.sk.ca_priv.end_seq == c.sk.snd_nxt


@given(st.integers(0, 2**50))
def test_cubic_root_is_within_the_kernels_error(a: int) -> None:
    # cubic_root: a table seed and one Newton-Raphson step, ~0.2% average error; never off by
    # more than a few percent (plus one for the integer part) over CUBIC's range
    x = cubic_root(a)
    true = a ** (1 / 3)
    assert abs(x - true) <= 0.05 * true + 1


def test_cubic_root_known_values() -> None:
    # K for W_max - cwnd = 6 and 12 segments, as cubictcp computes them (1/1024 s units)
    assert cubic_root(CUBE_FACTOR * 6) == 2523
    assert cubic_root(CUBE_FACTOR * 12) == 3179
    assert [cubic_root(a) for a in (0, 1, 8, 27, 63)] == [0, 1, 2, 3, 4]


def test_bictcp_update_at_most_once_a_jiffy_and_each_32nd_second() -> None:
    # last_time counts jiffies on 6.18 (test_packetdrill_run.py pins it against the kernel)
    ca = Bictcp()
    ca.last_max_cwnd = 20
    _update(ca, 14, 1, 1000)  # the epoch starts: K from W_max 20, cwnd 14
    assert (ca.epoch_start, ca.bic_K, ca.bic_origin_point) == (1000, 2523, 20)
    first = ca.cnt
    _update(ca, 15, 1, 1000)  # cwnd moved, but the same jiffy: cnt stays
    assert ca.cnt == first and ca.last_cwnd == 14
    _update(ca, 15, 1, 1001)  # cwnd moved, the next jiffy: recomputed
    assert ca.last_cwnd == 15 and ca.last_time == 1001
    _update(ca, 15, 1, 1008)  # same cwnd, HZ/32 = 7 jiffies on: nothing
    assert ca.last_time == 1001
    _update(ca, 15, 1, 1009)  # 8 jiffies on: recomputed
    assert ca.last_time == 1009
