"""A tuxtcp namespace's sockets as socket records (observe/records.py) and `ss` over them:
what inet_diag would report for each listener, request, connection and TIME_WAIT sock."""

from __future__ import annotations

import hashlib

from ..net.mib_names import NETSTAT_GROUPS, SNMP_GROUPS
from ..net.namespace import NetNamespace
from ..net.tcp_states import LISTEN, SYN_RECV
from ..net.trace import hashed_ptr
from ..tcp.ehash import entries
from ..tcp.info import KERNEL_FIELDS, tcp_get_info
from ..tcp.mem import skmem
from ..tcp.reqsk import RequestSock
from ..tcp.sock import TcpSock
from ..tcp.tracepoints import sock_cookie
from ..tcp.twsock import TimeWaitSock
from .netstat_s import parse_args as netstat_args
from .netstat_s import render as render_netstat_s
from .nstat import snapshot
from .records import (
    TIMER_KEEPALIVE,
    TIMER_OFF,
    TIMER_ON,
    TIMER_PERSIST,
    TIMER_TIMEWAIT,
    SockRecord,
    expires_ms,
)
from .sockstat import render_sockstat, render_summary
from .ss import parse_args, render


def unread(sk: TcpSock) -> int:
    """max(rcv_nxt - copied_seq, 0), as tcp_diag_get_info and get_tcp4_sock count a
    connection's Recv-Q: a FIN received and not yet read counts one."""
    d = (sk.rcv_nxt - sk.copied_seq) & 0xFFFFFFFF
    return 0 if d & 0x80000000 else d


def _cookie(obj: object) -> int:
    """sock_gen_cookie stands in: a stable 64-bit number per socket object."""
    return int.from_bytes(hashlib.blake2b(str(id(obj)).encode(), digest_size=8).digest(),
                          "big") >> 16


def _full(sk: TcpSock, now: float, info: bool) -> SockRecord:
    timer, expires, retrans = TIMER_OFF, 0, 0
    if sk.rtx_timer is not None and sk.rtx_timer.pending:
        timer, expires, retrans = TIMER_ON, expires_ms(sk.rtx_timer.expires, now), sk.retransmits
    elif sk.probe_timer is not None and sk.probe_timer.pending:
        timer, expires = TIMER_PERSIST, expires_ms(sk.probe_timer.expires, now)
        retrans = sk.probes_out
    elif sk.keepalive_timer is not None and sk.keepalive_timer.pending:
        timer, expires = TIMER_KEEPALIVE, expires_ms(sk.keepalive_timer.expires, now)
        retrans = sk.probes_out
    if sk.state == LISTEN:
        rq = len(sk.lq.accept_queue) if sk.lq else 0
        wq = sk.backlog
        daddr, dport = 0, 0
    else:
        rq = unread(sk)
        wq = (sk.write_seq - sk.snd_una) & 0xFFFFFFFF
        daddr, dport = sk.raddr, sk.rport
    shutdown = (1 if sk.rcv_shutdown else 0) | (2 if sk.snd_shutdown else 0)
    rec = SockRecord(sk.state, sk.laddr, sk.lport, daddr, dport, timer=timer,
                     retrans=retrans, expires=expires, rqueue=rq, wqueue=wq, uid=sk.uid,
                     inode=sk.inode, cookie=_cookie(sk), shutdown=shutdown,
                     skmem=tuple(skmem(sk)))
    if info:
        # inet_sk_diag_fill: INET_DIAG_INFO (tcp_get_info) and INET_DIAG_CONG
        ti = tcp_get_info(sk, now)
        rec.info = {f: getattr(ti, f) for f in KERNEL_FIELDS}
        rec.cong = sk.ca_ops.name
    return rec


def ns_records(ns: NetNamespace, now: float, info: bool = False,
               states: set[int] | None = None) -> list[SockRecord]:
    """Every TCP socket of a tuxtcp namespace, in the order a sock_diag dump gives them:
    listeners, then the established hash (requests, full sockets, TIME_WAIT); `info`: with
    tcp_info and the congestion control's name (what ss -i asks for); `states`: only those
    in these states, as inet_diag_dump_icsk leaves the others out of the dump (no record is
    built for them: `ss -l` at a host holding 600,000 TIME_WAITs stays cheap)."""
    out = []
    if states is None or LISTEN in states:
        for lst in ns.lhash.values():
            for sk in lst:
                assert isinstance(sk, TcpSock)
                out.append(_full(sk, now, info))
    for obj in entries(ns):
        if isinstance(obj, TcpSock) and (states is None or obj.state in states):
            out.append(_full(obj, now, info))
        elif isinstance(obj, RequestSock) and (states is None or SYN_RECV in states):
            out.append(SockRecord(SYN_RECV, obj.laddr, obj.lport, obj.raddr, obj.rport,
                                  timer=TIMER_ON, retrans=obj.num_retrans,
                                  expires=expires_ms(obj.expires, now) if obj.pending else 0,
                                  cookie=_cookie(obj)))
        elif isinstance(obj, TimeWaitSock) and (states is None or obj.substate in states):
            out.append(SockRecord(obj.substate, obj.laddr, obj.lport, obj.raddr,
                                  obj.rport, timer=TIMER_TIMEWAIT,
                                  expires=expires_ms(obj.expires, now) if obj.pending else 0,
                                  cookie=_cookie(obj)))
    return out


def render_ss(ns: NetNamespace, args: str, now: float) -> str:
    """`ss ARGS` for a tuxtcp namespace at virtual time `now`."""
    opts = parse_args(args)
    opts.ephemeral = ns.sysctl.ip_local_port_range
    head = ""
    if opts.summary:
        head = render_summary(render_sockstat(ns), "", ns.mib.render_two_line(SNMP_GROUPS))
        if opts.summary_only:
            return head
    return head + render(ns_records(ns, now, opts.info, opts.states), opts)


def ns_counters(ns: NetNamespace) -> list[tuple[str, int]]:
    """The namespace's counters as nstat reads them from /proc/net/snmp and netstat."""
    return snapshot({"snmp": ns.mib.render_two_line(SNMP_GROUPS),
                     "netstat": ns.mib.render_two_line(NETSTAT_GROUPS)})


def render_netstat(ns: NetNamespace, args: str = "-s") -> str:
    """`netstat ARGS` (-s with -t, -u, -w) for a tuxtcp namespace."""
    return render_netstat_s([ns.mib.render_two_line(SNMP_GROUPS),
                             ns.mib.render_two_line(NETSTAT_GROUPS)], netstat_args(args.split()))


def listener_ptrs(ns: NetNamespace) -> dict[int, tuple[int, int]]:
    """{hashed pointer: (address, port)} of the namespace's listeners, the pointer as its
    tracepoints and /proc/net/tcp print it (observe/trace_tally.py)."""
    out = {}
    for lst in ns.lhash.values():
        for sk in lst:
            assert isinstance(sk, TcpSock)
            out[hashed_ptr(sock_cookie(sk))] = (sk.laddr, sk.lport)
    return out
