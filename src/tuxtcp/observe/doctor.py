"""`tuxtcp doctor`: what the listen queues of a namespace (tuxtcp's or the kernel's) went
through over an interval, and what to do about it.

Input: listener samples (sock_diag records: a listener's Recv-Q is its accept queue, Send-Q
its effective backlog, min(listen() argument, net.core.somaxconn); SYN-RECV rows per listener
are its SYN queue), the TcpExt counters at the start and the end, and the namespace's
somaxconn and tcp_syncookies. Output: per-listener figures and findings, each with the
kernel mechanism behind it and the fix.

The kernel decisions the findings name:
- tcp_conn_request / tcp_check_req: a SYN (or the final ACK) that finds the accept queue over
  its backlog is dropped (ListenOverflows, ListenDrops); the client retries its SYN after 1 s,
  then 3 s, 7 s...: the "mystery" connect stalls.
- inet_csk_reqsk_queue_is_full: a SYN queue at the backlog sends cookies when tcp_syncookies
  is 1 (TCPReqQFullDoCookies, SyncookiesSent) and drops the SYN when it is 0
  (TCPReqQFullDrop).
- cookie_v4_check: an ACK whose cookie does not validate (SyncookiesFailed).
- __sys_listen: the backlog is capped at net.core.somaxconn without a word to the program.
"""

from __future__ import annotations

from typing import Final

from .records import SockRecord, ip_text

LISTEN: Final = 10
SYN_RECV: Final = 3
WATCHED: Final = ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies",
                  "SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed")


class ListenerView:
    """One listener over the samples."""

    __slots__ = ("addr", "port", "backlog", "max_accept_queue", "first_accept_queue",
                 "last_accept_queue", "max_syn_recv", "full_samples", "samples")

    def __init__(self, addr: int, port: int) -> None:
        self.addr = addr
        self.port = port
        self.backlog = 0
        self.max_accept_queue = 0
        self.first_accept_queue = -1
        self.last_accept_queue = 0
        self.max_syn_recv = 0
        self.full_samples = 0  # samples with the accept queue at (or over) its backlog
        self.samples = 0

    @property
    def name(self) -> str:
        return f"{ip_text(self.addr)}:{self.port}"

    def as_dict(self) -> dict[str, object]:
        return {"listener": self.name, "backlog": self.backlog,
                "max_accept_queue": self.max_accept_queue,
                "last_accept_queue": self.last_accept_queue, "max_syn_recv": self.max_syn_recv,
                "full_samples": self.full_samples, "samples": self.samples}


class Finding:
    __slots__ = ("kind", "listener", "problem", "mechanism", "fix")

    def __init__(self, kind: str, listener: str | None, problem: str, mechanism: str,
                 fix: str) -> None:
        self.kind = kind
        self.listener = listener
        self.problem = problem
        self.mechanism = mechanism
        self.fix = fix

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "listener": self.listener, "problem": self.problem,
                "mechanism": self.mechanism, "fix": self.fix}


class DoctorReport:
    def __init__(self, listeners: list[ListenerView], deltas: dict[str, int], seconds: float,
                 somaxconn: int, syncookies: int, findings: list[Finding]) -> None:
        self.listeners = listeners
        self.deltas = deltas
        self.seconds = seconds
        self.somaxconn = somaxconn
        self.syncookies = syncookies
        self.findings = findings

    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings]

    def as_dict(self) -> dict[str, object]:
        return {"seconds": self.seconds, "somaxconn": self.somaxconn,
                "tcp_syncookies": self.syncookies, "counters": self.deltas,
                "listeners": [lv.as_dict() for lv in self.listeners],
                "findings": [f.as_dict() for f in self.findings]}

    def render(self) -> str:
        out = [f"listen queues over {self.seconds:.1f} s (net.core.somaxconn {self.somaxconn}, "
               f"net.ipv4.tcp_syncookies {self.syncookies})", ""]
        out.append(f"{'listener':<22} {'accept queue (max/backlog)':>27} {'SYN-RECV max':>13}"
                   f" {'at its limit':>13}")
        for lv in self.listeners:
            out.append(f"{lv.name:<22} {f'{lv.max_accept_queue}/{lv.backlog}':>27} "
                       f"{lv.max_syn_recv:>13} {f'{lv.full_samples}/{lv.samples}':>13}")
        out.append("")
        moved = {k: v for k, v in self.deltas.items() if v and k != "PassiveOpens"}
        if moved:
            rate = ", ".join(f"{k} +{v} ({v / self.seconds:.1f}/s)" for k, v in moved.items())
            out.append(f"TcpExt: {rate}")
        else:
            out.append("TcpExt: no listen-queue counter moved")
        out.append("")
        if not self.findings:
            out.append("diagnosis: healthy, no listen-queue problem seen")
        for i, f in enumerate(self.findings, 1):
            where = f"[{f.listener}] " if f.listener else ""
            out.append(f"{i}. {where}{f.problem}")
            out.append(f"   why: {f.mechanism}")
            out.append(f"   fix: {f.fix}")
        return "\n".join(out) + "\n"


def listener_views(samples: list[list[SockRecord]]) -> list[ListenerView]:
    views: dict[tuple[int, int], ListenerView] = {}
    for recs in samples:
        syn_recv: dict[int, list[int]] = {}
        for r in recs:
            if r.state == SYN_RECV:
                syn_recv.setdefault(r.sport, []).append(r.saddr)
        for r in recs:
            if r.state != LISTEN:
                continue
            lv = views.get((r.saddr, r.sport))
            if lv is None:
                lv = views[(r.saddr, r.sport)] = ListenerView(r.saddr, r.sport)
            lv.samples += 1
            lv.backlog = r.wqueue
            lv.last_accept_queue = r.rqueue
            if lv.first_accept_queue < 0:
                lv.first_accept_queue = r.rqueue
            lv.max_accept_queue = max(lv.max_accept_queue, r.rqueue)
            if r.rqueue >= r.wqueue:
                lv.full_samples += 1
            n = sum(1 for a in syn_recv.get(r.sport, ()) if r.saddr in (0, a))
            lv.max_syn_recv = max(lv.max_syn_recv, n)
    return sorted(views.values(), key=lambda v: (v.port, v.addr))


def diagnose(samples: list[list[SockRecord]], before: dict[str, int], after: dict[str, int],
             seconds: float, somaxconn: int, syncookies: int) -> DoctorReport:
    """Findings from listener samples and the counters ("TcpExt.Name" keys or bare TcpExt
    names, and Tcp.PassiveOpens) at the start and the end."""
    def get(d: dict[str, int], k: str) -> int:
        return d.get(f"TcpExt.{k}", d.get(k, 0))

    deltas = {k: get(after, k) - get(before, k) for k in WATCHED}
    deltas["PassiveOpens"] = after.get("Tcp.PassiveOpens", 0) - before.get("Tcp.PassiveOpens", 0)
    views = listener_views(samples)
    findings: list[Finding] = []
    overflows = deltas["ListenOverflows"]
    if overflows:
        full = [lv for lv in views if lv.full_samples] or \
            [lv for lv in views if lv.max_accept_queue >= lv.backlog]
        for lv in full or [None]:  # type: ignore[list-item]
            findings.append(Finding(
                "accept-queue-overflow", lv.name if lv else None,
                f"the accept queue overflowed {overflows} times "
                f"({overflows / seconds:.1f}/s): connections were refused while the server "
                f"looked idle",
                "tcp_conn_request drops a SYN (and tcp_check_req the final ACK) when the accept "
                "queue is over its backlog; the client's SYN is retried after 1 s, 3 s, 7 s, "
                "which is where 1 s and 3 s connect times come from",
                "accept() faster (more workers, a non-blocking accept loop), or raise the "
                "backlog passed to listen()"))
            if lv is not None and lv.backlog == somaxconn:
                findings.append(Finding(
                    "somaxconn-cap", lv.name,
                    f"the backlog is {lv.backlog}, exactly net.core.somaxconn: listen()'s "
                    f"argument was most likely capped",
                    "__sys_listen takes min(backlog, net.core.somaxconn) without telling the "
                    "program",
                    f"raise net.core.somaxconn (now {somaxconn}) in this namespace, then the "
                    f"application's listen() backlog"))
    if deltas["TCPReqQFullDrop"]:
        findings.append(Finding(
            "syn-queue-drop", None,
            f"{deltas['TCPReqQFullDrop']} SYNs were dropped because the SYN queue was full "
            f"and SYN cookies are off",
            "inet_csk_reqsk_queue_is_full with tcp_syncookies=0: tcp_conn_request drops the "
            "SYN (TCPReqQFullDrop); clients wait 1 s, 3 s... to retry",
            "set net.ipv4.tcp_syncookies=1, and raise the listen() backlog (the SYN queue is "
            "as long as it)"))
    cookies = max(deltas["TCPReqQFullDoCookies"], deltas["SyncookiesSent"])
    if cookies:
        findings.append(Finding(
            "syn-cookies", None,
            f"the SYN queue was full: {cookies} SYNs were answered with SYN cookies "
            f"(a SYN flood, or a burst beyond the backlog)",
            "inet_csk_reqsk_queue_is_full with tcp_syncookies=1: tcp_conn_request answers "
            "statelessly; a cookie keeps one of four MSS values and loses window scaling and "
            "SACK unless timestamps are on",
            "if this is load rather than an attack, raise the listen() backlog (and "
            "net.core.somaxconn) so requests fit in the SYN queue"))
    if deltas["SyncookiesFailed"]:
        findings.append(Finding(
            "syncookies-failed", None,
            f"{deltas['SyncookiesFailed']} ACKs carried cookies that did not validate",
            "cookie_v4_check rejects an ACK whose cookie is too old or forged (an ACK flood, "
            "or clients answering very late)",
            "nothing to tune if it is an attack; otherwise look for very long RTTs"))
    return DoctorReport(views, deltas, seconds, somaxconn, syncookies, findings)
