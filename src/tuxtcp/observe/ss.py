"""ss(8)-style socket tables (inet_diag semantics: LISTEN Recv-Q = accept queue, Send-Q =
effective backlog; others Recv-Q = unread bytes, Send-Q = unacknowledged bytes)."""

from __future__ import annotations

from ..net.namespace import NetNamespace
from ..net.tcp_states import LISTEN, SS_NAMES, SYN_RECV
from ..tcp.mem import skmem
from ..tcp.reqsk import RequestSock
from ..tcp.sock import TcpSock
from ..tcp.twsock import TimeWaitSock
from ..wire.ipv4 import int_to_ip


def skmem_text(sk: TcpSock) -> str:
    """ss -m: "skmem:(r..,rb..,t..,tb..,f..,w..,o..,bl..,d..)" (SK_MEMINFO)."""
    r, rb, t, tb, f, w, o, bl, d = skmem(sk)
    return f"skmem:(r{r},rb{rb},t{t},tb{tb},f{f},w{w},o{o},bl{bl},d{d})"


def _rows(ns: NetNamespace, listening_only: bool, all_states: bool, timers: bool,
          now: float, mem: bool = False) -> list[tuple[str, int, int, str, str, str, str]]:
    rows = []
    for lst in ns.lhash.values():
        for sk in lst:
            assert isinstance(sk, TcpSock)
            q = len(sk.lq.accept_queue) if sk.lq else 0
            rows.append(("LISTEN", q, sk.backlog, f"{int_to_ip(sk.laddr)}:{sk.lport}",
                         "0.0.0.0:*", "", skmem_text(sk) if mem else ""))
    if listening_only:
        return rows
    for obj in ns.ehash.values():
        if isinstance(obj, TcpSock):
            tmr = ""
            if timers and obj.rtx_timer is not None and obj.rtx_timer.pending:
                tmr = f"timer:(on,{(obj.rtx_timer.when - now) * 1000:.0f}ms,{obj.retransmits})"
            rows.append((SS_NAMES[obj.state], len(obj.recv_buf),
                         (obj.write_seq - obj.snd_una) & 0xFFFFFFFF,
                         f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr,
                         skmem_text(obj) if mem else ""))
        elif isinstance(obj, RequestSock):
            tmr = ""
            if timers and obj.pending:
                tmr = f"timer:(on,{(obj.when - now) * 1000:.0f}ms,{obj.num_retrans})"
            rows.append((SS_NAMES[SYN_RECV], 0, 0, f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr, ""))
        elif isinstance(obj, TimeWaitSock):
            tmr = ""
            if timers and obj.pending:
                tmr = f"timer:(timewait,{obj.when - now:.0f}sec,0)"
            rows.append((SS_NAMES[obj.substate], 0, 0, f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr, ""))
    return rows


def render_ss(ns: NetNamespace, args: str, now: float) -> str:
    """iproute2's column layout: each column as wide as its widest cell; addresses
    right-aligned and ports left-aligned around the colon; "Process" right after the peer
    port column (as `ss -ltn` prints "Peer Address:PortProcess")."""
    flags = set(args.replace("-", ""))
    listening_only = "l" in flags and "a" not in flags
    rows = _rows(ns, listening_only, "a" in flags, "o" in flags, now, "m" in flags)
    split = [(st, str(rq), str(sq), *loc.rsplit(":", 1), *peer.rsplit(":", 1), tmr, mem)
             for st, rq, sq, loc, peer, tmr, mem in rows]
    head = ("State", "Recv-Q", "Send-Q", "Local Address", "Port", "Peer Address", "Port")
    w = [max([len(h)] + [len(r[i]) for r in split]) for i, h in enumerate(head)]

    def line(c: tuple[str, ...], tail: str) -> str:
        return (f"{c[0]:<{w[0]}} {c[1]:<{w[1]}} {c[2]:<{w[2]}} {c[3]:>{w[3]}}:{c[4]:<{w[4]}} "
                f"{c[5]:>{w[5]}}:{c[6]:<{w[6]}}{tail}")

    out = [line(head, "Process")]
    # -m: the socket's memory on a line of its own, after a tab and a space, as ss prints it
    out += [line(r[:7], ((" " + r[7]) if r[7] else "") + (f"\n\t {r[8]}" if r[8] else ""))
            for r in split]
    return "\n".join(out) + "\n"


__all__ = ["LISTEN", "render_ss"]
