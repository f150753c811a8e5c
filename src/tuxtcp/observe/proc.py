"""/proc/net/tcp (tcp_ipv4.c:tcp4_seq_show), /proc/net/netstat and /proc/net/snmp.

Every /proc/net/tcp line is padded with spaces to 149 characters (TMPSZ - 1). Addresses print
the network-order u32 as a host-order (little-endian) %08X; times are USER_HZ (1/100 s) ticks.
"""

from __future__ import annotations

import hashlib

from ..net.mib_names import NETSTAT_GROUPS, SNMP_GROUPS
from ..net.namespace import NetNamespace
from ..net.tcp_states import LISTEN, SYN_RECV, SYN_SENT
from ..net.trace import hashed_ptr
from ..tcp.ehash import entries
from ..tcp.reqsk import RequestSock
from ..tcp.sock import TcpSock, in_pingpong_mode
from ..tcp.tracepoints import sock_cookie, tw_addr
from ..tcp.twsock import TimeWaitSock
from .nsview import unread

HEADER = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
          "timeout inode")
WIDTH = 149
USER_HZ = 100


def hex_addr(addr: int) -> str:
    return f"{int.from_bytes(addr.to_bytes(4, 'big'), 'little'):08X}"


def _clock_t(seconds: float) -> int:
    return max(0, int(seconds * USER_HZ))


def _ptr(obj: object, salt: str) -> str:
    digest = hashlib.blake2b(f"{salt}:{id(obj)}".encode(), digest_size=4).hexdigest()
    return "00000000" + digest


def sock_ptr(sk: TcpSock) -> str:
    """The socket column: the hashed pointer the tracepoints print for the same socket
    (skaddr, rx_sk), as the kernel hashes %pK and %p alike (checked on 6.18: a listener's
    /proc/net/tcp pointer equals kfree_skb's rx_sk and tcp_send_reset's skaddr)."""
    return f"{hashed_ptr(sock_cookie(sk)):016x}"


def _pad(line: str) -> str:
    return line.ljust(WIDTH) + "\n"


def _in_initial_slowstart(sk: TcpSock) -> bool:
    return sk.ssthresh >= 0x7FFFFFFF


def sock_line(i: int, sk: TcpSock, now: float) -> str:
    """get_tcp4_sock."""
    timer, when, retr = 0, 0.0, sk.retransmits
    if sk.rtx_timer is not None and sk.rtx_timer.pending:
        timer, when = 1, sk.rtx_timer.expires - now
    elif sk.probe_timer is not None and sk.probe_timer.pending:
        timer, when, retr = 4, sk.probe_timer.expires - now, 0  # zero-window probe
    elif sk.keepalive_timer is not None and sk.keepalive_timer.pending:
        timer, when = 2, sk.keepalive_timer.expires - now
    if sk.state == LISTEN:
        rxq = len(sk.lq.accept_queue) if sk.lq else 0
        txq = 0
        last = 0  # fastopen max_qlen
    else:
        rxq = unread(sk)
        txq = (sk.write_seq - sk.snd_una) & 0xFFFFFFFF
        last = -1 if _in_initial_slowstart(sk) else sk.ssthresh
    raddr, rport = (0, 0) if sk.state == LISTEN else (sk.raddr, sk.rport)
    refcnt = 1 + (1 if timer else 0) + (1 if sk.state == LISTEN and rxq else 0)
    cwnd = 1 if sk.state == SYN_SENT and sk.retransmits else sk.cwnd
    ack_flags = (sk.icsk_ack.quick << 1) | in_pingpong_mode(sk)
    return (f"{i:4d}: {hex_addr(sk.laddr)}:{sk.lport:04X} {hex_addr(raddr)}:{rport:04X} "
            f"{sk.state:02X} {txq:08X}:{rxq:08X} {timer:02X}:{_clock_t(when):08X} "
            f"{retr:08X} {sk.uid:5d} {0:8d} {sk.inode} {refcnt} {sock_ptr(sk)} "
            f"{_clock_t(sk.rto)} {_clock_t(sk.icsk_ack.ato)} {ack_flags} {cwnd} "
            f"{last}")


def req_line(i: int, req: RequestSock, now: float) -> str:
    """get_openreq4: st 03, tr 1, retrnsmt = num_timeout, uid of the listener."""
    ttd = (req.expires - now) if req.pending else 0.0
    return (f"{i:4d}: {hex_addr(req.laddr)}:{req.lport:04X} {hex_addr(req.raddr)}:"
            f"{req.rport:04X} {SYN_RECV:02X} {0:08X}:{0:08X} {1:02X}:{_clock_t(ttd):08X} "
            f"{req.num_timeout:08X} {req.listener.uid:5d} {0:8d} 0 0 {_ptr(req, 'req')}")


def tw_line(i: int, tw: TimeWaitSock, now: float) -> str:
    """get_timewait4_sock: st = substate (05 or 06), tr 3."""
    ttd = (tw.expires - now) if tw.pending else 0.0
    return (f"{i:4d}: {hex_addr(tw.laddr)}:{tw.lport:04X} {hex_addr(tw.raddr)}:{tw.rport:04X} "
            f"{int(tw.substate):02X} {0:08X}:{0:08X} {3:02X}:{_clock_t(ttd):08X} {0:08X} "
            f"{0:5d} {0:8d} 0 3 {hashed_ptr(tw_addr(tw)):016x}")


def render_net_tcp(ns: NetNamespace, now: float, max_entries: int | None = None) -> str:
    """/proc/net/tcp: listeners, then the established hash (requests, sockets, TIME_WAIT).
    `max_entries` stops early, like `head`: the kernel prints in this same order."""
    out = [_pad(HEADER)]
    i = 0
    listeners = [s for lst in ns.lhash.values() for s in lst]
    for sk in listeners:
        assert isinstance(sk, TcpSock)
        out.append(_pad(sock_line(i, sk, now)))
        i += 1
    for obj in entries(ns):
        if max_entries is not None and i >= max_entries:
            break
        if isinstance(obj, TcpSock):
            line = sock_line(i, obj, now)
        elif isinstance(obj, RequestSock):
            line = req_line(i, obj, now)
        elif isinstance(obj, TimeWaitSock):
            line = tw_line(i, obj, now)
        else:
            continue
        out.append(_pad(line))
        i += 1
    return "".join(out)


def render_proc(ns: NetNamespace, path: str, now: float, max_entries: int | None = None) -> str:
    p = path.strip("/")
    if p.startswith("proc/"):
        p = p[5:]
    if p == "net/tcp":
        return render_net_tcp(ns, now, max_entries)
    if p == "net/netstat":
        return ns.mib.render_two_line(NETSTAT_GROUPS)
    if p == "net/snmp":
        return ns.mib.render_two_line(SNMP_GROUPS)
    if p == "net/sockstat":
        from .sockstat import render_sockstat

        return render_sockstat(ns)
    if p.startswith("sys/"):
        return ns.sysctl.render(p[4:].replace("/", ".")) + "\n"
    raise FileNotFoundError(f"/proc/{p}")
