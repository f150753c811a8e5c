"""The window scale we offer (tcp_select_initial_window): enough for the largest window the
socket could grow to, max(tcp_full_space, tcp_rmem[2], rmem_max), clamped by SO_RCVBUF once it
locks the buffer (tcp_openreq_init_rwin). The root test reads the same figures from the host
kernel (tcpi_rcv_wscale of both ends of a loopback connection in a fresh namespace)."""

from __future__ import annotations

import json
import socket
import sys

import pytest

import states as S
from helpers import Harness
from tuxtcp.host.netns import loopback_ns

# (tcp_rmem, SO_RCVBUF on both ends or None) -> the scale both ends offer
CASES = [
    (None, None, 10),  # 6.18's default tcp_rmem[2], 32 MiB: ilog2(33554432) - 15
    ("4096 131072 6291456", None, 7),  # 6 MiB, the default before 6.18
    ("4096 540000 15728640", None, 8),  # packetdrill's defaults.sh
    ("4096 131072 33554432", None, 10),
    ("4096 131072 131072", None, 2),  # rmem_max (212992) is larger: it decides
    (None, 20000, 0),  # SO_RCVBUF: sk_rcvbuf 40000, full space 20000, clamped there
    (None, 1 << 20, 2),  # SO_RCVBUF is capped at rmem_max: full space 212992
]


def ours(rmem: str | None, rcvbuf: int | None, rmem_max: int | None = None
         ) -> tuple[int, int]:
    """(the SYN-ACK's scale, our SYN's scale) on tuxtcp."""
    h = Harness()
    if rmem_max is not None:
        h.sysctl["net.core.rmem_max"] = rmem_max
    if rmem is not None:
        h.sysctl["net.ipv4.tcp_rmem"] = rmem
    ls = h.socket()
    if rcvbuf is not None:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    ls.bind(("0.0.0.0", S.LISTEN_PORT))
    ls.listen(5)
    syn = S.syn(40000, ts=None)
    synack = h.send(syn)[0].seg
    c = h.socket()
    if rcvbuf is not None:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    c.setblocking(False)
    c.connect_ex((S.PEER, 80))
    ours_syn = h.take()[0].seg
    assert synack.wscale is not None and ours_syn.wscale is not None
    return synack.wscale, ours_syn.wscale


@pytest.mark.parametrize("rmem,rcvbuf,scale", CASES)
def test_offered_window_scale(rmem: str | None, rcvbuf: int | None, scale: int) -> None:
    assert ours(rmem, rcvbuf) == (scale, scale)


def test_tcp_rmem_is_three_values_and_sets_the_default_buffer() -> None:
    h = Harness()
    assert h.sysctl["net.ipv4.tcp_rmem"] == (4096, 131072, 33554432)  # a fresh 6.18 netns
    h.sysctl["net.ipv4.tcp_rmem"] = "4096 540000 15728640"
    assert h.socket().getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 540000
    with pytest.raises(OSError):
        h.sysctl["net.ipv4.tcp_rmem"] = "0 1 2"  # each value at least 1


KERNEL = r'''
import json, socket, struct, sys
rcvbuf = json.loads(sys.argv[1])
l = socket.socket()
if rcvbuf:
    l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
l.bind(("127.0.0.1", 7000)); l.listen()
c = socket.socket()
if rcvbuf:
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
c.connect(("127.0.0.1", 7000)); a, _ = l.accept()
def scale(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[6] >> 4  # tcpi_rcv_wscale
print(json.dumps([scale(a), scale(c)]))
'''


@pytest.mark.root
def test_the_host_kernel_offers_the_same_scales(netns_ok: None) -> None:
    # net.core.rmem_max is host-wide (this machine raises it to 4 MiB): tuxtcp is given the
    # host's value, and both must agree case by case
    with loopback_ns() as ns:
        rmem_max = int(ns.sysctl("net.core.rmem_max"))
        for rmem, rcvbuf, _ in CASES:
            if rmem is not None:  # (the first case reads the fresh namespace's default)
                ns.sysctl("net.ipv4.tcp_rmem", rmem)
            got = json.loads(ns.run(sys.executable, "-c", KERNEL, json.dumps(rcvbuf)))
            assert tuple(got) == ours(rmem, rcvbuf, rmem_max), (rmem, rcvbuf, rmem_max)
