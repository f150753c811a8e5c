"""What a socket shows after connect() fails, and what a second connect() returns, on the
host kernel (loopback) and on tuxtcp, side by side (no root needed).

CPython connects a blocking socket with one blocking connect(): the kernel's
__inet_stream_connect reads the error and calls tcp_disconnect, which zeroes the peer port and
the source address but leaves inet_sport, so getsockname() gives ('0.0.0.0', the old port),
and the next connect() picks a new port. With a timeout the descriptor is non-blocking:
CPython polls and reads getsockopt(SO_ERROR), and the socket keeps its addresses and stays
SS_CONNECTING, so the next connect() finds it closed with the error already read
(ECONNABORTED) and disconnects it; and after a connect that succeeded that way, a second
connect() returns 0 once before EISCONN.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

import pytest

import tuxtcp

Steps = list[tuple[int, str, str]]  # (errno, source address kind, port kind) per connect_ex


def _steps(make: Callable[[], Any], target: tuple[str, int], n: int = 3) -> Steps:
    """connect_ex `n` times on one socket; after each, what getsockname() shows: the address
    as "any" or "own", the port as "0", "new" (another than before) or "same"."""
    s = make()
    out: Steps = []
    last = 0
    try:
        for _ in range(n):
            e = s.connect_ex(target)
            addr, port = s.getsockname()
            kind = "0" if port == 0 else ("same" if port == last else "new")
            out.append((e, "any" if addr == "0.0.0.0" else "own", kind))
            last = port
    finally:
        s.close()
    return out


def _with_timeout(new: Callable[[], Any], timeout: float | None) -> Callable[[], Any]:
    """A factory of sockets (the host's or a tuxtcp host's) with `timeout` set."""
    def make() -> Any:
        s = new()
        s.settimeout(timeout)
        return s
    return make


class _Kernel:
    """Loopback on the host kernel: a port bound but not listening answers a SYN with a
    RST, and a listener accepts."""

    def __enter__(self) -> _Kernel:
        self.closed = socket.socket()
        self.closed.bind(("127.0.0.1", 0))
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(8)
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed.close()
        self.ls.close()

    def socket(self, timeout: float | None) -> Callable[[], socket.socket]:
        return _with_timeout(socket.socket, timeout)


class _Tux:
    def __enter__(self) -> _Tux:
        self.w = tuxtcp.World(seed=1)
        self.cli = self.w.host("cli", "198.18.0.2")
        srv = self.w.host("srv", "198.18.0.1")
        self.w.link(self.cli, srv)
        self.ls = srv.socket()
        self.ls.bind(("198.18.0.1", 80))
        self.ls.listen(8)
        return self

    def __exit__(self, *exc: object) -> None:
        self.ls.close()

    def socket(self, timeout: float | None) -> Callable[[], tuxtcp.Socket]:
        return _with_timeout(self.cli.socket, timeout)


REFUSED = {
    # blocking: each failure disconnects; the port shows until the next connect takes another
    None: [(errno.ECONNREFUSED, "any", "new")] * 3,
    # a timeout: the first failure keeps the addresses; the second call finds the error read
    # and disconnects (ECONNABORTED, the port still shown); the third starts over
    5.0: [(errno.ECONNREFUSED, "own", "new"), (errno.ECONNABORTED, "any", "same"),
          (errno.ECONNREFUSED, "own", "new")],
}
CONNECTED = {None: [(0, "own", "new"), (errno.EISCONN, "own", "same")],
             5.0: [(0, "own", "new"), (0, "own", "same"), (errno.EISCONN, "own", "same")]}


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_a_refused_connect_leaves_what_linux_leaves(timeout: float | None) -> None:
    with _Kernel() as k:
        kernel = _steps(k.socket(timeout), k.closed.getsockname())
    with _Tux() as t:
        tux = _steps(t.socket(timeout), ("198.18.0.1", 81))
    assert kernel == REFUSED[timeout]
    assert tux == kernel


@pytest.mark.parametrize("timeout", [None, 5.0])
def test_connect_again_after_success_as_on_linux(timeout: float | None) -> None:
    n = len(CONNECTED[timeout])
    with _Kernel() as k:
        kernel = _steps(k.socket(timeout), k.ls.getsockname(), n)
    with _Tux() as t:
        tux = _steps(t.socket(timeout), ("198.18.0.1", 80), n)
    assert kernel == CONNECTED[timeout]
    assert tux == kernel


def _after_refusal(make: Callable[[], Any], target: tuple[str, int], own: str
                   ) -> tuple[bool, str, str, bool, str]:
    """A timeout socket refused, then bound to port 0: (bind took another port, what listen()
    raised); a blocking one refused, then listened on: what listen() did, whether it took
    another port, and what a bind() after it did."""
    s = make()
    s.settimeout(5.0)
    assert s.connect_ex(target) == errno.ECONNREFUSED
    old = s.getsockname()[1]
    s.bind((own, 0))
    rebound = s.getsockname()[1] != old
    with pytest.raises(OSError) as e:
        s.listen(1)  # still SS_CONNECTING: inet_listen refuses
    s.close()
    b = make()
    assert b.connect_ex(target) == errno.ECONNREFUSED
    old = b.getsockname()[1]
    listened = _outcome(lambda: b.listen(1))  # disconnected: SS_UNCONNECTED
    relisten = b.getsockname()[1] not in (0, old)
    rebind = _outcome(lambda: b.bind((own, 0)))
    b.close()
    return rebound, errno.errorcode[e.value.errno], listened, relisten, rebind


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except OSError as e:
        return errno.errorcode[e.errno or 0]
    return "ok"


def test_a_port_given_back_by_a_failed_connect_can_be_bound_or_listened_on() -> None:
    """inet_num is 0 after the failure (the port went back at tcp_set_state(TCP_CLOSE)), so
    bind() may take a port again. A socket whose connect() failed while the caller waited
    (tcp_disconnect) is SS_UNCONNECTED, and its listen() autobinds a port of its own, but
    then fails (EINVAL) keeping it, so a bind() after it fails too: what 6.18.44 does on
    this machine (the kernel of earlier sessions let that listen() succeed)."""
    with _Kernel() as k:
        kernel = _after_refusal(socket.socket, k.closed.getsockname(), "127.0.0.1")
    with _Tux() as t:
        tux = _after_refusal(t.cli.socket, ("198.18.0.1", 81), "198.18.0.2")
    assert kernel == (True, "EINVAL", "EINVAL", True, "EINVAL")
    assert tux == kernel
