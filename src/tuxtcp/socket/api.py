"""Socket: Python's socket.socket semantics over the tuxtcp engine.

Errors are the kernel's errno values raised as OSError (so Python picks the same subclasses:
ConnectionRefusedError, BlockingIOError, ...). Blocking calls ask the driver to advance time
until they can complete or their timeout runs out; on the simulated network that is virtual
time, so a straight-line script works.
"""

from __future__ import annotations

import errno
import io
import os
import socket as _pysocket
import struct
from collections.abc import Callable
from typing import Any, Final

from ..net.tcp_states import CLOSE, LISTEN, SYN_SENT, TcpState
from ..tcp import user
from ..tcp.engine import Namespace
from ..tcp.info import TCP_INFO, TcpInfo, tcp_get_info
from ..tcp.sock import TcpSock
from ..wire.ipv4 import int_to_ip
from . import args
from .addr import parse_inet_address
from .args import INT_MAX, INT_MIN
from .driver import Driver, DriverLike, as_driver
from .sockio import SocketIO

SS_UNCONNECTED: Final = 1
SS_CONNECTING: Final = 2
SS_CONNECTED: Final = 3
# errno values read on every connect(), bound once (compiled, `errno.X` is a module attribute
# lookup each time)
_EINPROGRESS: Final = errno.EINPROGRESS
# socket-module constants, bound once (the compiled engine reads them as C statics)
AF_INET: Final = _pysocket.AF_INET
AF_UNSPEC: Final = _pysocket.AF_UNSPEC
IPPROTO_TCP: Final = _pysocket.IPPROTO_TCP
IPPROTO_UDP: Final = _pysocket.IPPROTO_UDP
MSG_DONTWAIT: Final = int(_pysocket.MSG_DONTWAIT)  # plain ints: & on an IntFlag is slow
MSG_PEEK: Final = int(_pysocket.MSG_PEEK)
SOCK_CLOEXEC: Final = _pysocket.SOCK_CLOEXEC
SOCK_DGRAM: Final = _pysocket.SOCK_DGRAM
SOCK_NONBLOCK: Final = _pysocket.SOCK_NONBLOCK
SOCK_RAW: Final = _pysocket.SOCK_RAW
SOCK_STREAM: Final = _pysocket.SOCK_STREAM
SOL_SOCKET: Final = _pysocket.SOL_SOCKET
SOMAXCONN: Final = _pysocket.SOMAXCONN
SO_TYPE: Final = _pysocket.SO_TYPE
_SOCKET_KINDS: Final = {int(k): k for k in _pysocket.SocketKind}
# the same as plain ints, for the checks every socket() and connect() make (a comparison with
# an IntEnum member is a rich comparison of boxed objects in the compiled build)
_AF_INET: Final = int(AF_INET)
_SOCK_STREAM: Final = int(SOCK_STREAM)
_SOCK_DGRAM: Final = int(SOCK_DGRAM)
_SOCK_RAW: Final = int(SOCK_RAW)
_SOCK_NONBLOCK: Final = int(SOCK_NONBLOCK)
_SOCK_FLAGS: Final = int(SOCK_NONBLOCK) | int(SOCK_CLOEXEC)
TCP_CONGESTION: Final = user.TCP_CONGESTION


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


def _check(err: int) -> None:
    """The errno a user call returned, raised as Python raises it."""
    if err:
        raise _err(err)


class Socket:
    """An AF_INET socket on one namespace (SOCK_STREAM; SOCK_DGRAM only as far as listen())."""

    def __init__(self, ns: Namespace, driver: Driver | DriverLike, family: int = AF_INET,
                 type: int = SOCK_STREAM, proto: int = 0, uid: int = 0,
                 _sk: TcpSock | None = None) -> None:
        if family != _AF_INET:
            raise _err(errno.EAFNOSUPPORT)
        base_type = type & ~_SOCK_FLAGS
        if base_type != _SOCK_STREAM and base_type != _SOCK_DGRAM:
            raise _err(errno.ESOCKTNOSUPPORT if base_type == _SOCK_RAW
                       else errno.EINVAL)
        self.ns = ns
        self.driver = as_driver(driver)
        self.family = family
        self.type = _SOCKET_KINDS[base_type]
        self._stream = base_type == _SOCK_STREAM
        self.proto = proto or (IPPROTO_TCP if self._stream else IPPROTO_UDP)
        self.uid = uid
        self._timeout: float | None = 0.0 if type & _SOCK_NONBLOCK else None
        self._closed = False
        self._fd = self.driver.alloc_fd()
        self._opts: dict[tuple[int, int], Any] | None = None  # options set, made on first use
        self.sk = _sk if _sk is not None else user.socket_create(ns, uid)
        self.sock_state = SS_CONNECTED if _sk is not None else SS_UNCONNECTED

    # -- basics ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        if self._closed:
            return f"<tuxtcp.Socket [closed] fd=-1, family={self.family!r}, type={self.type!r}>"
        s = (f"<tuxtcp.Socket fd={self._fd}, family={self.family!r}, type={self.type!r}, "
             f"proto={self.proto}, ns={self.ns.name}")
        if self.sk.lport or self.sk.laddr:
            s += f", laddr={self.getsockname()!r}"
        if self.sk.rport:
            s += f", raddr=({int_to_ip(self.sk.raddr)!r}, {self.sk.rport})"
        return s + ">"

    def __enter__(self) -> Socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        """A virtual descriptor number (unique per world), -1 once closed."""
        return -1 if self._closed else self._fd

    def _check_open(self) -> None:
        if self._closed:
            raise _err(errno.EBADF)

    def _now(self) -> float:
        return self.driver.now()

    def _done(self) -> None:
        self.driver.kick(self.ns)

    @property
    def state(self) -> str:
        """The TCP state name, as ss/netstat show it."""
        return TcpState(self.sk.state).name

    # -- blocking mode -----------------------------------------------------------------------
    def setblocking(self, flag: object) -> None:
        self._timeout = None if args.blocking_flag(flag) else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    def settimeout(self, value: object) -> None:
        self._timeout = args.timeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def _wait(self, ready: Callable[[], bool]) -> None:
        """Block (in driver time) until ready(); socket.timeout / EAGAIN otherwise."""
        if ready():
            return
        if self._timeout == 0.0:
            raise _err(errno.EAGAIN)
        if not self.driver.wait(ready, self._timeout):
            raise TimeoutError("timed out")

    # -- bind --------------------------------------------------------------------------------
    def bind(self, address: object) -> None:
        self._check_open()
        addr, port = parse_inet_address(address, "bind", self.driver)
        self._inet_bind(addr, port)

    def bind_sockaddr(self, sockaddr: bytes) -> None:
        """bind(2) with a raw struct sockaddr (family, port, address), for the addrlen and
        family checks Python's bind() cannot reach."""
        self._check_open()
        if len(sockaddr) < 16:
            raise _err(errno.EINVAL)  # addr_len < sizeof(struct sockaddr_in)
        family = struct.unpack_from("=H", sockaddr)[0]
        port, addr = struct.unpack_from("!HI", sockaddr, 2)
        # AF_UNSPEC is accepted only with INADDR_ANY (a compatibility quirk)
        if family != AF_INET and not (family == AF_UNSPEC and addr == 0):
            raise _err(errno.EAFNOSUPPORT)
        self._inet_bind(addr, port)

    def _inet_bind(self, addr: int, port: int) -> None:
        _check(user.inet_bind(self.ns, self.sk, addr, port, self.uid,
                              self._stream))

    # -- listen ------------------------------------------------------------------------------
    def listen(self, backlog: object = None) -> None:
        """socket.listen: CPython passes min(SOMAXCONN, 128) by default and clamps negative
        values to 0 before calling listen(2)."""
        self._check_open()
        backlog = min(SOMAXCONN, 128) if backlog is None else args.c_int(backlog)
        self.listen_raw(max(backlog, 0))

    def listen_raw(self, backlog: int) -> None:
        """listen(2) itself: __sys_listen caps (unsigned)backlog at somaxconn, so a negative
        backlog becomes somaxconn."""
        self._check_open()
        _check(user.sys_listen(self.ns, self.sk, backlog, self.sock_state == SS_UNCONNECTED,
                               self._stream, self._now()))

    # -- accept ------------------------------------------------------------------------------
    def _accept_ready(self) -> bool:
        return user.accept_ready(self.sk)

    def accept(self) -> tuple[Socket, tuple[str, int]]:
        new = self.accept_socket()
        return new, (int_to_ip(new.sk.raddr), new.sk.rport)

    def accept_socket(self) -> Socket:
        """accept() without the peer's address, for a caller that does not read it (the
        address is a new string each time: about 1% of a simulated connection's cost)."""
        self._check_open()
        sk = self.sk
        if sk.state != LISTEN:
            raise _err(errno.EINVAL)
        if not user.accept_ready(sk):  # (else the bound method is not made)
            self._wait(self._accept_ready)
        child = user.inet_accept(self.ns, sk)
        if isinstance(child, int):
            raise _err(child)  # the listener was closed while we waited
        new = Socket(self.ns, self.driver, self.family, self.type, self.proto, self.uid,
                     _sk=child)
        if self._timeout is None or self._timeout == 0.0:
            new._timeout = None  # accept()ed sockets are blocking unless a timeout is set
        else:
            new._timeout = self._timeout
        return new

    # -- connect -----------------------------------------------------------------------------
    def connect(self, address: object) -> None:
        err = self._connect(address, "connect", raise_timeout=True)
        if err:
            if err == errno.EINPROGRESS:
                raise BlockingIOError(err, os.strerror(err))
            raise _err(err)

    def connect_ex(self, address: object) -> int:
        return self._connect(address, "connect_ex", raise_timeout=False)

    def _connect(self, address: object, what: str, raise_timeout: bool) -> int:
        """__inet_stream_connect."""
        self._check_open()
        addr, port = parse_inet_address(address, what, self.driver)
        sk = self.sk
        if self.sock_state == SS_CONNECTED:
            return errno.EISCONN
        if self.sock_state == SS_CONNECTING:
            err = errno.EALREADY
        else:
            err = user.inet_stream_connect(self.ns, sk, addr, port, self._stream,
                                           self._now())
            self._done()
            if err:
                return err
            self.sock_state = SS_CONNECTING
            err = _EINPROGRESS
        if user.connecting(sk):
            if self._timeout == 0.0:
                return err
            if self._timeout is not None and err != _EINPROGRESS:
                # CPython's internal_connect with a timeout: the descriptor is non-blocking,
                # so only a connect() that started now waits, polling for POLLOUT, and the
                # result comes from getsockopt(SO_ERROR) (sock_connect_impl), not from a
                # second connect(): the kernel's socket stays SS_CONNECTING, and a failed
                # one keeps its addresses (no tcp_disconnect)
                return err
            if not self.driver.wait(lambda: not user.connecting(sk), self._timeout):
                if raise_timeout:
                    raise TimeoutError("timed out")
                return errno.EWOULDBLOCK  # CPython's internal_connect on a timeout
            if self._timeout is not None:
                return user.sock_error(sk)
        e = user.connect_result(sk)
        self.sock_state = SS_UNCONNECTED if e else SS_CONNECTED
        return e

    # -- names -------------------------------------------------------------------------------
    def getsockname(self) -> tuple[str, int]:
        self._check_open()
        sk = self.sk
        return int_to_ip(sk.laddr), sk.lport

    def getpeername(self) -> tuple[str, int]:
        """inet_getname(peer): ENOTCONN without a peer port or in CLOSE/SYN_SENT; a
        non-blocking connect that completed has a peer without a second connect() call."""
        self._check_open()
        sk = self.sk
        if not sk.rport or sk.state in (CLOSE, LISTEN, SYN_SENT):
            raise _err(errno.ENOTCONN)
        return int_to_ip(sk.raddr), sk.rport

    # -- options -----------------------------------------------------------------------------
    def setsockopt(self, level: object, optname: object, value: object,
                   optlen: object = None) -> None:
        """sock_setsockopt's argument forms: (level, name, int), (level, name, None, optlen)
        and (level, name, bytes-like)."""
        level, optname = args.c_int(level), args.c_int(optname)
        if optlen is not None:
            if value is not None:
                raise TypeError("setsockopt() takes exactly 3 arguments (4 given)")
            args.c_int(optlen)
            self._check_open()
            raise _err(errno.EFAULT)  # a NULL optval: the kernel's copy from it faults
        raw: bytes | None = None
        ival = 0
        if isinstance(value, int) and INT_MIN <= value <= INT_MAX:
            ival = int(value)
        else:
            raw = args.readable_buffer(value)
        self._check_open()
        sk = self.sk
        if level == IPPROTO_TCP and optname == TCP_CONGESTION:
            name = raw if raw is not None else b""  # a string
            _check(user.set_congestion(sk, name, self._now()))
            return
        if raw is not None:
            if len(raw) < 4:
                raise _err(errno.EINVAL)  # optlen < sizeof(int)
            ival = struct.unpack("i", raw[:4])[0]
        _check(user.setsockopt(sk, level, optname, user.OptArg(ival, raw), self._now()))
        self._done()
        if self._opts is None:
            self._opts = {}
        self._opts[(level, optname)] = ival

    def getsockopt(self, level: object, optname: object, buflen: object = None) -> int | bytes:
        level, optname = args.c_int(level), args.c_int(optname)
        if buflen is not None:
            buflen = args.c_int(buflen)
            if buflen and not 0 < buflen <= 1024:
                raise OSError("getsockopt buflen out of range")
        self._check_open()
        sk = self.sk
        if level == SOL_SOCKET and optname == SO_TYPE:
            return int(self.type)
        if level == IPPROTO_TCP and optname == TCP_CONGESTION:
            return (user.congestion_name(sk) + bytes(16))[:buflen] if buflen else 0
        if level == IPPROTO_TCP and optname == TCP_INFO:
            # struct tcp_info, cut to the buffer (without one, Python reads an int)
            raw = self.tcp_info().pack()
            return raw[:buflen] if buflen else int(struct.unpack_from("i", raw)[0])
        v = user.getsockopt(self.ns, sk, level, optname)
        if v is not None:
            return v
        return int(self._opts.get((level, optname), 0)) if self._opts is not None else 0

    def tcp_info(self) -> TcpInfo:
        """TCP_INFO as an object: a read-only snapshot of the connection (tcp_get_info, with
        the kernel's field names; see tuxtcp.tcp.info). It answers after close() too, as
        `ss -ti` still shows the socket the kernel keeps."""
        if not self._stream:
            return TcpInfo()  # tcp_get_info leaves it zeroed for other socket types
        return tcp_get_info(self.sk, self._now())

    # -- data --------------------------------------------------------------------------------
    def _raise_pending(self) -> None:
        if self.sk.sk_err:
            e = self.sk.sk_err
            self.sk.sk_err = 0
            raise _err(e)

    def send(self, data: object, flags: object = 0) -> int:
        data = args.readable_buffer(data)
        flags = args.c_int(flags)
        self._check_open()
        sk = self.sk
        if sk.snd_shutdown or sk.state in (CLOSE, LISTEN):
            # tcp_sendmsg_locked: a pending error first, then EPIPE (sk_stream_wait_connect
            # gives EPIPE in every state but SYN_SENT/SYN_RECV)
            self._raise_pending()
            raise _err(errno.EPIPE)
        if not data:
            return 0
        nonblock = flags & MSG_DONTWAIT or self._timeout == 0.0
        if user.connecting(sk):
            if nonblock:
                raise _err(errno.EAGAIN)
            self._wait(lambda: not user.connecting(sk))
        n = user.tcp_sendmsg(sk, data, self._now())
        self._done()
        if n == 0:
            if nonblock:
                raise _err(errno.EAGAIN)
            self._wait(lambda: user.tcp_sendmsg(sk, b"", self._now()) == 0
                       and self._send_room() > 0 or sk.state == CLOSE)
            self._raise_pending()
            n = user.tcp_sendmsg(sk, data, self._now())
            self._done()
        return n

    def _send_room(self) -> int:
        return user.send_space(self.sk)

    def sendall(self, data: object, flags: object = 0) -> None:
        view = memoryview(args.readable_buffer(data))
        flags = args.c_int(flags)
        while view:
            n = self.send(view, flags)
            view = view[n:]

    def _recv_ready(self) -> bool:
        return user.recv_ready(self.sk)

    def recv(self, bufsize: object, flags: object = 0) -> bytes:
        bufsize, flags = args.c_ssize(bufsize), args.c_int(flags)
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return self._recv(bufsize, flags)

    def _recv(self, bufsize: int, flags: int) -> bytes:
        self._check_open()
        sk = self.sk
        if sk.state == LISTEN or (sk.state == CLOSE and self.sock_state == SS_UNCONNECTED
                                  and not sk.sk_err):
            raise _err(errno.ENOTCONN)
        if flags & MSG_DONTWAIT and not self._recv_ready():
            raise _err(errno.EAGAIN)
        self._wait(self._recv_ready)
        if sk.recv_buf:
            data = user.tcp_recvmsg(sk, bufsize, bool(flags & MSG_PEEK), self._now())
            self._done()
            return data
        self._raise_pending()
        return b""

    def recv_into(self, buffer: object, nbytes: object = 0, flags: object = 0) -> int:
        return self._recv_into(buffer, nbytes, flags, "recv_into")

    def _recv_into(self, buffer: object, nbytes: object, flags: object, fname: str) -> int:
        """sock_recv_into / sock_recvfrom_into: sizes checked before anything is read."""
        view = args.writable_buffer(buffer, fname)
        nbytes, flags = args.c_ssize(nbytes), args.c_int(flags)
        if nbytes < 0:
            raise ValueError(f"negative buffersize in {fname}")
        if nbytes == 0:
            nbytes = len(view)
        elif len(view) < nbytes:
            raise ValueError("buffer too small for requested bytes" if fname == "recv_into"
                             else "nbytes is greater than the length of the buffer")
        data = self._recv(nbytes, flags)
        view[:len(data)] = data
        return len(data)

    def recvfrom(self, bufsize: object, flags: object = 0) -> tuple[bytes, None]:
        """On a connected TCP socket the kernel gives no address: (data, None)."""
        bufsize, flags = args.c_ssize(bufsize), args.c_int(flags)
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        return self._recv(bufsize, flags), None

    def recvfrom_into(self, buffer: object, nbytes: object = 0,
                      flags: object = 0) -> tuple[int, None]:
        return self._recv_into(buffer, nbytes, flags, "recvfrom_into"), None

    # -- close -------------------------------------------------------------------------------
    def shutdown(self, how: object) -> None:
        how = args.as_c_int(how)
        self._check_open()
        err = user.inet_shutdown(self.sk, how, self.sock_state == SS_CONNECTED, self._now())
        self._done()
        _check(err)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        user.tcp_close(self.sk, self._now())
        self._done()

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """Like socket.makefile: a (buffered, optionally text) file over this socket."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        reading, writing = "r" in mode, "w" in mode
        raw = SocketIO(self, reading, writing)
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if "b" not in mode:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buf: io.BufferedIOBase
        if reading and writing:
            buf = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buf = io.BufferedReader(raw, buffering)
        else:
            buf = io.BufferedWriter(raw, buffering)
        if "b" in mode:
            return buf
        text = io.TextIOWrapper(buf, encoding, errors, newline)  # type: ignore[type-var]
        text.mode = mode  # type: ignore[misc]
        return text
