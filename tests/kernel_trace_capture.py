"""Capture the host kernel's TCP tracepoints for a small scripted session (root only).

    python tests/kernel_trace_capture.py OUT.txt

Two fresh network namespaces A and B (lo up in both, a veth pair v0 198.18.0.1/24 in A and
v1 198.18.0.2/24 in B, ephemeral ports 47010-47099), a private tracefs instance with the seven
events of tuxtcp.net.trace enabled, and then:

1. a loopback session in A on 127.0.0.1:47001: handshake, data both ways, orderly close;
2. a SYN to the closed port 127.0.0.1:47002 (RST, kfree_skb NO_SOCKET, RST received);
3. an abortive close (SO_LINGER 0) of an accepted socket on 127.0.0.1:47003, a close with
   unread data on 127.0.0.1:47007, and on ::1 a session (47008) and a SYN to a closed port;
4. a connect from A to 198.18.0.4:47004, a neighbour that never answers (SYN retransmitted);
5. a raw-socket SYN from 198.18.0.3:47050 to a listener on 198.18.0.1:47005 that is never
   ACKed (the SYN-ACK goes to a silent neighbour and is retransmitted);
6. a connection from B to A on port 47006 whose data segment is lost while B's neighbour entry
   for A points nowhere, retransmitted, then delivered once the entry is removed.

The lines of the instance's `trace` file that belong to this session (ports 47000-47099; the
IPv4 kfree_skb lines of this process and of the softirqs that ran during the session) are written to
OUT. Everything made here is removed again, also on failure: the namespaces, the tracefs
instance (events disabled and filters cleared first), and tracefs itself if this script mounted
it. Only the standard library is used, so the script runs outside any virtualenv.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import socket
import struct
import sys
import time
import uuid
from collections.abc import Iterator

from kernel_tracefs import sh, trace_instance, tracefs_mounted, write

PORT_LO, PORT_HI = 47000, 47099
PORT_FILTER = (f"(sport >= {PORT_LO} && sport <= {PORT_HI}) || "
               f"(dport >= {PORT_LO} && dport <= {PORT_HI})")
CLONE_NEWNET = 0x40000000
A_ADDR, B_ADDR = "198.18.0.1", "198.18.0.2"
SILENT_MAC = "02:00:00:00:00:03"


_libc = ctypes.CDLL(None, use_errno=True)


def setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


@contextlib.contextmanager
def namespaces() -> Iterator[tuple[str, str]]:
    tag = uuid.uuid4().hex[:8]
    a, b = f"tuxtcp_trA_{tag}", f"tuxtcp_trB_{tag}"
    sh("ip", "netns", "add", a)
    try:
        sh("ip", "netns", "add", b)
        try:
            for ns in (a, b):
                sh("ip", "-n", ns, "link", "set", "lo", "up")
                sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                   f"net.ipv4.ip_local_port_range=47010 {PORT_HI}")
            sh("ip", "link", "add", "v0", "netns", a, "type", "veth", "peer", "name", "v1",
               "netns", b)
            sh("ip", "-n", a, "addr", "add", f"{A_ADDR}/24", "dev", "v0")
            sh("ip", "-n", b, "addr", "add", f"{B_ADDR}/24", "dev", "v1")
            sh("ip", "-n", a, "link", "set", "v0", "up")
            sh("ip", "-n", b, "link", "set", "v1", "up")
            for silent in ("198.18.0.3", "198.18.0.4"):
                sh("ip", "-n", a, "neigh", "replace", silent, "lladdr", SILENT_MAC, "dev", "v0",
                   "nud", "permanent")
            yield a, b
        finally:
            sh("ip", "netns", "del", b, check=False)
    finally:
        sh("ip", "netns", "del", a, check=False)


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def raw_syn(src: str, sport: int, dst: str, dport: int) -> bytes:
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0x12345678, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    return ip + tcp


def tcp_socket(timeout: float = 5.0) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    return s


def expect_reset(c: socket.socket) -> None:
    try:
        c.recv(16)
    except ConnectionResetError:
        return
    raise AssertionError("no RST received")


def session(a: str, b: str) -> None:
    home = "/proc/self/ns/net"
    home_fd = os.open(home, os.O_RDONLY)
    try:
        setns(f"/run/netns/{a}")
        # 1. loopback handshake, data, orderly close (client closes first)
        ls = tcp_socket()
        ls.bind(("127.0.0.1", 47001))
        ls.listen(4)
        c = tcp_socket()
        c.connect(("127.0.0.1", 47001))
        s, _ = ls.accept()
        s.settimeout(5.0)
        c.sendall(b"ping")
        assert s.recv(16) == b"ping"
        s.sendall(b"pong")
        assert c.recv(16) == b"pong"
        c.close()
        assert s.recv(16) == b""
        s.close()
        ls.close()
        time.sleep(0.05)

        # 2. SYN to a closed port
        c = tcp_socket()
        try:
            c.connect(("127.0.0.1", 47002))
            raise AssertionError("connect to a closed port succeeded")
        except ConnectionRefusedError:
            pass
        c.close()
        time.sleep(0.05)

        # 3. abortive close of an accepted socket
        ls = tcp_socket()
        ls.bind(("127.0.0.1", 47003))
        ls.listen(4)
        c = tcp_socket()
        c.connect(("127.0.0.1", 47003))
        s, _ = ls.accept()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        expect_reset(c)
        c.close()
        ls.close()
        time.sleep(0.05)

        # 3b. close with unread data
        ls = tcp_socket()
        ls.bind(("127.0.0.1", 47007))
        ls.listen(4)
        c = tcp_socket()
        c.connect(("127.0.0.1", 47007))
        s, _ = ls.accept()
        c.sendall(b"unread")
        time.sleep(0.05)
        s.close()
        expect_reset(c)
        c.close()
        ls.close()
        time.sleep(0.05)

        # 3c. IPv6 loopback: a session, then a SYN to a closed port
        ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        ls.settimeout(5.0)
        ls.bind(("::1", 47008))
        ls.listen(4)
        c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        c.settimeout(5.0)
        c.connect(("::1", 47008))
        s, _ = ls.accept()
        c.close()
        s.close()
        ls.close()
        c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        c.settimeout(5.0)
        try:
            c.connect(("::1", 47009))
            raise AssertionError("connect to a closed port succeeded")
        except ConnectionRefusedError:
            pass
        c.close()
        time.sleep(0.05)

        # 4 and 5 together: a SYN to a silent peer, and a SYN-ACK never ACKed
        syn = tcp_socket()
        syn.setblocking(False)
        assert syn.connect_ex(("198.18.0.4", 47004)) == 115  # EINPROGRESS
        ls5 = tcp_socket()
        ls5.bind((A_ADDR, 47005))
        ls5.listen(4)
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw.sendto(raw_syn("198.18.0.3", 47050, A_ADDR, 47005), (A_ADDR, 0))
        raw.close()
        time.sleep(3.5)  # SYN retransmitted at ~1 s and ~3 s, the SYN-ACK too
        syn.close()
        ls5.close()

        # 6. a lost data segment from B to A, retransmitted
        ls = tcp_socket()
        ls.bind((A_ADDR, 47006))
        ls.listen(4)
        setns(f"/run/netns/{b}")
        c = tcp_socket()
        c.connect((A_ADDR, 47006))
        s, _ = ls.accept()
        s.settimeout(5.0)
        sh("ip", "-n", b, "neigh", "replace", A_ADDR, "lladdr", SILENT_MAC, "dev", "v1",
           "nud", "permanent")
        c.sendall(b"x" * 100)
        time.sleep(0.7)  # RTO 200 ms, then 400 ms
        sh("ip", "-n", b, "neigh", "del", A_ADDR, "dev", "v1")
        got = b""
        for _ in range(20):
            got += s.recv(200)
            if len(got) >= 100:
                break
        assert got == b"x" * 100
        c.close()
        assert s.recv(16) == b""
        s.close()
        ls.close()
        time.sleep(0.1)
    finally:
        if _libc.setns(home_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(home_fd)


OURS = re.compile(rf":({'|'.join(str(p) for p in range(PORT_LO, PORT_HI + 1))})\b")


def keep(line: str, pids: set[str]) -> bool:
    """This session's lines: port-filtered events pass; tcp_send_reset by its src/dest ports;
    kfree_skb from this process or from a CPU's softirq (ksoftirqd or the idle task)."""
    if line.startswith("#") or not line.strip():
        return False
    m = re.match(r"\s*(.+)-(\d+)\s+\[\d+\]\s+\S+\s+[\d.]+: (\w+): ", line)
    if not m:
        return False
    task, pid, name = m.groups()
    if name == "tcp_send_reset":
        return bool(OURS.search(line))
    if name == "kfree_skb":
        return pid in pids or task.startswith("ksoftirqd") or pid == "0"
    return True


def capture(out: str) -> int:
    with (tracefs_mounted(), trace_instance(PORT_FILTER, True, "tuxtcp_cap") as inst,
          namespaces() as (a, b)):
        write(os.path.join(inst, "trace"), "")  # clear
        session(a, b)
        time.sleep(0.2)
        write(os.path.join(inst, "tracing_on"), "0")
        with open(os.path.join(inst, "trace")) as f:
            lines = f.read().splitlines()
    kept = [ln for ln in lines if keep(ln, {str(os.getpid())})]
    with open(out, "w") as f:
        f.write("\n".join(kept) + "\n")
    return len(kept)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    n = capture(sys.argv[1])
    print(f"{n} lines written to {sys.argv[1]}")
