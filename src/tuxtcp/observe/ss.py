"""ss(8)-style socket tables (inet_diag semantics: LISTEN Recv-Q = accept queue, Send-Q =
effective backlog; others Recv-Q = unread bytes, Send-Q = unacknowledged bytes)."""

from __future__ import annotations

from ..net.namespace import Namespace
from ..tcp.reqsk import RequestSock
from ..tcp.sock import TcpSock, TimeWaitSock
from ..tcp.states import LISTEN, SS_NAMES, SYN_RECV
from ..wire.ipv4 import int_to_ip


def _rows(ns: Namespace, listening_only: bool, all_states: bool, timers: bool,
          now: float) -> list[tuple[str, int, int, str, str, str]]:
    rows = []
    for lst in ns.lhash.values():
        for sk in lst:
            assert isinstance(sk, TcpSock)
            q = len(sk.lq.accept_queue) if sk.lq else 0
            rows.append(("LISTEN", q, sk.backlog, f"{int_to_ip(sk.laddr)}:{sk.lport}",
                         "0.0.0.0:*", ""))
    if listening_only:
        return rows
    for obj in ns.ehash.values():
        if isinstance(obj, TcpSock):
            tmr = ""
            if timers and obj.rtx_timer is not None and obj.rtx_timer.alive:
                tmr = f"timer:(on,{(obj.rtx_timer.when - now) * 1000:.0f}ms,{obj.retransmits})"
            rows.append((SS_NAMES[obj.state], len(obj.recv_buf),
                         (obj.write_seq - obj.snd_una) & 0xFFFFFFFF,
                         f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr))
        elif isinstance(obj, RequestSock):
            tmr = ""
            if timers and obj.timer is not None:
                tmr = f"timer:(on,{(obj.timer.when - now) * 1000:.0f}ms,{obj.num_retrans})"
            rows.append((SS_NAMES[SYN_RECV], 0, 0, f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr))
        elif isinstance(obj, TimeWaitSock):
            tmr = ""
            if timers and obj.timer is not None:
                tmr = f"timer:(timewait,{obj.timer.when - now:.0f}sec,0)"
            rows.append((SS_NAMES[obj.substate], 0, 0, f"{int_to_ip(obj.laddr)}:{obj.lport}",
                         f"{int_to_ip(obj.raddr)}:{obj.rport}", tmr))
    return rows


def render_ss(ns: Namespace, args: str, now: float) -> str:
    flags = set(args.replace("-", ""))
    listening_only = "l" in flags and "a" not in flags
    rows = _rows(ns, listening_only, "a" in flags, "o" in flags, now)
    local_w = max([len(r[3]) for r in rows] + [18])
    peer_w = max([len(r[4]) for r in rows] + [17])
    head = (f"{'State':<10} {'Recv-Q':<6} {'Send-Q':<6} {'Local Address:Port':>{local_w}} "
            f"{'Peer Address:Port':>{peer_w}} Process")
    lines = [head]
    for state, rq, sq, local, peer, tmr in rows:
        line = f"{state:<10} {rq:<6} {sq:<6} {local:>{local_w}} {peer:>{peer_w}}"
        if tmr:
            line += f" {tmr}"
        lines.append(line)
    return "\n".join(lines) + "\n"


__all__ = ["LISTEN", "render_ss"]
