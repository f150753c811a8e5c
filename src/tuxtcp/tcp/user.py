"""The user calls as the kernel carries them out (af_inet.c, tcp.c, inet_connection_sock.c,
socket.c): bind, listen, accept, connect, close, shutdown, reading and writing, socket options
as a table, and tcp_poll readiness.

Each call takes the engine's socket and `now`, changes state only once every check has passed,
and returns 0 or the errno (positive) the kernel returns; socket/api.py turns that into the
OSError Python raises, and does the waiting for blocking calls.
"""

from __future__ import annotations

import errno
import socket as _pysocket
import struct
from collections.abc import Callable
from typing import Final

from ..net.namespace import NetNamespace
from ..net.tcp_states import (
    CLOSE,
    CLOSE_WAIT,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LAST_ACK,
    LISTEN,
    SYN_RECV,
    SYN_SENT,
    TIME_WAIT,
)
from ..wire.seq import MASK as M32
from . import tracepoints as tp
from .active import tcp_connect
from .algorithms import ALGORITHMS, init_congestion_control
from .cong import NO_CA_PRIV
from .constants import TCP_TIMEWAIT_LEN
from .established import arm_fin_wait2
from .keepalive import (
    MAX_TCP_KEEPCNT,
    MAX_TCP_KEEPIDLE,
    MAX_TCP_KEEPINTVL,
    delete_keepalive_timer,
    keepalive_intvl_when,
    keepalive_probes,
    keepalive_time_elapsed,
    keepalive_time_when,
    reset_keepalive_timer,
)
from .lifecycle import (
    clear_timers,
    destroy,
    fin_time,
    new_sock,
    set_state,
    tcp_done,
    time_wait,
    write_queue_purge,
)
from .mem import check_oom, mem_sync, rmem_alloc
from .output import send_ack, send_active_reset
from .rcvwin import select_window_space
from .receive import rcv_space_adjust, rcvq_free, rcvq_purge
from .sock import ListenQueue, TcpSock, holds_port, in_pingpong_mode
from .stream import push, send, send_fin, send_room

SOL_SOCKET: Final = _pysocket.SOL_SOCKET
IPPROTO_IP: Final = _pysocket.IPPROTO_IP
IPPROTO_TCP: Final = _pysocket.IPPROTO_TCP
SHUT_RD: Final = _pysocket.SHUT_RD
SHUT_WR: Final = _pysocket.SHUT_WR
SHUT_RDWR: Final = _pysocket.SHUT_RDWR
SO_REUSEADDR: Final = _pysocket.SO_REUSEADDR
SO_REUSEPORT: Final = _pysocket.SO_REUSEPORT
SO_LINGER: Final = _pysocket.SO_LINGER
SO_KEEPALIVE: Final = _pysocket.SO_KEEPALIVE
SO_SNDBUF: Final = _pysocket.SO_SNDBUF
SO_RCVBUF: Final = _pysocket.SO_RCVBUF
SO_ERROR: Final = _pysocket.SO_ERROR
SO_ACCEPTCONN: Final = _pysocket.SO_ACCEPTCONN
TCP_MAXSEG: Final = _pysocket.TCP_MAXSEG
TCP_NODELAY: Final = _pysocket.TCP_NODELAY
TCP_SYNCNT: Final = _pysocket.TCP_SYNCNT
TCP_DEFER_ACCEPT: Final = _pysocket.TCP_DEFER_ACCEPT
TCP_KEEPIDLE: Final = _pysocket.TCP_KEEPIDLE
TCP_KEEPINTVL: Final = _pysocket.TCP_KEEPINTVL
TCP_KEEPCNT: Final = _pysocket.TCP_KEEPCNT
TCP_USER_TIMEOUT: Final = _pysocket.TCP_USER_TIMEOUT
IP_BIND_ADDRESS_NO_PORT: Final = getattr(_pysocket, "IP_BIND_ADDRESS_NO_PORT", 24)
IP_FREEBIND: Final = getattr(_pysocket, "IP_FREEBIND", 15)
TCP_LINGER2: Final = getattr(_pysocket, "TCP_LINGER2", 8)
TCP_CONGESTION: Final = getattr(_pysocket, "TCP_CONGESTION", 13)
TCP_CORK: Final = getattr(_pysocket, "TCP_CORK", 3)
MAX_TCP_SYNCNT: Final = 127
TCP_MIN_MSS: Final = 88
MAX_TCP_WINDOW: Final = 32767
SOCK_MIN_SNDBUF: Final = 4608
SOCK_MIN_RCVBUF: Final = 2304

# tcp_poll's event bits (include/uapi/linux/eventpoll.h)
EPOLLIN: Final = 0x001
EPOLLOUT: Final = 0x004


# --- bind, listen, accept (af_inet.c, inet_connection_sock.c, socket.c) ------------------
def inet_bind(ns: NetNamespace, sk: TcpSock, addr: int, port: int, uid: int,
              stream: bool) -> int:
    """af_inet.c:__inet_bind, in its order."""
    sysctl = ns.sysctl
    multicast = (addr >> 28) == 0xE
    broadcast = addr == 0xFFFFFFFF
    if (addr and not ns.is_local(addr) and not multicast and not broadcast
            and not sk.freebind and not sysctl.ip_nonlocal_bind):
        return errno.EADDRNOTAVAIL
    if port and port < sysctl.ip_unprivileged_port_start and uid != 0:
        return errno.EACCES  # no CAP_NET_BIND_SERVICE
    # inet->inet_num: a port held, not the inet_sport a failed connect leaves to getsockname
    if sk.state != CLOSE or (holds_port(sk) if stream else sk.lport) or sk.bind_addr_lock:
        return errno.EINVAL
    if not stream:
        sk.laddr, sk.lport = addr, port or 1
        return 0
    requested = port
    if port == 0:
        if sk.bind_no_port:
            sk.laddr = addr
            sk.bind_addr_lock = bool(addr)
            return 0
        low, high = sysctl.ip_local_port_range
        found = ns.ports.find_open_port(sk, addr, low, high)
        if found is None:
            return errno.EADDRINUSE
        port = found
    elif not ns.ports.get_port(sk, addr, port):
        return errno.EADDRINUSE
    sk.laddr = addr
    ns.ports.add_owner(sk, port)
    sk.bind_addr_lock = bool(addr)
    sk.bind_port_lock = bool(requested)  # SOCK_BINDPORT_LOCK only for an explicit port
    return 0


def sys_listen(ns: NetNamespace, sk: TcpSock, backlog: int, unconnected: bool, stream: bool,
               now: float) -> int:
    """__sys_listen (caps (unsigned)backlog at somaxconn, so a negative backlog becomes
    somaxconn) + inet_listen + inet_csk_listen_start."""
    somaxconn = ns.sysctl.somaxconn
    if backlog & M32 > somaxconn:
        backlog = somaxconn
    if not stream:
        return errno.EOPNOTSUPP
    if not unconnected or sk.state not in (CLOSE, LISTEN):
        return errno.EINVAL
    sk.backlog = backlog
    if sk.state == LISTEN:
        return 0  # a second listen() only changes the backlog
    # inet_csk_listen_start: LISTEN first (inet_sk_state_store, traced), then get_port (which
    # re-checks conflicts); on failure back to CLOSE (inet_sk_set_state, traced)
    lq = sk.lq = ListenQueue()
    if ns.trace.on_set_state:
        tp.set_state(sk, CLOSE, LISTEN, now)
    sk.state = LISTEN
    if not holds_port(sk):  # inet_csk_listen_start: get_port(sk, inet_num 0) autobinds
        low, high = ns.sysctl.ip_local_port_range
        port = ns.ports.find_open_port(sk, sk.laddr, low, high)
        if port is None:
            _listen_failed(sk, now)
            return errno.EADDRINUSE
        ns.ports.add_owner(sk, port)
    elif not ns.ports.get_port(sk, sk.laddr, sk.lport):
        _listen_failed(sk, now)
        return errno.EADDRINUSE
    if sk.listen_refused:
        # observed on 6.18.44 here: after a connect() that failed while the caller waited
        # (tcp_disconnect in __inet_stream_connect's sock_error), listen() takes its port
        # (autobinding an unbound socket) and then fails, back in CLOSE, keeping the port:
        # EINVAL, from inet_csk_listen_start's hash step (the cause in the source was not
        # found; a socket whose failed connect was polled, CPython's with a timeout, never
        # gets here: it is still SS_CONNECTING)
        _listen_failed(sk, now)
        return errno.EINVAL
    if not sk.inode:
        sk.inode = ns.alloc_inode()
    sk.created = now
    ns.lhash.setdefault(sk.lport, []).append(sk)
    lq.defer_accept = sk.defer_accept
    return 0


def _listen_failed(sk: TcpSock, now: float) -> None:
    if sk.ns.trace.on_set_state:
        tp.set_state(sk, LISTEN, CLOSE, now)
    sk.state = CLOSE
    sk.lq = None


def inet_accept(ns: NetNamespace, sk: TcpSock) -> TcpSock | int:
    """inet_csk_accept: the head of the accept queue (reqsk_queue_remove, FIFO), or EINVAL
    once the socket is no longer listening, or EAGAIN while the queue is empty."""
    lq = sk.lq
    if sk.state != LISTEN or lq is None:
        return errno.EINVAL
    if not lq.accept_queue:
        return errno.EAGAIN
    child = lq.accept_queue.popleft()
    child.inode = ns.alloc_inode()
    child.parent = None  # sock_graft: the child has its own owner now
    return child


def accept_ready(sk: TcpSock) -> bool:
    return sk.state != LISTEN or bool(sk.lq and sk.lq.accept_queue)


# --- connect -------------------------------------------------------------------------------
def inet_stream_connect(ns: NetNamespace, sk: TcpSock, addr: int, port: int, stream: bool,
                        now: float) -> int:
    """__inet_stream_connect for an unconnected socket: tcp_v4_connect sends the SYN. Returns 0
    (the caller waits for the handshake: EINPROGRESS) or the errno."""
    if sk.state != CLOSE:
        return errno.EISCONN
    if not stream:
        return errno.EOPNOTSUPP
    sk.listen_refused = False
    sk.raddr, sk.rport = addr, port
    err = tcp_connect(ns, sk, now)
    if err:
        sk.rport = 0  # tcp_v4_connect's failure: inet_dport = 0, the peer's address stays
        return err
    if not sk.inode:
        sk.inode = ns.alloc_inode()
    return 0


def connecting(sk: TcpSock) -> bool:
    return sk.state == SYN_SENT or sk.state == SYN_RECV


def connect_result(sk: TcpSock) -> int:
    """The end of __inet_stream_connect once the handshake is over: 0, or sock_error (the
    pending error, read and cleared, else ECONNABORTED) and tcp_disconnect, after which the
    socket is unconnected again. tcp_disconnect sets inet_dport to 0 and resets the source
    address (inet_bhash2_reset_saddr, unless bound to one); the port went back at
    tcp_set_state(TCP_CLOSE) unless bound explicitly, but inet_sport stays, so getsockname()
    shows ('0.0.0.0', the old port) and the next connect() picks a new one (6.18)."""
    if sk.state != CLOSE:
        return 0
    e = sk.sk_err or errno.ECONNABORTED
    sk.sk_err = 0
    sk.rport = 0
    if not sk.bind_addr_lock:
        sk.laddr = 0
    sk.listen_refused = True
    return e


def sock_error(sk: TcpSock) -> int:
    """sock_error: the pending error, read and cleared (getsockopt(SO_ERROR) without the soft
    error): how CPython's connect() on a socket with a timeout learns the result, so a
    failed connect leaves the socket as it is (no tcp_disconnect)."""
    e = sk.sk_err
    sk.sk_err = 0
    return e


# --- data ------------------------------------------------------------------------------------
def tcp_sendmsg(sk: TcpSock, data: bytes, now: float) -> int:
    """tcp_sendmsg: copy what fits in the send buffer and push; returns the bytes taken."""
    return send(sk, data, now)


def send_space(sk: TcpSock) -> int:
    return send_room(sk)


def recv_ready(sk: TcpSock) -> bool:
    return bool(sk.recv_buf) or sk.rcv_shutdown or sk.state == CLOSE or bool(sk.sk_err)


def tcp_recvmsg(sk: TcpSock, n: int, peek: bool, now: float) -> bytes:
    """tcp_recvmsg: up to n bytes from the receive queue; reading frees space, which may send a
    window update (tcp_cleanup_rbuf)."""
    data = bytes(sk.recv_buf[:n])
    if data and not peek:
        del sk.recv_buf[:len(data)]
        rcvq_free(sk, (sk.copied_seq + len(data)) & M32)
        mem_sync(sk, now)
        tcp_cleanup_rbuf(sk, len(data), now)
    return data


def tcp_cleanup_rbuf(sk: TcpSock, n: int, now: float) -> None:
    """tcp_cleanup_rbuf: after reading, the ACK __tcp_ack_snd_check left to the read (a
    delayed ACK is pending with more than one segment unacknowledged: "once-per-two-segments
    ACK was not sent by tcp_input.c"), else a window update if the window we could offer is
    at least twice the one the peer still sees (and that one is at most half the clamp)."""
    sk.copied_seq = (sk.copied_seq + n) & M32
    rcv_space_adjust(sk, now)  # tcp_recvmsg_locked, just before tcp_cleanup_rbuf
    if n <= 0 or sk.state not in (ESTABLISHED, FIN_WAIT1, FIN_WAIT2):
        return
    ack = sk.icsk_ack
    if sk.delack_timer is not None and sk.delack_timer.pending and (
            (sk.rcv_nxt - sk.rcv_wup) & M32 > max(ack.rcv_mss, 1)
            # the read emptied the queue after a small segment (ICSK_ACK_PUSHED2, or
            # PUSHED outside pingpong mode): ACK now
            or ((ack.pushed & 2 or (ack.pushed & 1 and not in_pingpong_mode(sk)))
                and not rmem_alloc(sk))):
        send_ack(sk, now)
        return
    if sk.rcv_shutdown:
        return
    now_window = (sk.rcv_adv - sk.rcv_nxt) & M32
    if now_window & 0x80000000:
        now_window = 0
    if 2 * now_window <= sk.window_clamp:
        new_window = select_window_space(sk)
        if new_window and new_window >= 2 * now_window:
            send_ack(sk, now)


def tcp_poll(sk: TcpSock, connected: bool) -> int:
    """tcp_poll: EPOLLIN/EPOLLOUT as poll(2) reports them. `connected`: the socket was
    connected or connecting (struct socket's state is not SS_UNCONNECTED)."""
    if sk.state == LISTEN:
        return EPOLLIN if sk.lq is not None and sk.lq.accept_queue else 0
    ev = 0
    if sk.recv_buf or sk.rcv_shutdown or sk.sk_err or (sk.state == CLOSE and connected):
        ev |= EPOLLIN
    if not connecting(sk) and (sk.state == CLOSE or sk.snd_shutdown or send_room(sk) > 0):
        ev |= EPOLLOUT
    return ev


# --- close and shutdown (tcp.c) ----------------------------------------------------------------
def tcp_close(sk: TcpSock, now: float) -> None:
    """__tcp_close."""
    ns = sk.ns
    sk.rcv_shutdown = True
    sk.orphan = True
    sk.on_wakeup = None  # sock_orphan: nobody is left to wake (and no sk <-> owner cycle)
    ns.tcp_orphan_count += 1  # (dropped again in inet_csk_destroy_sock)
    if sk.state == LISTEN:
        set_state(sk, CLOSE, now)
        lq = sk.lq
        if lq is not None:
            # inet_csk_listen_stop: queued children are disconnected (RST). Its requests stay
            # in ehash and go when their timer fires or a segment finds them, their listener
            # no longer listening (reqsk_timer_handler, tcp_v4_rcv), as in the kernel
            while lq.accept_queue:
                child = lq.accept_queue.popleft()
                child.orphan = True
                ns.tcp_orphan_count += 1
                tcp_disconnect(child, now)
        destroy(sk, now)
        return
    unread = len(sk.recv_buf)
    rcvq_purge(sk)
    mem_sync(sk, now)
    if sk.state == CLOSE:
        destroy(sk, now)
        return
    if unread:
        # RFC 2525: unread data on close -> RST, TCPAbortOnClose
        ns.mib.tcp_ext.TCPAbortOnClose += 1
        set_state(sk, CLOSE, now)
        send_active_reset(sk, now, "TCP_ABORT_ON_CLOSE")
        tcp_done(sk, now)
        return
    if sk.linger == 0:
        ns.mib.tcp_ext.TCPAbortOnData += 1
        tcp_disconnect(sk, now)
        return
    if _close_state(sk, now):
        send_fin(sk, now)
    if sk.state == FIN_WAIT2:
        if sk.linger2 < 0:
            ns.mib.tcp_ext.TCPAbortOnLinger += 1
            set_state(sk, CLOSE, now)
            send_active_reset(sk, now, "TCP_ABORT_ON_LINGER")
            tcp_done(sk, now)
            return
        tmo = fin_time(sk)
        if tmo > TCP_TIMEWAIT_LEN:
            arm_fin_wait2(sk, now, tmo - TCP_TIMEWAIT_LEN)
        else:
            time_wait(sk, FIN_WAIT2, tmo, now)
            return
    if sk.state != CLOSE and check_oom(sk, 0):
        # too many orphans or TCP memory over tcp_mem[2]: reset instead of closing politely
        set_state(sk, CLOSE, now)
        send_active_reset(sk, now, "TCP_ABORT_ON_MEMORY")
        ns.mib.tcp_ext.TCPAbortOnMemory += 1
    if sk.state == CLOSE:
        tcp_done(sk, now)


def _close_state(sk: TcpSock, now: float) -> bool:
    """tcp_close_state: the new_state table. True when a FIN must be sent."""
    st = sk.state
    if st in (ESTABLISHED, SYN_RECV):
        set_state(sk, FIN_WAIT1, now)
        return True
    if st == CLOSE_WAIT:
        set_state(sk, LAST_ACK, now)
        return True
    if st in (SYN_SENT, LISTEN, TIME_WAIT, CLOSE):
        set_state(sk, CLOSE, now)
        clear_timers(sk)
    elif st in (FIN_WAIT1, FIN_WAIT2, LAST_ACK, CLOSING):
        set_state(sk, st, now)  # the table maps these to themselves: tcp_set_state traces X->X
    return False


def inet_shutdown(sk: TcpSock, how: int, connected: bool, now: float) -> int:
    """inet_shutdown: SHUT_RD/SHUT_WR/SHUT_RDWR; tcp_shutdown sends a FIN in ESTABLISHED,
    SYN_SENT and CLOSE_WAIT; on a listener SHUT_RD/RDWR stops listening (tcp_disconnect)."""
    if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
        return errno.EINVAL
    if sk.state in (CLOSE, SYN_SENT) and not connected and sk.state != LISTEN:
        return errno.ENOTCONN
    if how in (SHUT_RD, SHUT_RDWR):
        sk.rcv_shutdown = True
    if how in (SHUT_WR, SHUT_RDWR):
        sk.snd_shutdown = True
        if sk.state in (ESTABLISHED, SYN_SENT, CLOSE_WAIT) and _close_state(sk, now):
            send_fin(sk, now)
    if sk.state == LISTEN and how != SHUT_WR:
        orphan = sk.orphan
        tcp_close(sk, now)
        sk.orphan = orphan
        if sk.state != CLOSE:
            set_state(sk, CLOSE, now)
    return 0


def tcp_disconnect(sk: TcpSock, now: float) -> None:
    """tcp_disconnect: RST where tcp_need_reset says so, then CLOSE."""
    old = sk.state
    if old in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, SYN_RECV):
        send_active_reset(sk, now, "TCP_STATE")
        sk.sk_err = errno.ECONNRESET
    write_queue_purge(sk, now)
    set_state(sk, CLOSE, now)
    clear_timers(sk)
    if sk.orphan:
        destroy(sk, now)


# --- socket options: one table per direction ------------------------------------------------
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


class OptArg:
    """A setsockopt argument as the kernel sees it: the int at the start of optval (or the
    Python int) and the raw bytes when bytes were given."""

    __slots__ = ("ival", "raw")

    def __init__(self, ival: int, raw: bytes | None) -> None:
        self.ival = ival
        self.raw = raw


def _set_reuseaddr(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.reuse = bool(a.ival)
    return 0


def _set_reuseport(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.reuseport = bool(a.ival)
    return 0


def _set_linger(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.raw is None or len(a.raw) < 8:
        return errno.EINVAL
    onoff, secs = struct.unpack("ii", a.raw[:8])
    sk.linger = secs if onoff else None
    return 0


def _set_keepalive(sk: TcpSock, a: OptArg, now: float) -> int:
    """sock_setsockopt SO_KEEPALIVE -> tcp_set_keepalive: on a socket past listen/close the
    keepalive timer starts (keepalive_time from now) or stops."""
    on = bool(a.ival)
    if sk.state not in (CLOSE, LISTEN):
        if on and not sk.keepalive:
            reset_keepalive_timer(sk, now, keepalive_time_when(sk))
        elif not on and not (sk.state == FIN_WAIT2 and sk.orphan):
            delete_keepalive_timer(sk)
    sk.keepalive = on
    return 0


def _keepalive_rearm(sk: TcpSock, now: float) -> None:
    """tcp_sock_set_keepidle_locked: a new idle time counts from the last activity."""
    if sk.keepalive and sk.state not in (CLOSE, LISTEN):
        elapsed = keepalive_time_elapsed(sk, now)
        when = keepalive_time_when(sk)
        reset_keepalive_timer(sk, now, when - elapsed if when > elapsed else 0.0)


def _set_keepidle(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.ival < 1 or a.ival > MAX_TCP_KEEPIDLE:
        return errno.EINVAL
    sk.keepalive_time = float(a.ival)
    _keepalive_rearm(sk, now)
    return 0


def _set_keepintvl(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.ival < 1 or a.ival > MAX_TCP_KEEPINTVL:
        return errno.EINVAL
    sk.keepalive_intvl = float(a.ival)
    return 0


def _set_keepcnt(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.ival < 1 or a.ival > MAX_TCP_KEEPCNT:
        return errno.EINVAL
    sk.keepalive_probes = a.ival
    return 0


def _set_user_timeout(sk: TcpSock, a: OptArg, now: float) -> int:
    """tcp_sock_set_user_timeout: milliseconds, never negative (0 turns it off)."""
    if a.ival < 0:
        return errno.EINVAL
    sk.user_timeout = a.ival
    return 0


def _set_sndbuf(sk: TcpSock, a: OptArg, now: float) -> int:
    """sock_setsockopt: the kernel doubles the value (bookkeeping overhead), capped by
    wmem_max and floored at SOCK_MIN_SNDBUF; SOCK_SNDBUF_LOCK stops auto-tuning."""
    sk.sndbuf = max(min(max(a.ival, 0), sk.ns.sysctl.wmem_max) * 2, SOCK_MIN_SNDBUF)
    sk.buf_locked |= 1
    return 0


def _set_rcvbuf(sk: TcpSock, a: OptArg, now: float) -> int:
    """The same for the receive buffer, capped by rmem_max."""
    sk.rcvbuf = max(min(max(a.ival, 0), sk.ns.sysctl.rmem_max) * 2, SOCK_MIN_RCVBUF)
    sk.buf_locked |= 2
    return 0


def _set_maxseg(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.ival and (a.ival < TCP_MIN_MSS or a.ival > MAX_TCP_WINDOW):
        return errno.EINVAL
    sk.rx_opt.user_mss = a.ival
    return 0


def _set_syncnt(sk: TcpSock, a: OptArg, now: float) -> int:
    if a.ival < 1 or a.ival > MAX_TCP_SYNCNT:
        return errno.EINVAL
    sk.syn_retries = a.ival
    return 0


def _set_defer_accept(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.defer_accept = secs_to_retrans(a.ival)
    if sk.lq is not None:
        sk.lq.defer_accept = sk.defer_accept
    return 0


def _set_linger2(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.linger2 = -1 if a.ival < 0 else min(a.ival, 120)
    return 0


def _set_nodelay(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.nodelay = bool(a.ival)
    if a.ival:
        push(sk, now)  # tcp_push_pending_frames
    return 0


def _set_cork(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.cork = bool(a.ival)
    if not a.ival:
        push(sk, now)  # uncork: send what was held
    return 0


def _set_freebind(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.freebind = bool(a.ival)
    return 0


def _set_bind_no_port(sk: TcpSock, a: OptArg, now: float) -> int:
    sk.bind_no_port = bool(a.ival)
    return 0


SETSOCKOPT: Final[dict[tuple[int, int], Callable[[TcpSock, OptArg, float], int]]] = {
    (SOL_SOCKET, SO_REUSEADDR): _set_reuseaddr,
    (SOL_SOCKET, SO_REUSEPORT): _set_reuseport,
    (SOL_SOCKET, SO_LINGER): _set_linger,
    (SOL_SOCKET, SO_KEEPALIVE): _set_keepalive,
    (IPPROTO_TCP, TCP_KEEPIDLE): _set_keepidle,
    (IPPROTO_TCP, TCP_KEEPINTVL): _set_keepintvl,
    (IPPROTO_TCP, TCP_KEEPCNT): _set_keepcnt,
    (IPPROTO_TCP, TCP_USER_TIMEOUT): _set_user_timeout,
    (SOL_SOCKET, SO_SNDBUF): _set_sndbuf,
    (SOL_SOCKET, SO_RCVBUF): _set_rcvbuf,
    (IPPROTO_TCP, TCP_MAXSEG): _set_maxseg,
    (IPPROTO_TCP, TCP_SYNCNT): _set_syncnt,
    (IPPROTO_TCP, TCP_DEFER_ACCEPT): _set_defer_accept,
    (IPPROTO_TCP, TCP_LINGER2): _set_linger2,
    (IPPROTO_TCP, TCP_NODELAY): _set_nodelay,
    (IPPROTO_TCP, TCP_CORK): _set_cork,
    (IPPROTO_IP, IP_FREEBIND): _set_freebind,
    (IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT): _set_bind_no_port,
}


def set_congestion(sk: TcpSock, name: bytes, now: float) -> int:
    """tcp_set_congestion_control: ENOENT for an algorithm this stack does not have (the
    caller is root: any available one may be chosen). tcp_reinit_congestion_control: the
    choice sticks (a listener passes it on), and a socket past CLOSE and LISTEN starts the
    new algorithm afresh at once."""
    ops = ALGORITHMS.get(name.split(b"\0")[0].decode("latin-1"))
    if ops is None:
        return errno.ENOENT
    sk.ca_setsockopt = True
    if ops is sk.ca_ops:
        return 0
    sk.ca_ops = ops
    sk.ca_priv = NO_CA_PRIV
    sk.ca_initialized = False
    if sk.state not in (CLOSE, LISTEN):
        init_congestion_control(sk, now)
    return 0


def setsockopt(sk: TcpSock, level: int, optname: int, arg: OptArg, now: float) -> int:
    """sock_setsockopt / do_tcp_setsockopt / do_ip_setsockopt through the table. Options the
    engine does not act on are accepted (their value is kept by the caller)."""
    fn = SETSOCKOPT.get((level, optname))
    return fn(sk, arg, now) if fn is not None else 0


def getsockopt(ns: NetNamespace, sk: TcpSock, level: int, optname: int) -> int | None:
    """sock_getsockopt / do_tcp_getsockopt for the int options the engine keeps; None for one
    it does not (the caller answers with what was set)."""
    if level == SOL_SOCKET:
        if optname == SO_ERROR:
            # sock_getsockopt: the pending error, else the soft one (an ICMP error on an
            # established connection, say); either is cleared by reading it
            e = sk.sk_err
            sk.sk_err = 0
            if not e:
                e = sk.sk_err_soft
                sk.sk_err_soft = 0
            return e
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
        if optname == SO_KEEPALIVE:
            return int(sk.keepalive)
    elif level == IPPROTO_TCP:
        if optname == TCP_MAXSEG:
            if sk.state in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2):
                return sk.mss_cache
            return sk.rx_opt.user_mss or 536
        if optname == TCP_SYNCNT:
            return sk.syn_retries or ns.sysctl.tcp_syn_retries
        if optname == TCP_DEFER_ACCEPT:
            return retrans_to_secs(sk.defer_accept)
        if optname == TCP_NODELAY:
            return int(sk.nodelay)
        if optname == TCP_CORK:
            return int(sk.cork)
        if optname == TCP_KEEPIDLE:
            return int(keepalive_time_when(sk))
        if optname == TCP_KEEPINTVL:
            return int(keepalive_intvl_when(sk))
        if optname == TCP_KEEPCNT:
            return keepalive_probes(sk)
        if optname == TCP_USER_TIMEOUT:
            return sk.user_timeout
    return None


def congestion_name(sk: TcpSock) -> bytes:
    return sk.ca_ops.name.encode()


def socket_create(ns: NetNamespace, uid: int) -> TcpSock:
    """inet_create -> tcp_v4_init_sock: a new socket in CLOSE."""
    return new_sock(ns, uid)
