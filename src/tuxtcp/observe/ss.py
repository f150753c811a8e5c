"""ss(8) for TCP, as iproute2 6.x prints it, from socket records (observe/records.py) of a
tuxtcp namespace or of the live kernel (host/sockdiag.py).

Options: -t (implied), -a, -l, -n, -o, -e, -m, -i (observe/ss_info.py), -H, their long
forms, `state NAME` and
`exclude NAME` (repeatable), then a filter expression (observe/ssfilter.py). The layout is
iproute2's column buffer: State, Recv-Q and Send-Q left-aligned (the queues at least six
wide: ss prints them with %-6d), the addresses right-aligned with their colon, the ports
left-aligned, then one "Process" column holding what -o, -e and -m add (each item after a
space; -m and -i on a line of their own after a tab; -e implies -o). Every column is as wide as its
widest cell (the header counts only when printed; the very last cell does not count, as in
ss.c's render) and every cell is padded, the last one too. The State
column is left out when the selection is a single state. Without -n ports are service names
(/etc/services).

inet_diag semantics: a listener's Recv-Q is its accept queue and Send-Q its effective
backlog; otherwise unread bytes and bytes not yet acknowledged.
"""

from __future__ import annotations

import socket

from .records import TIMER_NAMES, TIMER_TIMEWAIT, SockRecord, ip_text
from .ss_info import info_text
from .ssfilter import (
    CLOSE,
    DEFAULT_STATES,
    LISTEN,
    TIME_WAIT,
    Predicate,
    SsFilterError,
    parse_filter,
    state_set,
)

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Final

SS_STATE: Final = {1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
                   6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN",
                   11: "CLOSING"}
_LONG: Final = {"--tcp": "t", "--all": "a", "--listening": "l", "--numeric": "n",
                "--options": "o", "--extended": "e", "--memory": "m", "--no-header": "H",
                "--json": "J", "--info": "i", "--summary": "s"}
_SUPPORTED: Final = set("talnoemiHJs")
# ss.c's is_ephemeral when ip_local_port_range cannot be read
NO_PORT_RANGE: Final = (1024, 4999)


class SsOptions:
    """What an ss command line asks for (a plain class: `tuxtcp ss` starts faster without
    dataclasses, which imports inspect)."""

    def __init__(self, numeric: bool = False, header: bool = True, timers: bool = False,
                 extended: bool = False, memory: bool = False, json: bool = False,
                 info: bool = False) -> None:
        self.numeric = numeric
        self.header = header
        self.timers = timers
        self.extended = extended
        self.memory = memory
        self.json = json
        self.info = info
        # -s: the summary (observe/sockstat.py) first; alone (no -t, no state or filter)
        # it is all ss prints (ss.c: do_default && argc == 0 -> exit after the summary)
        self.summary = False
        self.summary_only = False
        self.states: set[int] = set(DEFAULT_STATES)
        self.predicate: Predicate | None = None
        # ports printed as numbers even without -n: ss.c's is_ephemeral reads the reader's
        # net.ipv4.ip_local_port_range, 1024-4999 when it cannot (the caller sets it)
        self.ephemeral: tuple[int, int] = NO_PORT_RANGE


def parse_args(args: str | list[str]) -> SsOptions:
    """An ss command line (without the program name) -> SsOptions. Raises SsFilterError."""
    words = args.split() if isinstance(args, str) else list(args)
    flags: set[str] = set()
    rest: list[str] = []
    for i, w in enumerate(words):
        if w in _LONG:
            flags.add(_LONG[w])
        elif w.startswith("-") and len(w) > 1 and not w.startswith("--"):
            for c in w[1:]:
                if c not in _SUPPORTED:
                    raise SsFilterError(f"option -{c} is not supported (TCP only: -t -a -l "
                                        f"-n -o -e -m -i -s -H, state/exclude and "
                                        f"filters)")
                flags.add(c)
        elif w.startswith("--"):
            raise SsFilterError(f"option {w} is not supported")
        else:
            rest = words[i:]
            break
    # -e implies -o (ss.c: show_options = 1; show_details++)
    opts = SsOptions(numeric="n" in flags, header="H" not in flags,
                     timers="o" in flags or "e" in flags,
                     extended="e" in flags, memory="m" in flags, json="J" in flags,
                     info="i" in flags)
    if "a" in flags:
        opts.states = set(range(1, 12))
    elif "l" in flags:
        opts.states = {LISTEN, CLOSE}  # ss.c: -l selects LISTEN and CLOSE
    chosen: set[int] | None = None
    excluded: set[int] = set()
    expr: list[str] = []
    i = 0
    while i < len(rest):
        w = rest[i]
        if w in ("state", "exclude") and i + 1 < len(rest):
            names = state_set(rest[i + 1])
            if w == "state":
                chosen = (chosen or set()) | names
            else:
                excluded |= names
            i += 2
            continue
        expr = rest[i:]
        break
    opts.summary = "s" in flags
    opts.summary_only = opts.summary and "t" not in flags and not rest
    if chosen is not None:
        opts.states = chosen
    opts.states -= excluded
    opts.predicate = parse_filter(expr)
    return opts


def _port(port: int, numeric: bool, wildcard: bool, ephemeral: tuple[int, int]) -> str:
    """ss.c's resolve_service: a service name from /etc/services unless -n, or the port is
    in the ephemeral range (ss.c: is_ephemeral; /etc/services names many ports there)."""
    if port == 0 and wildcard:
        return "*"
    if not numeric and not ephemeral[0] <= port <= ephemeral[1]:
        try:
            return socket.getservbyport(port, "tcp")
        except OSError:
            pass
    return str(port)


def ms_timer(ms: int) -> str:
    """print_ms_timer: minutes, seconds and milliseconds as ss words them ("119min",
    "59sec", "1.200ms", "076ms")."""
    secs, msecs = divmod(ms, 1000)
    minutes, secs = divmod(secs, 60)
    out = ""
    if minutes:
        msecs = 0
        out = f"{minutes}min"
        if minutes > 9:
            secs = 0
    if secs:
        if secs > 9:
            msecs = 0
        out += f"{secs}{'.' if msecs else 'sec'}"
    if msecs:
        out += f"{msecs:03d}ms"
    return out


def _ext(r: SockRecord, opts: SsOptions) -> str:
    out = ""
    if opts.timers and r.timer:
        out += f" timer:({TIMER_NAMES[min(r.timer, 5)]},{ms_timer(r.expires)},{r.retrans})"
    if opts.extended:
        if r.uid:
            out += f" uid:{r.uid}"
        out += f" ino:{r.inode} sk:{r.cookie:x}"
        if r.cgroup is not None:
            out += f" cgroup:{r.cgroup}"
        if r.shutdown is not None:
            out += f" {'-' if r.shutdown & 1 else '<'}-{'-' if r.shutdown & 2 else '>'}"
    if opts.memory or opts.info:
        out += "\n\t"
        if opts.memory and r.skmem is not None:
            rm, rb, t, tb, f, w, o, bl, d = r.skmem[:9]
            out += f" skmem:(r{rm},rb{rb},t{t},tb{tb},f{f},w{w},o{o},bl{bl},d{d})"
        if opts.info and r.info is not None:
            out += info_text(r.info, r.state, r.cong, r.ca, opts.numeric, opts.timers)
    return out


def select(records: list[SockRecord], opts: SsOptions) -> list[SockRecord]:
    pred = opts.predicate
    if pred is None and len(opts.states) == 11:
        return records
    return [r for r in records
            if r.state in opts.states and (pred is None or pred(r))]


def render(records: list[SockRecord], opts: SsOptions) -> str:
    """The selected records as ss prints them (or as JSON with -J: one object a socket)."""
    chosen = select(records, opts)
    if opts.json:
        import json  # only for -J: it costs `tuxtcp ss` 9 ms of start-up

        return json.dumps([dict(r.as_dict(), state_name=SS_STATE.get(r.state, "UNKNOWN"))
                           for r in chosen]) + "\n"
    show_state = len(opts.states) > 1
    numeric = opts.numeric
    hdr = opts.header
    if not chosen and not hdr:
        return ""
    # pass 1: each column's distinct values (their texts give the widths)
    saddrs: set[int] = set()
    daddrs: set[int] = set()
    sports: set[int] = set()
    dports: set[int] = set()
    states: set[int] = set()
    wild = False  # a listener's peer port, "*"
    rq_max = wq_max = 0
    for r in chosen:
        saddrs.add(r.saddr)
        daddrs.add(r.daddr)
        sports.add(r.sport)
        states.add(r.state)
        if r.dport == 0 and (r.state == LISTEN or r.state == CLOSE):
            wild = True
        else:
            dports.add(r.dport)
        if r.rqueue > rq_max:
            rq_max = r.rqueue
        if r.wqueue > wq_max:
            wq_max = r.wqueue
    plain = not (opts.timers or opts.extended or opts.memory or opts.info)
    exts = [] if plain else [_ext(r, opts) for r in chosen]
    lip = {a: ip_text(a) + ":" for a in saddrs}
    pip = {a: ip_text(a) + ":" for a in daddrs}
    lport = {p: _port(p, numeric, True, opts.ephemeral) for p in sports}
    pport = {p: _port(p, numeric, False, opts.ephemeral) for p in dports}
    state_text = {st: SS_STATE.get(st, "UNKNOWN") for st in states}

    def widest(values: list[str], header: str) -> int:
        return max([len(x) for x in values] + [len(header) if hdr else 0])

    w0 = widest(list(state_text.values()), "State") if show_state else 0
    w1, w2 = max(6, len(str(rq_max))), max(6, len(str(wq_max)))
    w3 = widest(list(lip.values()), "Local Address:")
    w4 = widest(list(lport.values()), "Port")
    w5 = widest(list(pip.values()), "Peer Address:")
    w6 = widest(list(pport.values()) + (["*"] if wild else []), "Port")
    # ss.c's render(): the last line's last field is never flushed into its column's width,
    # so it neither widens the column nor gets padded beyond it
    ext_w = [len(x) for x in exts[:-1]] + ([len("Process")] if hdr and chosen else [])
    w7 = max(ext_w + [0])
    # pass 2: every cell made once per distinct value, already padded; a row is their sum
    lip_cell = {a: t.rjust(w3) for a, t in lip.items()}
    pip_cell = {a: t.rjust(w5) for a, t in pip.items()}
    lport_cell = {p: t.ljust(w4) + " " for p, t in lport.items()}
    pport_cell = {p: t.ljust(w6) for p, t in pport.items()}
    star = "*".ljust(w6)
    state_cell = {st: t.ljust(w0) + " " if show_state else "" for st, t in state_text.items()}
    rq_cell: dict[int, str] = {}
    wq_cell: dict[int, str] = {}
    no_ext = "".ljust(w7)
    lines = []
    if hdr:
        lines.append(("State".ljust(w0) + " " if show_state else "") + "Recv-Q".ljust(w1)
                     + " " + "Send-Q".ljust(w2) + " " + "Local Address:".rjust(w3)
                     + "Port".ljust(w4) + " " + "Peer Address:".rjust(w5) + "Port".ljust(w6)
                     + "Process".ljust(w7))
    for i, r in enumerate(chosen):
        rq = r.rqueue
        rqc = rq_cell.get(rq)
        if rqc is None:
            rqc = rq_cell[rq] = str(rq).ljust(w1) + " "
        wq = r.wqueue
        wqc = wq_cell.get(wq)
        if wqc is None:
            wqc = wq_cell[wq] = str(wq).ljust(w2) + " "
        if r.dport == 0 and (r.state == LISTEN or r.state == CLOSE):
            dpc = star
        else:
            dpc = pport_cell[r.dport]
        ext = exts[i].ljust(w7) if exts else no_ext
        lines.append(f"{state_cell[r.state]}{rqc}{wqc}{lip_cell[r.saddr]}{lport_cell[r.sport]}"
                     f"{pip_cell[r.daddr]}{dpc}{ext}")
    return "\n".join(lines) + "\n"


__all__ = ["SsOptions", "SsFilterError", "parse_args", "render", "select",
           "TIME_WAIT", "TIMER_TIMEWAIT"]
