"""Bad arguments to the socket API: tuxtcp raises what CPython's socket module raises on Linux,
checked against a real kernel socket in the same test (issue 10). Each case runs on a host
kernel socket (on loopback: nothing leaves the machine) and on a tuxtcp socket in the same
state, and the two outcomes (exception type, errno, message; or the value returned) must be
equal. Where a call fails, nothing may have changed: the cases on a connected socket read the
pending bytes afterwards and must find them all."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

import states as S

PENDING = b"0123456789"  # what the peer sent before each case on a connected socket

Outcome = tuple[Any, ...]


def outcome(call: Callable[[Any], object], s: Any) -> Outcome:
    try:
        value = call(s)
    except Exception as e:  # noqa: BLE001 (the exception is what is compared)
        return (type(e).__name__, getattr(e, "errno", None), str(e))
    if isinstance(value, (bytes, int, float, str, type(None), tuple)):
        return ("ok", value)
    return ("ok", type(value).__name__)


# --- sockets in each state: the host kernel's ---------------------------------------------
class Kernel:
    def __init__(self) -> None:
        self.open: list[socket.socket] = []

    def new(self) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.open.append(s)
        return s

    def fresh(self) -> socket.socket:
        return self.new()

    def listening(self) -> socket.socket:
        s = self.new()
        s.bind(("127.0.0.1", 0))
        s.listen(5)
        return s

    def connected(self) -> socket.socket:
        ls = self.listening()
        c = self.new()
        c.connect(ls.getsockname())
        conn, _ = ls.accept()
        self.open.append(conn)
        c.sendall(PENDING)
        conn.settimeout(5)
        conn.recv(0)  # nothing consumed; (a zero-byte read returns at once)
        return conn

    def closed(self) -> socket.socket:
        s = self.new()
        s.close()
        return s

    def close(self) -> None:
        for s in self.open:
            s.close()


# --- and tuxtcp's, on a simulated link --------------------------------------------------
class Tux:
    def __init__(self) -> None:
        self.w, self.srv, self.cli = S.pair()

    def fresh(self) -> Any:
        return self.srv.socket()

    def listening(self) -> Any:
        s = self.srv.socket()
        s.bind(("198.18.0.1", 0))
        s.listen(5)
        return s

    def connected(self) -> Any:
        ls = self.listening()
        c = self.cli.socket()
        c.connect(("198.18.0.1", ls.getsockname()[1]))
        conn, _ = ls.accept()
        c.sendall(PENDING)
        self.w.run(0.01)
        return conn

    def closed(self) -> Any:
        s = self.srv.socket()
        s.close()
        return s

    def close(self) -> None:
        pass


SOL, TCP = socket.SOL_SOCKET, socket.IPPROTO_TCP
CASES: list[tuple[str, str, Callable[[Any], object]]] = [
    # recv family: sizes and flags are checked before anything is read
    ("recv negative", "connected", lambda s: s.recv(-1)),
    ("recv str size", "connected", lambda s: s.recv("10")),
    ("recv float size", "connected", lambda s: s.recv(1.5)),
    ("recv str flags", "connected", lambda s: s.recv(10, "0")),
    ("recv huge size", "connected", lambda s: s.recv(2**63)),
    ("recv_into too small", "connected", lambda s: s.recv_into(bytearray(4), 10)),
    ("recv_into negative", "connected", lambda s: s.recv_into(bytearray(4), -1)),
    ("recv_into bytes", "connected", lambda s: s.recv_into(b"abcd")),
    ("recv_into str", "connected", lambda s: s.recv_into("abcd")),
    ("recv_into flags str", "connected", lambda s: s.recv_into(bytearray(4), 4, "0")),
    ("recvfrom negative", "connected", lambda s: s.recvfrom(-1)),
    ("recvfrom_into too small", "connected", lambda s: s.recvfrom_into(bytearray(2), 5)),
    ("recv on a listener", "listening", lambda s: s.recv(1)),
    ("recv on a fresh socket", "fresh", lambda s: s.recv(1)),
    ("recv on a closed socket", "closed", lambda s: s.recv(1)),
    # send family
    ("send str", "connected", lambda s: s.send("abc")),
    ("send int", "connected", lambda s: s.send(5)),
    ("send str flags", "connected", lambda s: s.send(b"abc", "0")),
    ("sendall str", "connected", lambda s: s.sendall("abc")),
    ("send on a fresh socket", "fresh", lambda s: s.send(b"x")),
    ("send on a listener", "listening", lambda s: s.send(b"x")),
    ("send on a closed socket", "closed", lambda s: s.send(b"x")),
    # listen
    ("listen 2**32", "fresh", lambda s: s.listen(2**32)),
    ("listen 2**31", "fresh", lambda s: s.listen(2**31)),
    ("listen -2**31-1", "fresh", lambda s: s.listen(-2**31 - 1)),
    ("listen float", "fresh", lambda s: s.listen(1.5)),
    ("listen str", "fresh", lambda s: s.listen("5")),
    ("listen on a connected socket", "connected", lambda s: s.listen(5)),
    ("listen on a closed socket", "closed", lambda s: s.listen(5)),
    # timeouts and blocking
    ("settimeout negative", "fresh", lambda s: s.settimeout(-1)),
    ("settimeout str", "fresh", lambda s: s.settimeout("1")),
    ("settimeout nan", "fresh", lambda s: s.settimeout(float("nan"))),
    ("settimeout inf", "fresh", lambda s: s.settimeout(float("inf"))),
    ("settimeout huge", "fresh", lambda s: s.settimeout(1e300)),
    ("setblocking str", "fresh", lambda s: s.setblocking("x")),
    ("setblocking None", "fresh", lambda s: s.setblocking(None)),
    # options
    ("setsockopt str value", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, "1")),
    ("setsockopt 2**32", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, 2**32)),
    ("setsockopt float", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, 1.0)),
    ("setsockopt short bytes", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, b"\1")),
    ("setsockopt None no optlen", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, None)),
    ("setsockopt str level", "fresh", lambda s: s.setsockopt("1", socket.SO_REUSEADDR, 1)),
    ("setsockopt TCP_MAXSEG 0", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_MAXSEG, 0)),
    ("setsockopt TCP_MAXSEG 87", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_MAXSEG, 87)),
    ("setsockopt TCP_MAXSEG 70000", "fresh",
     lambda s: s.setsockopt(TCP, socket.TCP_MAXSEG, 70000)),
    ("getsockopt buflen 0", "fresh", lambda s: s.getsockopt(SOL, socket.SO_REUSEADDR, 0)),
    ("getsockopt buflen -1", "fresh", lambda s: s.getsockopt(SOL, socket.SO_REUSEADDR, -1)),
    ("getsockopt buflen 1025", "fresh", lambda s: s.getsockopt(SOL, socket.SO_REUSEADDR, 1025)),
    ("getsockopt buflen str", "fresh", lambda s: s.getsockopt(SOL, socket.SO_REUSEADDR, "4")),
    ("getsockopt str name", "fresh", lambda s: s.getsockopt(SOL, "2")),
    # addresses
    ("bind str", "fresh", lambda s: s.bind("0.0.0.0")),
    ("bind triple", "fresh", lambda s: s.bind(("0.0.0.0", 0, 0))),
    ("bind port 70000", "fresh", lambda s: s.bind(("0.0.0.0", 70000))),
    ("bind port -1", "fresh", lambda s: s.bind(("0.0.0.0", -1))),
    ("bind port str", "fresh", lambda s: s.bind(("0.0.0.0", "80"))),
    ("bind host int", "fresh", lambda s: s.bind((0, 0))),
    ("bind list", "fresh", lambda s: s.bind(["0.0.0.0", 0])),
    ("bind twice", "listening", lambda s: s.bind(("0.0.0.0", 0))),
    ("connect port 70000", "fresh", lambda s: s.connect(("127.0.0.1", 70000))),
    ("connect str", "fresh", lambda s: s.connect("127.0.0.1")),
    ("connect_ex port str", "fresh", lambda s: s.connect_ex(("127.0.0.1", "1"))),
    ("connect on a closed socket", "closed", lambda s: s.connect(("127.0.0.1", 1))),
    # shutdown, names, accept
    ("shutdown 3", "connected", lambda s: s.shutdown(3)),
    ("shutdown -1", "connected", lambda s: s.shutdown(-1)),
    ("shutdown str", "connected", lambda s: s.shutdown("1")),
    ("shutdown on a fresh socket", "fresh", lambda s: s.shutdown(socket.SHUT_RDWR)),
    ("getpeername on a fresh socket", "fresh", lambda s: s.getpeername()),
    ("getpeername on a closed socket", "closed", lambda s: s.getpeername()),
    ("getsockname on a closed socket", "closed", lambda s: s.getsockname()),
    ("accept on a fresh socket", "fresh", lambda s: s.accept()),
    ("fileno on a closed socket", "closed", lambda s: s.fileno()),
    # sizes and flags at the edges of their C types
    ("recv_into nbytes 2**63", "connected", lambda s: s.recv_into(bytearray(4), 2**63)),
    ("recv flags 2**31", "connected", lambda s: s.recv(4, 2**31)),
    ("send flags 2**31", "connected", lambda s: s.send(b"x", 2**31)),
    ("recvfrom_into bytes", "connected", lambda s: s.recvfrom_into(b"abcd")),
    ("recvfrom_into negative", "connected", lambda s: s.recvfrom_into(bytearray(4), -1)),
    ("recvfrom reads (data, None)", "connected", lambda s: s.recvfrom(100)),
    ("recvfrom_into reads (n, None)", "connected",
     lambda s: (s.recvfrom_into(bytearray(20), 5), "left", s.recv(100))),
    ("recv_into a memoryview", "connected",
     lambda s: (s.recv_into(memoryview(bytearray(6))), s.recv(100))),
    ("settimeout 10**10", "fresh", lambda s: s.settimeout(10**10)),
    ("settimeout 1e-10 is 1 ns", "fresh", lambda s: (s.settimeout(1e-10), s.gettimeout())),
    ("settimeout True", "fresh", lambda s: (s.settimeout(True), s.gettimeout())),
    ("settimeout -1e-10", "fresh", lambda s: s.settimeout(-1e-10)),
    ("setblocking 2**63", "fresh", lambda s: s.setblocking(2**63)),
    ("setblocking 2**32 is true", "fresh", lambda s: (s.setblocking(2**32), s.getblocking())),
    # a list: TypeError up to Python 3.11, its truth from 3.12 (Python's own socket decides)
    ("setblocking [] is false", "fresh", lambda s: (s.setblocking([]), s.getblocking())),
    ("setblocking [0] is true", "fresh", lambda s: (s.setblocking([0]), s.getblocking())),
    ("setsockopt None with optlen", "fresh",
     lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, None, 4)),
    ("setsockopt int with optlen", "fresh", lambda s: s.setsockopt(SOL, socket.SO_REUSEADDR, 1, 4)),
    ("setsockopt level 2**31", "fresh", lambda s: s.setsockopt(2**31, socket.SO_REUSEADDR, 1)),
    ("setsockopt bytearray", "fresh",
     lambda s: (s.setsockopt(SOL, socket.SO_REUSEADDR, bytearray(b"\1\0\0\0")),
                s.getsockopt(SOL, socket.SO_REUSEADDR))),
    ("getsockopt buflen 2**31", "fresh", lambda s: s.getsockopt(SOL, socket.SO_REUSEADDR, 2**31)),
    ("shutdown 2**31", "connected", lambda s: s.shutdown(2**31)),
    # keepalive options: ranges (1..32767 s, 1..127 probes) and the defaults
    ("TCP_KEEPIDLE 0", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPIDLE, 0)),
    ("TCP_KEEPIDLE 32767", "fresh",
     lambda s: (s.setsockopt(TCP, socket.TCP_KEEPIDLE, 32767),
                s.getsockopt(TCP, socket.TCP_KEEPIDLE))),
    ("TCP_KEEPIDLE 32768", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPIDLE, 32768)),
    ("TCP_KEEPINTVL 0", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPINTVL, 0)),
    ("TCP_KEEPINTVL 32768", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPINTVL, 32768)),
    ("TCP_KEEPCNT 0", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPCNT, 0)),
    ("TCP_KEEPCNT 127", "fresh",
     lambda s: (s.setsockopt(TCP, socket.TCP_KEEPCNT, 127), s.getsockopt(TCP, socket.TCP_KEEPCNT))),
    ("TCP_KEEPCNT 128", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_KEEPCNT, 128)),
    ("TCP_USER_TIMEOUT -1", "fresh", lambda s: s.setsockopt(TCP, socket.TCP_USER_TIMEOUT, -1)),
    ("TCP_USER_TIMEOUT 0 then get", "fresh",
     lambda s: (s.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 0),
                s.getsockopt(TCP, socket.TCP_USER_TIMEOUT))),
    ("TCP_USER_TIMEOUT INT_MAX then get", "fresh",
     lambda s: (s.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 2**31 - 1),
                s.getsockopt(TCP, socket.TCP_USER_TIMEOUT))),
    ("TCP_USER_TIMEOUT 2**31", "fresh",
     lambda s: s.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 2**31)),
    ("TCP_USER_TIMEOUT on a connected socket", "connected",
     lambda s: (s.setsockopt(TCP, socket.TCP_USER_TIMEOUT, 1500),
                s.getsockopt(TCP, socket.TCP_USER_TIMEOUT))),
    ("keepalive defaults", "fresh",
     lambda s: (s.getsockopt(TCP, socket.TCP_KEEPIDLE), s.getsockopt(TCP, socket.TCP_KEEPINTVL),
                s.getsockopt(TCP, socket.TCP_KEEPCNT),
                s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))),
    ("SO_KEEPALIVE on a connected socket", "connected",
     lambda s: (s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 5),
                s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))),
    ("listen () then getsockopt", "fresh",
     lambda s: (s.listen(), s.getsockopt(SOL, socket.SO_ACCEPTCONN))),
]


@pytest.mark.parametrize("name,state,call", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_as_cpython_on_linux(name: str, state: str,
                                         call: Callable[[Any], object]) -> None:
    kernel, tux = Kernel(), Tux()
    try:
        ks, ts = getattr(kernel, state)(), getattr(tux, state)()
        want = outcome(call, ks)
        got = outcome(call, ts)
        assert got == want, f"{name}: kernel {want}, tuxtcp {got}"
        if state == "connected" and want[0] != "ok":
            # the failed call consumed nothing
            ks.settimeout(5)
            assert ks.recv(100) == PENDING
            assert ts.recv(100) == PENDING
    finally:
        kernel.close()
        tux.close()
