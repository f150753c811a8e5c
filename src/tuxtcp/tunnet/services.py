"""Small services on tuxtcp sockets, run by one selector loop: echo (RFC 862, port 7) and a
minimal HTTP/1.1 server (port 80) answering every GET with one page. Plain non-blocking
socket code over the selectors API, as an application would write it; the selector's
select() is what pumps the wire (tunnet/driver.py)."""

from __future__ import annotations

import contextlib
import selectors
from collections.abc import Callable
from typing import Final

from ..socket.api import Socket
from .driver import TunDriver

ECHO_PORT: Final = 7
HTTP_PORT: Final = 80
BACKLOG: Final = 128
MAX_REQUEST: Final = 16384  # an HTTP request head longer than this is answered 431
READ_SIZE: Final = 65536

PAGE: Final = (b"<!doctype html>\n<title>tuxtcp</title>\n"
               b"<p>Hello from tuxtcp: this page came over a userspace TCP stack in Python.\n")


def http_response(status: str, body: bytes) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nServer: tuxtcp\r\nContent-Type: text/html\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


class _Conn:
    """One accepted connection: what is owed to the peer, and (HTTP) the request so far."""

    __slots__ = ("sock", "kind", "out", "inbuf", "closing")

    def __init__(self, sock: Socket, kind: str) -> None:
        self.sock = sock
        self.kind = kind
        self.out = bytearray()
        self.inbuf = bytearray()
        self.closing = False  # close once `out` is sent


class Services:
    """Echo and HTTP listeners on `driver`'s namespace, served from one selector."""

    def __init__(self, driver: TunDriver, echo_port: int = ECHO_PORT,
                 http_port: int = HTTP_PORT) -> None:
        self.driver = driver
        self.sel = driver.selector()
        self.listeners: dict[int, str] = {}
        self.conns: dict[int, _Conn] = {}
        self.served = {"echo": 0, "http": 0}
        for port, kind in ((echo_port, "echo"), (http_port, "http")):
            if not port:
                continue
            ls = driver.socket()
            ls.setsockopt(1, 2, 1)  # SOL_SOCKET, SO_REUSEADDR
            ls.bind(("0.0.0.0", port))
            ls.listen(BACKLOG)
            ls.setblocking(False)
            self.listeners[ls.fileno()] = kind
            self.sel.register(ls, selectors.EVENT_READ, kind)

    def run(self, until: Callable[[], bool], tick: float = 0.2) -> None:
        """Serve until until() says stop (asked at least every `tick` seconds)."""
        while not until():
            for key, events in self.sel.select(tick):
                sock = key.fileobj
                assert isinstance(sock, Socket)
                if sock.fileno() in self.listeners:
                    self._accept(sock, self.listeners[sock.fileno()])
                    continue
                conn = self.conns.get(sock.fileno())
                if conn is None:
                    continue
                if events & selectors.EVENT_READ:
                    self._read(conn)
                if events & selectors.EVENT_WRITE and sock.fileno() in self.conns:
                    self._write(conn)

    def close(self) -> None:
        for conn in list(self.conns.values()):
            self._drop(conn)
        for key in list(self.sel.get_map().values()):
            sock = key.fileobj
            self.sel.unregister(sock)
            assert isinstance(sock, Socket)
            sock.close()
        self.sel.close()

    # -- one connection ------------------------------------------------------------------------
    def _accept(self, ls: Socket, kind: str) -> None:
        for _ in range(BACKLOG):
            try:
                sock, _ = ls.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            conn = _Conn(sock, kind)
            self.conns[sock.fileno()] = conn
            self.sel.register(sock, selectors.EVENT_READ, kind)
            self.served[kind] += 1

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self._drop(conn)
            return
        if not data:  # the peer closed its side: finish what is owed, then close
            conn.closing = True
            self._write(conn)
            return
        if conn.kind == "echo":
            conn.out += data
        else:
            self._http(conn, data)
        self._write(conn)

    def _http(self, conn: _Conn, data: bytes) -> None:
        if conn.closing:
            return
        conn.inbuf += data
        if b"\r\n\r\n" not in conn.inbuf:
            if len(conn.inbuf) > MAX_REQUEST:
                conn.out += http_response("431 Request Header Fields Too Large", b"")
                conn.closing = True
            return
        line = bytes(conn.inbuf.split(b"\r\n", 1)[0]).split()
        if len(line) == 3 and line[0] in (b"GET", b"HEAD"):
            body = PAGE if line[0] == b"GET" else b""
            resp = http_response("200 OK", PAGE)
            conn.out += resp if body else resp[:len(resp) - len(PAGE)]
        else:
            conn.out += http_response("405 Method Not Allowed", b"")
        conn.closing = True

    def _write(self, conn: _Conn) -> None:
        sock = conn.sock
        while conn.out:
            try:
                n = sock.send(bytes(conn.out[:READ_SIZE]))
            except BlockingIOError:
                break
            except OSError:
                self._drop(conn)
                return
            del conn.out[:n]
        if not conn.out and conn.closing:
            self._drop(conn)
            return
        # once the peer has closed, only writability matters: an end of file stays readable,
        # and a selector that always has it ready would never let the engine run (its timers
        # and the device are served while select() waits)
        events = (0 if conn.closing else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if conn.out else 0)
        self.sel.modify(sock, events, conn.kind)

    def _drop(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if self.conns.pop(fd, None) is None:
            return
        with contextlib.suppress(KeyError):
            self.sel.unregister(conn.sock)
        conn.sock.close()
