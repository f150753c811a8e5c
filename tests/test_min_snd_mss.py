"""A peer's MSS option never takes our segments below net.ipv4.tcp_min_snd_mss (issue 10;
tcp_output.c: tcp_sync_mss -> __tcp_mtu_to_mss clamps the MSS to at least the sysctl, then the
timestamp option's 12 bytes come off). The sysctl's range (48..65535) is the kernel's: the
root test writes the same values in a fresh namespace of the host kernel."""

from __future__ import annotations

import errno
import socket
import subprocess
import uuid

import pytest

import states as S
from helpers import Harness, syn, third_ack
from tuxtcp.wire.tcp import ACK, PSH, SYN

TCP = socket.IPPROTO_TCP


def maxseg(c: S.Conn) -> int:
    return int(c.sock.getsockopt(TCP, socket.TCP_MAXSEG))


def test_peer_mss_1_on_a_passive_open_gives_48_less_timestamps() -> None:
    c = S.established_passive(mss=1)
    assert maxseg(c) == 36
    c.take()
    c.sock.setsockopt(TCP, socket.TCP_NODELAY, 1)
    c.sock.send(b"d" * 100)
    out = c.take()
    assert [len(p.seg.payload) for p in out[:1]] == [36]
    assert all(len(p.seg.payload) <= 36 for p in out)


def test_peer_mss_1_without_timestamps_gives_48() -> None:
    c = S.established_passive(mss=1, ts=None)
    assert maxseg(c) == 48


def test_peer_mss_1_on_an_active_open() -> None:
    c = S.syn_sent()
    out = c.send(SYN | ACK, window=65160, mss=1, wscale=7, sack_perm=True)
    assert [p.seg.flags for p in out] == [ACK]
    assert maxseg(c) == 36


def test_the_sysctl_raises_the_floor() -> None:
    h = S.Harness()
    h.sysctl["net.ipv4.tcp_min_snd_mss"] = 100
    c = S.established_passive(h, mss=1)
    assert maxseg(c) == 88
    c.take()
    c.sock.send(b"d" * 200)
    assert [len(p.seg.payload) for p in c.take()][:1] == [88]
    c.send(ACK | PSH, b"x")  # (the connection still works both ways)


def test_a_normal_peer_mss_is_unchanged() -> None:
    c = S.established_passive(mss=1460)
    assert maxseg(c) == 1448


@pytest.mark.parametrize("value,ok", [(47, False), (48, True), (65535, True), (65536, False)])
def test_sysctl_range_is_the_kernels(value: int, ok: bool) -> None:
    h = S.Harness()
    if ok:
        h.sysctl["net.ipv4.tcp_min_snd_mss"] = value
        assert h.sysctl["net.ipv4.tcp_min_snd_mss"] == value
    else:
        with pytest.raises(OSError) as e:
            h.sysctl["net.ipv4.tcp_min_snd_mss"] = value
        assert e.value.errno == errno.EINVAL
        assert h.sysctl["net.ipv4.tcp_min_snd_mss"] == 48


@pytest.mark.root
def test_sysctl_range_matches_the_host_kernel(netns_ok: None) -> None:
    name = f"tuxmss-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for value in (47, 48, 65535, 65536, 1000):
            r = subprocess.run(["ip", "netns", "exec", name, "sh", "-c",
                                f"echo {value} > /proc/sys/net/ipv4/tcp_min_snd_mss"],
                               capture_output=True)
            h = S.Harness()
            try:
                h.sysctl["net.ipv4.tcp_min_snd_mss"] = value
                ours = True
            except OSError:
                ours = False
            assert ours == (r.returncode == 0), value
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_listener_tcp_maxseg_caps_the_synack_mss_and_the_childs_advmss() -> None:
    # tcp_make_synack / tcp_v4_syn_recv_sock: tcp_mss_clamp(listener, advmss) (the shared
    # corpus's mss/mss-setsockopt-tcp_maxseg-server.pkt, passing on 6.18: <mss 1100,...>)
    h = Harness()
    ls = h.socket()
    ls.bind(("0.0.0.0", S.LISTEN_PORT))
    ls.listen(5)
    ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1100)
    synack = h.send(syn(40000, mss=1300, ts=None))[0].seg
    assert synack.mss == 1100
    h.send(third_ack(synack, ts=None))
    child, _ = ls.accept()
    info = child.tcp_info()
    assert (info.tcpi_advmss, info.tcpi_snd_mss) == (1100, 1100)
    assert child.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) == 1100
