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
from typing import Any, Final, Protocol

from ..net.namespace import Namespace
from ..tcp.active import tcp_connect
from ..tcp.established import shutdown_send, sk_recv_consumed, tcp_close
from ..tcp.lifecycle import new_sock, set_state
from ..tcp.sock import ListenQueue, TcpSock
from ..tcp.states import (
    CLOSE,
    CLOSE_WAIT,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LISTEN,
    SYN_RECV,
    SYN_SENT,
)
from ..tcp.stream import CONGESTION_CONTROL, push, send_room
from ..tcp.stream import send as sk_send
from ..wire.ipv4 import int_to_ip
from .addr import parse_inet_address

SS_UNCONNECTED, SS_CONNECTING, SS_CONNECTED = 1, 2, 3
# socket-module constants, bound once (the compiled engine reads them as C statics)
AF_INET: Final = _pysocket.AF_INET
AF_UNSPEC: Final = _pysocket.AF_UNSPEC
IPPROTO_IP: Final = _pysocket.IPPROTO_IP
IPPROTO_TCP: Final = _pysocket.IPPROTO_TCP
IPPROTO_UDP: Final = _pysocket.IPPROTO_UDP
MSG_DONTWAIT: Final = _pysocket.MSG_DONTWAIT
MSG_PEEK: Final = _pysocket.MSG_PEEK
SHUT_RD: Final = _pysocket.SHUT_RD
SHUT_RDWR: Final = _pysocket.SHUT_RDWR
SHUT_WR: Final = _pysocket.SHUT_WR
SOCK_CLOEXEC: Final = _pysocket.SOCK_CLOEXEC
SOCK_DGRAM: Final = _pysocket.SOCK_DGRAM
SOCK_NONBLOCK: Final = _pysocket.SOCK_NONBLOCK
SOCK_RAW: Final = _pysocket.SOCK_RAW
SOCK_STREAM: Final = _pysocket.SOCK_STREAM
SOL_SOCKET: Final = _pysocket.SOL_SOCKET
SOMAXCONN: Final = _pysocket.SOMAXCONN
SO_ACCEPTCONN: Final = _pysocket.SO_ACCEPTCONN
SO_ERROR: Final = _pysocket.SO_ERROR
SO_KEEPALIVE: Final = _pysocket.SO_KEEPALIVE
SO_LINGER: Final = _pysocket.SO_LINGER
SO_RCVBUF: Final = _pysocket.SO_RCVBUF
SO_REUSEADDR: Final = _pysocket.SO_REUSEADDR
SO_REUSEPORT: Final = _pysocket.SO_REUSEPORT
SO_SNDBUF: Final = _pysocket.SO_SNDBUF
SO_TYPE: Final = _pysocket.SO_TYPE
TCP_DEFER_ACCEPT: Final = _pysocket.TCP_DEFER_ACCEPT
TCP_MAXSEG: Final = _pysocket.TCP_MAXSEG
TCP_NODELAY: Final = _pysocket.TCP_NODELAY
TCP_SYNCNT: Final = _pysocket.TCP_SYNCNT
_SOCKET_KINDS: Final = {int(k): k for k in _pysocket.SocketKind}
MAX_TCP_SYNCNT: Final = 127
TCP_MIN_MSS: Final = 88
MAX_TCP_WINDOW: Final = 32767
IP_BIND_ADDRESS_NO_PORT: Final = getattr(_pysocket, "IP_BIND_ADDRESS_NO_PORT", 24)
IP_FREEBIND: Final = getattr(_pysocket, "IP_FREEBIND", 15)
TCP_LINGER2: Final = getattr(_pysocket, "TCP_LINGER2", 8)
TCP_CONGESTION: Final = getattr(_pysocket, "TCP_CONGESTION", 13)
TCP_CORK: Final = getattr(_pysocket, "TCP_CORK", 3)


def _err(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class Driver(Protocol):
    def now(self) -> float: ...
    def kick(self, ns: Namespace) -> None: ...
    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool: ...
    def resolve(self, name: str) -> int | None: ...
    def alloc_fd(self) -> int: ...


def secs_to_retrans(seconds: int, timeout: int = 1, rto_max: int = 120) -> int:
    """tcp.c:secs_to_retrans (TCP_DEFER_ACCEPT seconds -> SYN-ACK retransmits)."""
    res = 0
    if seconds > 0:
        period = timeout
        res = 1
        while seconds > period and res < 255:
            res += 1
            timeout <<= 1
            if timeout > rto_max:
                timeout = rto_max
            period += timeout
    return res


def retrans_to_secs(retrans: int, timeout: int = 1, rto_max: int = 120) -> int:
    """tcp.c:retrans_to_secs."""
    period = 0
    if retrans > 0:
        period = timeout
        while retrans - 1 > 0:
            retrans -= 1
            timeout <<= 1
            if timeout > rto_max:
                timeout = rto_max
            period += timeout
    return period


class Socket:
    """An AF_INET socket on one namespace (SOCK_STREAM; SOCK_DGRAM only as far as listen())."""

    def __init__(self, ns: Namespace, driver: Driver, family: int = AF_INET,
                 type: int = SOCK_STREAM, proto: int = 0, uid: int = 0,
                 _sk: TcpSock | None = None) -> None:
        if family != AF_INET:
            raise _err(errno.EAFNOSUPPORT)
        base_type = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)
        if base_type not in (SOCK_STREAM, SOCK_DGRAM):
            raise _err(errno.ESOCKTNOSUPPORT if base_type == SOCK_RAW
                       else errno.EINVAL)
        self.ns = ns
        self.driver = driver
        self.family = family
        self.type = _SOCKET_KINDS[base_type]
        self.proto = proto or (IPPROTO_TCP if base_type == SOCK_STREAM
                               else IPPROTO_UDP)
        self.uid = uid
        self._timeout: float | None = 0.0 if type & SOCK_NONBLOCK else None
        self._closed = False
        self._fd = driver.alloc_fd()
        self._opts: dict[tuple[int, int], Any] = {}
        self.sk = _sk if _sk is not None else new_sock(ns, uid)
        self.sock_state = SS_CONNECTED if _sk is not None else SS_UNCONNECTED
        if _sk is not None:
            self.sk.inode = ns.alloc_inode()
            self.sk.parent = None

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
        return self.sk.state.name

    # -- blocking mode -----------------------------------------------------------------------
    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    def settimeout(self, value: float | None) -> None:
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError("Timeout value must be int, float or None")
            if value < 0:
                raise ValueError("Timeout value out of range")
            value = float(value)
        self._timeout = value

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
        addr, port = parse_inet_address(address, "bind", self.driver.resolve)
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
        """af_inet.c:__inet_bind, in its order."""
        ns, sk = self.ns, self.sk
        sysctl = ns.sysctl
        multicast = (addr >> 28) == 0xE
        broadcast = addr == 0xFFFFFFFF
        if (addr and not ns.is_local(addr) and not multicast and not broadcast
                and not sk.freebind and not sysctl.get_int("net.ipv4.ip_nonlocal_bind")):
            raise _err(errno.EADDRNOTAVAIL)
        if port and port < sysctl.get_int("net.ipv4.ip_unprivileged_port_start") \
                and self.uid != 0:
            raise _err(errno.EACCES)  # no CAP_NET_BIND_SERVICE
        if sk.state != CLOSE or sk.lport or sk.bind_addr_lock:
            raise _err(errno.EINVAL)
        if self.type != SOCK_STREAM:
            sk.laddr, sk.lport = addr, port or 1
            return
        requested = port
        if port == 0:
            if sk.bind_no_port:
                sk.laddr = addr
                sk.bind_addr_lock = bool(addr)
                return
            low, high = sysctl["net.ipv4.ip_local_port_range"]  # type: ignore[misc]
            found = ns.ports.find_open_port(sk, addr, low, high)
            if found is None:
                raise _err(errno.EADDRINUSE)
            port = found
        elif not ns.ports.get_port(sk, addr, port):
            raise _err(errno.EADDRINUSE)
        sk.laddr = addr
        ns.ports.add_owner(sk, port)
        sk.bind_addr_lock = bool(addr)
        sk.bind_port_lock = bool(requested)  # SOCK_BINDPORT_LOCK only for an explicit port

    # -- listen ------------------------------------------------------------------------------
    def listen(self, backlog: int | None = None) -> None:
        """socket.listen: CPython passes min(SOMAXCONN, 128) by default and clamps negative
        values to 0 before calling listen(2)."""
        self._check_open()
        if backlog is None:
            backlog = min(SOMAXCONN, 128)
        if isinstance(backlog, bool) or not isinstance(backlog, int):
            raise TypeError(f"'{type(backlog).__name__}' object cannot be interpreted as an "
                            "integer")
        self.listen_raw(max(backlog, 0))

    def listen_raw(self, backlog: int) -> None:
        """listen(2) itself: __sys_listen caps (unsigned)backlog at somaxconn, so a negative
        backlog becomes somaxconn."""
        self._check_open()
        ns, sk = self.ns, self.sk
        somaxconn = ns.sysctl.get_int("net.core.somaxconn")
        if backlog & 0xFFFFFFFF > somaxconn:
            backlog = somaxconn
        # inet_listen
        if self.type != SOCK_STREAM:
            raise _err(errno.EOPNOTSUPP)
        if self.sock_state != SS_UNCONNECTED or sk.state not in (CLOSE, LISTEN):
            raise _err(errno.EINVAL)
        sk.backlog = backlog
        if sk.state == LISTEN:
            return  # a second listen() only changes the backlog
        # inet_csk_listen_start: LISTEN first, then get_port (which re-checks conflicts)
        sk.lq = ListenQueue()
        sk.state = LISTEN
        if not sk.lport:
            low, high = ns.sysctl["net.ipv4.ip_local_port_range"]  # type: ignore[misc]
            port = ns.ports.find_open_port(sk, sk.laddr, low, high)
            if port is None:
                sk.state = CLOSE
                sk.lq = None
                raise _err(errno.EADDRINUSE)
            ns.ports.add_owner(sk, port)
        elif not ns.ports.get_port(sk, sk.laddr, sk.lport):
            sk.state = CLOSE
            sk.lq = None
            raise _err(errno.EADDRINUSE)
        if not sk.inode:
            sk.inode = ns.alloc_inode()
        sk.created = self._now()
        ns.lhash.setdefault(sk.lport, []).append(sk)
        sk.lq.defer_accept = self._opts.get((IPPROTO_TCP,
                                             TCP_DEFER_ACCEPT), 0)

    # -- accept ------------------------------------------------------------------------------
    def _accept_ready(self) -> bool:
        sk = self.sk
        return sk.state != LISTEN or bool(sk.lq and sk.lq.accept_queue)

    def accept(self) -> tuple[Socket, tuple[str, int]]:
        self._check_open()
        sk = self.sk
        if sk.state != LISTEN:
            raise _err(errno.EINVAL)
        self._wait(self._accept_ready)
        if sk.state != LISTEN or sk.lq is None:
            raise _err(errno.EINVAL)  # the listener was closed while we waited
        child = sk.lq.accept_queue.popleft()  # reqsk_queue_remove: FIFO
        new = Socket(self.ns, self.driver, self.family, self.type, self.proto, self.uid,
                     _sk=child)
        if self._timeout is None or self._timeout == 0.0:
            new._timeout = None  # accept()ed sockets are blocking unless a timeout is set
        else:
            new._timeout = self._timeout
        return new, (int_to_ip(child.raddr), child.rport)

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
        addr, port = parse_inet_address(address, what, self.driver.resolve)
        sk = self.sk
        if self.sock_state == SS_CONNECTED:
            return errno.EISCONN
        if self.sock_state == SS_CONNECTING:
            err = errno.EALREADY
        else:
            if sk.state != CLOSE:
                return errno.EISCONN
            if self.type != SOCK_STREAM:
                return errno.EOPNOTSUPP
            sk.raddr, sk.rport = addr, port
            try:
                tcp_connect(self.ns, sk, self._now())
            except OSError as exc:
                sk.raddr = sk.rport = 0
                assert exc.errno is not None
                return exc.errno
            finally:
                self._done()
            if not sk.inode:
                sk.inode = self.ns.alloc_inode()
            self.sock_state = SS_CONNECTING
            err = errno.EINPROGRESS
        if sk.state in (SYN_SENT, SYN_RECV):
            if self._timeout == 0.0:
                return err
            ok = self.driver.wait(lambda: sk.state not in (SYN_SENT, SYN_RECV), self._timeout)
            if not ok:
                if raise_timeout:
                    raise TimeoutError("timed out")
                return errno.EWOULDBLOCK  # CPython's internal_connect on a timeout
        if sk.state == CLOSE:
            # sock_error: report and clear sk_err
            e = sk.sk_err or errno.ECONNABORTED
            sk.sk_err = 0
            self.sock_state = SS_UNCONNECTED
            sk.raddr = sk.rport = 0
            if not sk.bind_port_lock:
                sk.lport = 0
            if not sk.bind_addr_lock:
                sk.laddr = 0
            return e
        self.sock_state = SS_CONNECTED
        return 0

    # -- names -------------------------------------------------------------------------------
    def getsockname(self) -> tuple[str, int]:
        self._check_open()
        sk = self.sk
        return int_to_ip(sk.laddr), sk.lport

    def getpeername(self) -> tuple[str, int]:
        self._check_open()
        sk = self.sk
        if sk.state in (CLOSE, LISTEN, SYN_SENT) or self.sock_state != SS_CONNECTED:
            raise _err(errno.ENOTCONN)
        return int_to_ip(sk.raddr), sk.rport

    # -- options -----------------------------------------------------------------------------
    def setsockopt(self, level: int, optname: int, value: int | bytes,
                   optlen: int | None = None) -> None:
        self._check_open()
        sk = self.sk
        if level == IPPROTO_TCP and optname == TCP_CONGESTION:
            name = bytes(value).split(b"\0")[0] if isinstance(value, (bytes, bytearray)) else b""
            if name != CONGESTION_CONTROL.encode():
                raise _err(errno.ENOENT)  # tcp_set_congestion_control: no such algorithm here
            return
        ival = (struct.unpack("i", value[:4])[0] if isinstance(value, (bytes, bytearray))
                and len(value) >= 4 else value)
        if isinstance(ival, (bytes, bytearray)):
            raise _err(errno.EINVAL)
        if not isinstance(ival, int):
            raise TypeError("a bytes-like object is required")
        key = (level, optname)
        if level == SOL_SOCKET:
            if optname == SO_REUSEADDR:
                sk.reuse = bool(ival)
            elif optname == SO_REUSEPORT:
                sk.reuseport = bool(ival)
            elif optname == SO_LINGER:
                if not isinstance(value, (bytes, bytearray)) or len(value) < 8:
                    raise _err(errno.EINVAL)
                onoff, secs = struct.unpack("ii", value[:8])
                sk.linger = secs if onoff else None
            elif optname == SO_KEEPALIVE:
                sk.keepalive = bool(ival)
            elif optname in (SO_SNDBUF, SO_RCVBUF):
                # sock_setsockopt: the kernel doubles the value (bookkeeping overhead),
                # capped by [wr]mem_max (212992) and floored at SOCK_MIN_{SND,RCV}BUF
                val = min(max(ival, 0), 212992) * 2
                if optname == SO_SNDBUF:
                    sk.sndbuf = max(val, 4608)
                    sk.buf_locked |= 1
                else:
                    sk.rcvbuf = max(val, 2304)
                    sk.buf_locked |= 2
        elif level == IPPROTO_TCP:
            if optname == TCP_MAXSEG:
                if ival and (ival < TCP_MIN_MSS or ival > MAX_TCP_WINDOW):
                    raise _err(errno.EINVAL)
                sk.user_mss = ival
            elif optname == TCP_SYNCNT:
                if ival < 1 or ival > MAX_TCP_SYNCNT:
                    raise _err(errno.EINVAL)
                sk.syn_retries = ival
            elif optname == TCP_DEFER_ACCEPT:
                ival = secs_to_retrans(ival)
                if sk.lq is not None:
                    sk.lq.defer_accept = ival
            elif optname == TCP_LINGER2:
                sk.linger2 = -1 if ival < 0 else min(ival, 120)
            elif optname == TCP_NODELAY:
                sk.nodelay = bool(ival)
                if ival:
                    push(sk, self._now())  # tcp_push_pending_frames
                    self._done()
            elif optname == TCP_CORK:
                sk.cork = bool(ival)
                if not ival:
                    push(sk, self._now())  # uncork: send what was held
                    self._done()
        elif level == IPPROTO_IP:
            if optname == IP_FREEBIND:
                sk.freebind = bool(ival)
            elif optname == IP_BIND_ADDRESS_NO_PORT:
                sk.bind_no_port = bool(ival)
        self._opts[key] = ival

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> int | bytes:
        self._check_open()
        sk = self.sk
        if level == SOL_SOCKET:
            if optname == SO_ERROR:
                e = sk.sk_err
                sk.sk_err = 0
                return e
            if optname == SO_TYPE:
                return int(self.type)
            if optname == SO_ACCEPTCONN:
                return int(sk.state == LISTEN)
            if optname == SO_REUSEADDR:
                return int(sk.reuse)
            if optname == SO_REUSEPORT:
                return int(sk.reuseport)
            if optname == SO_SNDBUF:
                return sk.sndbuf
            if optname == SO_RCVBUF:
                return sk.rcvbuf
        if level == IPPROTO_TCP:
            if optname == TCP_MAXSEG:
                if sk.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2):
                    return sk.mss_cache
                return sk.user_mss or 536
            if optname == TCP_SYNCNT:
                return sk.syn_retries or self.ns.sysctl.get_int("net.ipv4.tcp_syn_retries")
            if optname == TCP_DEFER_ACCEPT:
                return retrans_to_secs(self._opts.get((level, optname), 0))
            if optname == TCP_CONGESTION:
                name = CONGESTION_CONTROL.encode()
                return (name + bytes(16))[:buflen] if buflen else 0
            if optname == TCP_NODELAY:
                return int(sk.nodelay)
            if optname == TCP_CORK:
                return int(sk.cork)
        return int(self._opts.get((level, optname), 0))

    # -- data --------------------------------------------------------------------------------
    def _raise_pending(self) -> None:
        if self.sk.sk_err:
            e = self.sk.sk_err
            self.sk.sk_err = 0
            raise _err(e)

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        self._check_open()
        sk = self.sk
        data = bytes(data)
        if sk.snd_shutdown or sk.state in (CLOSE, LISTEN):
            self._raise_pending()
            if sk.snd_shutdown or sk.state == CLOSE and self.sock_state == SS_CONNECTED:
                raise _err(errno.EPIPE)
            raise _err(errno.ENOTCONN)
        if not data:
            return 0
        nonblock = flags & MSG_DONTWAIT or self._timeout == 0.0
        if sk.state in (SYN_SENT, SYN_RECV):
            if nonblock:
                raise _err(errno.EAGAIN)
            self._wait(lambda: sk.state not in (SYN_SENT, SYN_RECV))
        n = sk_send(sk, data, self._now())
        self._done()
        if n == 0:
            if nonblock:
                raise _err(errno.EAGAIN)
            self._wait(lambda: sk_send(sk, b"", self._now()) == 0 and self._send_room() > 0
                       or sk.state == CLOSE)
            self._raise_pending()
            n = sk_send(sk, data, self._now())
            self._done()
        return n

    def _send_room(self) -> int:
        return send_room(self.sk)

    def sendall(self, data: bytes | bytearray | memoryview, flags: int = 0) -> None:
        view = memoryview(bytes(data))
        while view:
            n = self.send(view, flags)
            view = view[n:]

    def _recv_ready(self) -> bool:
        sk = self.sk
        return bool(sk.recv_buf) or sk.rcv_shutdown or sk.state == CLOSE or bool(sk.sk_err)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._check_open()
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        sk = self.sk
        if sk.state == LISTEN or (sk.state == CLOSE and self.sock_state == SS_UNCONNECTED
                                  and not sk.sk_err):
            raise _err(errno.ENOTCONN)
        if flags & MSG_DONTWAIT and not self._recv_ready():
            raise _err(errno.EAGAIN)
        self._wait(self._recv_ready)
        if sk.recv_buf:
            data = bytes(sk.recv_buf[:bufsize])
            if not flags & MSG_PEEK:
                del sk.recv_buf[:len(data)]
                sk_recv_consumed(sk, len(data), self._now())
                self._done()
            return data
        self._raise_pending()
        return b""

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0, flags: int = 0) -> int:
        n = nbytes or len(buffer)
        data = self.recv(n, flags)
        buffer[:len(data)] = data
        return len(data)

    # -- close -------------------------------------------------------------------------------
    def shutdown(self, how: int) -> None:
        self._check_open()
        sk = self.sk
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise _err(errno.EINVAL)
        if sk.state in (CLOSE, SYN_SENT) and self.sock_state != SS_CONNECTED \
                and sk.state != LISTEN:
            raise _err(errno.ENOTCONN)
        if how in (SHUT_RD, SHUT_RDWR):
            sk.rcv_shutdown = True
        if how in (SHUT_WR, SHUT_RDWR):
            shutdown_send(sk, self._now())
        if sk.state == LISTEN and how != SHUT_WR:
            # inet_shutdown on a listener: tcp_disconnect -> CLOSE
            tcp_close_listener(sk, self._now())
        self._done()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tcp_close(self.sk, self._now())
        self._done()

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """Like socket.makefile: a (buffered, optionally text) file over this socket."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        reading, writing = "r" in mode, "w" in mode
        raw = _SocketIO(self, reading, writing)
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


class _SocketIO(io.RawIOBase):
    """socket.SocketIO for tuxtcp sockets."""

    def __init__(self, sock: Socket, reading: bool, writing: bool) -> None:
        super().__init__()
        self._sock = sock
        self._reading = reading
        self._writing = writing

    def readinto(self, b: Any) -> int:
        return self._sock.recv_into(memoryview(b).cast("B"))

    def write(self, b: Any) -> int:
        return self._sock.send(bytes(b))

    def readable(self) -> bool:
        return self._reading

    def writable(self) -> bool:
        return self._writing


def tcp_close_listener(sk: TcpSock, now: float) -> None:
    """shutdown() on a listener closes the queue but keeps the socket object."""
    orphan = sk.orphan
    tcp_close(sk, now)
    sk.orphan = orphan
    if sk.state != CLOSE:
        set_state(sk, CLOSE)
