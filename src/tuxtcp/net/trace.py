"""The kernel's TCP tracepoints: events with the kernel's names and fields, a per-namespace hub,
and the `trace_pipe` text form (format and parse).

Seven events, as on Linux 6.18 (`/sys/kernel/tracing/events/<system>/<name>/format`):
sock:inet_sock_set_state, tcp:tcp_retransmit_skb, tcp:tcp_retransmit_synack,
tcp:tcp_send_reset, tcp:tcp_receive_reset, tcp:tcp_destroy_sock and skb:kfree_skb.

The engine checks its event's flag (`ns.trace.on_kfree_skb`: one attribute read) before
building anything, then calls
one of the constructors below with primitive values and hands the event to `ns.trace.emit`.

Field values, by kernel field name (`TraceEvent.fields`):

- pointers (skaddr, skbaddr, req, rx_sk) are ints. The constructors take any stable int for the
  object (a serial number, say) and store `hashed_ptr(value)`: a 32-bit bijective mix, printed as
  16 hex digits the way the kernel prints a hashed %p (`00000000xxxxxxxx`); 0 stays 0, which
  the kernel prints unhashed as NULL (`0000000000000000`).
- IPv4 addresses (saddr, daddr) are ints in host byte order (0xC6120001 is 198.18.0.1);
  saddr_v6/daddr_v6 are 128-bit ints, for an AF_INET socket the IPv4-mapped ::ffff:a.b.c.d.
- family, protocol, ports, states (1..12, include/net/tcp_states.h), err are ints.
- reason is the enum's name without its prefix ("NO_SOCKET"), location the %pS text
  ("tcp_v4_rcv+0x91/0x13f0"); tcp_send_reset's saddr/daddr are sockaddrs and kept as their
  %pISpc text ("127.0.0.1:47002", "[::1]:47009").

Fields the kernel records but does not print (skaddr of inet_sock_set_state,
tcp_receive_reset and tcp_destroy_sock; skaddr and req of tcp_retransmit_synack) are in `fields`
too; a parsed line cannot have them (`printed_fields` gives the comparable part).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Final, TextIO

# --- the kernel's constants -------------------------------------------------------------------

AF_INET: Final = 2
AF_INET6: Final = 10
IPPROTO_TCP: Final = 6
ETH_P_IP: Final = 0x0800
ETH_P_IPV6: Final = 0x86DD

FAMILY_NAMES: Final[dict[int, str]] = {AF_INET: "AF_INET", AF_INET6: "AF_INET6"}
PROTOCOL_NAMES: Final[dict[int, str]] = {6: "IPPROTO_TCP", 132: "IPPROTO_SCTP",
                                         262: "IPPROTO_MPTCP"}
STATE_NAMES: Final[dict[int, str]] = {
    1: "TCP_ESTABLISHED", 2: "TCP_SYN_SENT", 3: "TCP_SYN_RECV", 4: "TCP_FIN_WAIT1",
    5: "TCP_FIN_WAIT2", 6: "TCP_TIME_WAIT", 7: "TCP_CLOSE", 8: "TCP_CLOSE_WAIT",
    9: "TCP_LAST_ACK", 10: "TCP_LISTEN", 11: "TCP_CLOSING", 12: "TCP_NEW_SYN_RECV",
}
# enum sk_rst_reason (include/net/rstreason.h) in 6.18 order: tcp_send_reset's reason
SK_RST_REASONS: Final[tuple[str, ...]] = (
    "NOT_SPECIFIED", "NO_SOCKET", "TCP_INVALID_ACK_SEQUENCE", "TCP_RFC7323_PAWS",
    "TCP_TOO_OLD_ACK", "TCP_ACK_UNSENT_DATA", "TCP_FLAGS", "TCP_OLD_ACK", "TCP_ABORT_ON_DATA",
    "TCP_TIMEWAIT_SOCKET", "INVALID_SYN", "TCP_ABORT_ON_CLOSE", "TCP_ABORT_ON_LINGER",
    "TCP_ABORT_ON_MEMORY", "TCP_STATE", "TCP_KEEPALIVE_TIMEOUT", "TCP_DISCONNECT_WITH_DATA",
    "MPTCP_RST_EUNSPEC", "MPTCP_RST_EMPTCP", "MPTCP_RST_ERESOURCE", "MPTCP_RST_EPROHIBIT",
    "MPTCP_RST_EWQ2BIG", "MPTCP_RST_EBADPERF", "MPTCP_RST_EMIDDLEBOX", "ERROR", "MAX",
)

INET_SOCK_SET_STATE: Final = "inet_sock_set_state"
TCP_RETRANSMIT_SKB: Final = "tcp_retransmit_skb"
TCP_RETRANSMIT_SYNACK: Final = "tcp_retransmit_synack"
TCP_SEND_RESET: Final = "tcp_send_reset"
TCP_RECEIVE_RESET: Final = "tcp_receive_reset"
TCP_DESTROY_SOCK: Final = "tcp_destroy_sock"
KFREE_SKB: Final = "kfree_skb"

# How each value is printed: the conversion of the print fmt, with %s split by what it shows.
K_PTR: Final = 0      # %p (already the hashed value)
K_DEC: Final = 1      # %hu %u %d
K_IP4: Final = 2      # %pI4
K_IP6: Final = 3      # %pI6c
K_TEXT: Final = 4     # %pISpc and enum names printed with %s: kept as text (no blanks)
K_HEX: Final = 5      # %llx
K_FAMILY: Final = 6   # __print_symbolic(family)
K_PROTO: Final = 7    # __print_symbolic(protocol)
K_STATE: Final = 8    # __print_symbolic(state)
K_STATE0: Final = 9   # tcp_send_reset: state ? __print_symbolic(state) : "UNKNOWN"
K_SYMBOL: Final = 10  # %pS: "func+0x91/0x13f0", a module's symbol with " [module]" after it


# a printk conversion: %p with its extension (%pI4, %pI6c, %pISpc, %pS) or %s, %hu, %llx, ...
_CONVERSION: Final = re.compile(r"%(?:p[A-Za-z0-9]*|[a-z]+)")


class EventFormat:
    """One event's `format` file as this module uses it: the system, the record's fields (the
    common_* ones left out), the print fmt string and the REC-> fields it prints, in order."""

    def __init__(self, system: str, name: str, record: tuple[str, ...], print_fmt: str,
                 args: tuple[str, ...], kinds: tuple[int, ...]) -> None:
        self.system = system
        self.name = name
        self.record = record
        self.print_fmt = print_fmt
        self.args = args
        self.kinds = kinds
        # the literal text around each conversion: lits[i] precedes args[i]
        lits = _CONVERSION.split(print_fmt)
        if len(lits) != len(args) + 1 or len(kinds) != len(args):
            raise ValueError(f"{name}: print fmt and args disagree")
        self.lits: tuple[str, ...] = tuple(lits[:-1])
        self.tail: str = lits[-1]


_ADDRS: Final = ("sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 saddrv6=%pI6c daddrv6=%pI6c")
_ADDR_ARGS: Final = ("sport", "dport", "saddr", "daddr", "saddr_v6", "daddr_v6")
_ADDR_KINDS: Final = (K_DEC, K_DEC, K_IP4, K_IP4, K_IP6, K_IP6)
_ADDR_RECORD: Final = ("sport", "dport", "family", "saddr", "daddr", "saddr_v6", "daddr_v6")

FORMATS: Final[dict[str, EventFormat]] = {
    f.name: f for f in (
        EventFormat(
            "sock", INET_SOCK_SET_STATE,
            ("skaddr", "oldstate", "newstate", "sport", "dport", "family", "protocol", "saddr",
             "daddr", "saddr_v6", "daddr_v6"),
            "family=%s protocol=%s " + _ADDRS + " oldstate=%s newstate=%s",
            ("family", "protocol", *_ADDR_ARGS, "oldstate", "newstate"),
            (K_FAMILY, K_PROTO, *_ADDR_KINDS, K_STATE, K_STATE)),
        EventFormat(
            "tcp", TCP_RETRANSMIT_SKB,
            ("skbaddr", "skaddr", "state", *_ADDR_RECORD, "err"),
            "skbaddr=%p skaddr=%p family=%s " + _ADDRS + " state=%s err=%d",
            ("skbaddr", "skaddr", "family", *_ADDR_ARGS, "state", "err"),
            (K_PTR, K_PTR, K_FAMILY, *_ADDR_KINDS, K_STATE, K_DEC)),
        EventFormat(
            "tcp", TCP_RETRANSMIT_SYNACK,
            ("skaddr", "req", *_ADDR_RECORD),
            "family=%s " + _ADDRS,
            ("family", *_ADDR_ARGS),
            (K_FAMILY, *_ADDR_KINDS)),
        EventFormat(
            "tcp", TCP_SEND_RESET,
            ("skbaddr", "skaddr", "state", "reason", "saddr", "daddr"),
            "skbaddr=%p skaddr=%p src=%pISpc dest=%pISpc state=%s reason=%s",
            ("skbaddr", "skaddr", "saddr", "daddr", "state", "reason"),
            (K_PTR, K_PTR, K_TEXT, K_TEXT, K_STATE0, K_TEXT)),
        EventFormat(
            "tcp", TCP_RECEIVE_RESET,
            ("skaddr", *_ADDR_RECORD, "sock_cookie"),
            "family=%s " + _ADDRS + " sock_cookie=%llx",
            ("family", *_ADDR_ARGS, "sock_cookie"),
            (K_FAMILY, *_ADDR_KINDS, K_HEX)),
        EventFormat(
            "tcp", TCP_DESTROY_SOCK,
            ("skaddr", *_ADDR_RECORD, "sock_cookie"),
            "family=%s " + _ADDRS + " sock_cookie=%llx",
            ("family", *_ADDR_ARGS, "sock_cookie"),
            (K_FAMILY, *_ADDR_KINDS, K_HEX)),
        EventFormat(
            "skb", KFREE_SKB,
            ("skbaddr", "location", "rx_sk", "protocol", "reason"),
            "skbaddr=%p rx_sk=%p protocol=%u location=%pS reason: %s",
            ("skbaddr", "rx_sk", "protocol", "location", "reason"),
            (K_PTR, K_PTR, K_DEC, K_SYMBOL, K_TEXT)),
    )
}


def event_name(spec: str) -> str:
    """"tcp:tcp_send_reset" or "tcp_send_reset" -> "tcp_send_reset"; ValueError if unknown."""
    system, sep, name = spec.rpartition(":")
    f = FORMATS.get(name)
    if f is None or (sep and system != f.system):
        raise ValueError(f"unknown trace event {spec!r}")
    return name


# --- events -----------------------------------------------------------------------------------


class TraceEvent:
    """One tracepoint hit. `ts` is seconds of uptime (virtual for tuxtcp). A parsed line also
    carries its context columns (task, pid, cpu, flags); constructed events leave them empty."""

    def __init__(self, system: str, name: str, ts: float, fields: dict[str, int | str],
                 task: str = "", pid: int = 0, cpu: int = 0, flags: str = "") -> None:
        self.system = system
        self.name = name
        self.ts = ts
        self.fields = fields
        self.task = task
        self.pid = pid
        self.cpu = cpu
        self.flags = flags

    @property
    def full_name(self) -> str:
        return self.system + ":" + self.name

    def printed_fields(self) -> dict[str, int | str]:
        """The fields the kernel's text shows (what a parsed kernel line can be compared on)."""
        f = FORMATS.get(self.name)
        if f is None:
            return dict(self.fields)
        return {k: self.fields[k] for k in f.args if k in self.fields}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TraceEvent) and self.system == other.system
                and self.name == other.name and self.ts == other.ts
                and self.fields == other.fields)

    def __hash__(self) -> int:
        return hash((self.system, self.name, self.ts))

    def __repr__(self) -> str:
        return f"TraceEvent({self.full_name} ts={self.ts:.6f} {self.fields!r})"


def hashed_ptr(value: int) -> int:
    """A stable int (a serial number, an id) -> what the kernel's hashed %p shows: 32 bits of
    hash, printed as 16 hex digits with 8 leading zeros. Bijective on 32-bit inputs (so
    distinct serials below 2**32 never collide); 0 (NULL) stays 0."""
    h = (value ^ (value >> 32)) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def _v4mapped(addr: int) -> int:
    return 0xFFFF00000000 | addr


def ip4_str(addr: int) -> str:
    """%pI4 of a host-order int."""
    return f"{addr >> 24 & 255}.{addr >> 16 & 255}.{addr >> 8 & 255}.{addr & 255}"


def ip6_str(addr: int) -> str:
    """%pI6c: lib/vsprintf.c ip6_compressed_string. The longest run of two or more zero words
    (the first of equal runs) becomes "::", and IPv4-mapped and ISATAP addresses end in a
    dotted quad."""
    if addr >> 32 == 0xFFFF:  # IPv4-mapped: five zero words, ffff, the dotted quad
        return "::ffff:" + ip4_str(addr & 0xFFFFFFFF)
    words = [(addr >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    w2 = (words[4] << 16) | words[5]
    v4mapped = words[0] == words[1] == words[2] == words[3] == 0 and w2 == 0xFFFF
    isatap = (w2 | 0x02000000) == 0x02005EFE
    use4 = v4mapped or isatap
    rng = 6 if use4 else 8
    longest, colonpos = 1, -1
    for i in range(rng):
        n = 0
        while i + n < rng and words[i + n] == 0:
            n += 1
        if n > longest:
            longest, colonpos = n, i
    out: list[str] = []
    needcolon = False
    i = 0
    while i < rng:
        if i == colonpos:
            out.append("::" if needcolon or i == 0 else ":")
            needcolon = False
            i += longest
            continue
        if needcolon:
            out.append(":")
        out.append(f"{words[i]:x}")
        needcolon = True
        i += 1
    if use4:
        if needcolon:
            out.append(":")
        out.append(ip4_str(addr & 0xFFFFFFFF))
    return "".join(out)


def sockaddr_in_str(addr: int, port: int) -> str:
    """%pISpc of a sockaddr_in."""
    return f"{ip4_str(addr)}:{port}"


def sockaddr_in6_str(addr: int, port: int) -> str:
    """%pISpc of a sockaddr_in6."""
    return f"[{ip6_str(addr)}]:{port}"


def location_symbol(location: str) -> str:
    """"tcp_v4_rcv+0x91/0x13f0" -> "tcp_v4_rcv" (offsets differ between kernel builds)."""
    return location.split("+", 1)[0].split(" ", 1)[0]


# Constructors the engine calls: primitive values in, a TraceEvent out. Addresses are host-order
# IPv4 ints of an AF_INET socket; pointer arguments are any stable int (see hashed_ptr).


def inet_sock_set_state(ts: float, skaddr: int, oldstate: int, newstate: int, sport: int,
                        dport: int, saddr: int, daddr: int,
                        protocol: int = IPPROTO_TCP) -> TraceEvent:
    """sock:inet_sock_set_state, from inet_sk_set_state()/inet_sk_state_store()."""
    return TraceEvent("sock", INET_SOCK_SET_STATE, ts, {
        "skaddr": hashed_ptr(skaddr), "oldstate": oldstate, "newstate": newstate,
        "sport": sport, "dport": dport, "family": AF_INET, "protocol": protocol,
        "saddr": saddr, "daddr": daddr,
        "saddr_v6": _v4mapped(saddr), "daddr_v6": _v4mapped(daddr)})


def tcp_retransmit_skb(ts: float, skbaddr: int, skaddr: int, state: int, sport: int,
                       dport: int, saddr: int, daddr: int, err: int = 0) -> TraceEvent:
    """tcp:tcp_retransmit_skb, from tcp_retransmit_skb() after __tcp_retransmit_skb() (err is
    its result: 0, or a negative errno)."""
    return TraceEvent("tcp", TCP_RETRANSMIT_SKB, ts, {
        "skbaddr": hashed_ptr(skbaddr), "skaddr": hashed_ptr(skaddr), "state": state,
        "sport": sport, "dport": dport, "family": AF_INET, "saddr": saddr, "daddr": daddr,
        "saddr_v6": _v4mapped(saddr), "daddr_v6": _v4mapped(daddr), "err": err})


def tcp_retransmit_synack(ts: float, skaddr: int, req: int, sport: int, dport: int,
                          saddr: int, daddr: int) -> TraceEvent:
    """tcp:tcp_retransmit_synack, from tcp_rtx_synack() when the SYN-ACK went out. skaddr is
    the listener, req the request sock; ports and addresses are the request's (local first)."""
    return TraceEvent("tcp", TCP_RETRANSMIT_SYNACK, ts, {
        "skaddr": hashed_ptr(skaddr), "req": hashed_ptr(req), "sport": sport, "dport": dport,
        "family": AF_INET, "saddr": saddr, "daddr": daddr,
        "saddr_v6": _v4mapped(saddr), "daddr_v6": _v4mapped(daddr)})


def tcp_send_reset(ts: float, skbaddr: int, skaddr: int, state: int, reason: str, sport: int,
                   dport: int, saddr: int, daddr: int) -> TraceEvent:
    """tcp:tcp_send_reset. skbaddr is the segment that caused the RST (0 for an active reset:
    tcp_send_active_reset), skaddr the socket (0 when none: state is then 0, printed UNKNOWN).
    reason is an enum sk_rst_reason name (SK_RST_REASONS). sport/saddr are the RST's source,
    dport/daddr its destination (the offending segment's tuple reversed)."""
    return TraceEvent("tcp", TCP_SEND_RESET, ts, {
        "skbaddr": hashed_ptr(skbaddr), "skaddr": hashed_ptr(skaddr), "state": state,
        "reason": reason, "saddr": sockaddr_in_str(saddr, sport),
        "daddr": sockaddr_in_str(daddr, dport)})


def tcp_receive_reset(ts: float, skaddr: int, sport: int, dport: int, saddr: int, daddr: int,
                      sock_cookie: int) -> TraceEvent:
    """tcp:tcp_receive_reset, from tcp_reset() before the socket is closed."""
    return TraceEvent("tcp", TCP_RECEIVE_RESET, ts, {
        "skaddr": hashed_ptr(skaddr), "sport": sport, "dport": dport, "family": AF_INET,
        "saddr": saddr, "daddr": daddr, "saddr_v6": _v4mapped(saddr),
        "daddr_v6": _v4mapped(daddr), "sock_cookie": sock_cookie})


def tcp_destroy_sock(ts: float, skaddr: int, sport: int, dport: int, saddr: int, daddr: int,
                     sock_cookie: int) -> TraceEvent:
    """tcp:tcp_destroy_sock, from tcp_v4_destroy_sock() (full sockets only)."""
    return TraceEvent("tcp", TCP_DESTROY_SOCK, ts, {
        "skaddr": hashed_ptr(skaddr), "sport": sport, "dport": dport, "family": AF_INET,
        "saddr": saddr, "daddr": daddr, "saddr_v6": _v4mapped(saddr),
        "daddr_v6": _v4mapped(daddr), "sock_cookie": sock_cookie})


def kfree_skb(ts: float, skbaddr: int, location: str, protocol: int, reason: str,
              rx_sk: int = 0) -> TraceEvent:
    """skb:kfree_skb. location is the caller's %pS text ("tcp_v4_rcv" or with its offsets),
    protocol the skb's ethertype (ETH_P_IP), reason an enum skb_drop_reason name without
    SKB_DROP_REASON_, rx_sk the receiving socket (0 when none)."""
    return TraceEvent("skb", KFREE_SKB, ts, {
        "skbaddr": hashed_ptr(skbaddr), "location": location, "rx_sk": hashed_ptr(rx_sk),
        "protocol": protocol, "reason": reason})


# --- the hub ----------------------------------------------------------------------------------


TraceFn = Callable[[TraceEvent], None]


class Tracer:
    """A namespace's tracepoints. `enabled` is True exactly while someone is subscribed, and
    `on_<event>` (on_set_state, on_kfree_skb, ...) while someone is subscribed to that event,
    so a call site costs one attribute read when nobody listens to its event. Subscribers
    run synchronously inside emit, in subscription order."""

    def __init__(self) -> None:
        self.enabled = False
        self._serial = 0
        self._subs: dict[int, tuple[TraceFn, frozenset[str] | None]] = {}
        self._by_name: dict[str, list[TraceFn]] = {}
        self._all: list[TraceFn] = []
        # one flag per event, read by its call sites: a subscriber to one event costs the
        # others nothing
        self.on_set_state = False
        self.on_retransmit_skb = False
        self.on_retransmit_synack = False
        self.on_send_reset = False
        self.on_receive_reset = False
        self.on_destroy_sock = False
        self.on_kfree_skb = False

    def subscribe(self, fn: TraceFn, events: Iterable[str] | None = None) -> Callable[[], None]:
        """Call fn(event) for every event, or only for those named in `events` ("tcp_send_reset"
        or "tcp:tcp_send_reset"). Returns the unsubscribe function (idempotent)."""
        names = None if events is None else frozenset(event_name(e) for e in events)
        key = self._serial
        self._serial += 1
        self._subs[key] = (fn, names)
        self._rebuild()

        def unsubscribe() -> None:
            if self._subs.pop(key, None) is not None:
                self._rebuild()

        return unsubscribe

    def _rebuild(self) -> None:
        # fresh lists, so an emit in progress keeps iterating the old ones
        by_name: dict[str, list[TraceFn]] = {name: [] for name in FORMATS}
        every: list[TraceFn] = []
        for fn, names in self._subs.values():
            if names is None:
                every.append(fn)
            for name in FORMATS:
                if names is None or name in names:
                    by_name[name].append(fn)
        self._by_name = {name: fns for name, fns in by_name.items() if fns}
        self._all = every
        self.enabled = bool(self._subs)
        on = self._by_name
        self.on_set_state = INET_SOCK_SET_STATE in on
        self.on_retransmit_skb = TCP_RETRANSMIT_SKB in on
        self.on_retransmit_synack = TCP_RETRANSMIT_SYNACK in on
        self.on_send_reset = TCP_SEND_RESET in on
        self.on_receive_reset = TCP_RECEIVE_RESET in on
        self.on_destroy_sock = TCP_DESTROY_SOCK in on
        self.on_kfree_skb = KFREE_SKB in on

    def wants(self, name: str) -> bool:
        """Someone is subscribed to this event (a bare name: "tcp_send_reset")."""
        return name in self._by_name

    def emit(self, event: TraceEvent) -> None:
        fns = self._by_name.get(event.name)
        if fns is None:
            if event.name in FORMATS:
                return
            fns = self._all
        for fn in fns:
            fn(event)


# --- trace_pipe text --------------------------------------------------------------------------


def _symbolic(table: dict[int, str], value: int) -> str:
    name = table.get(value)
    return name if name is not None else f"0x{value:x}"  # __print_symbolic's fallback


def _render(kind: int, value: int | str) -> str:
    if isinstance(value, str):
        return value
    if kind == K_PTR:
        return f"{value:016x}"
    if kind == K_DEC:
        return str(value)
    if kind == K_IP4:
        return ip4_str(value)
    if kind == K_IP6:
        return ip6_str(value)
    if kind == K_HEX:
        return f"{value:x}"
    if kind == K_FAMILY:
        return _symbolic(FAMILY_NAMES, value)
    if kind == K_PROTO:
        return _symbolic(PROTOCOL_NAMES, value)
    if kind == K_STATE:
        return _symbolic(STATE_NAMES, value)
    if kind == K_STATE0:
        return _symbolic(STATE_NAMES, value) if value else "UNKNOWN"
    return str(value)


def format_fields(event: TraceEvent) -> str:
    """The TP_printk text of an event (the part after "name: ")."""
    f = FORMATS[event.name]
    fields = event.fields
    parts: list[str] = []
    for lit, arg, kind in zip(f.lits, f.args, f.kinds, strict=True):
        parts.append(lit)
        parts.append(_render(kind, fields[arg]))
    parts.append(f.tail)
    return "".join(parts)


def format_timestamp(ts: float) -> str:
    """The context's "%5lu.%06lu" of the trace clock, from seconds (rounded to the µs)."""
    us = round(ts * 1_000_000)
    return f"{us // 1_000_000:5d}.{us % 1_000_000:06d}"


def format_trace_line(event: TraceEvent, task: str = "tuxtcp", pid: int = 0, cpu: int = 0,
                      flags: str = ".....") -> str:
    """One line as trace_pipe prints it (no newline): "%16s-%-7d [%03d] FLAGS %5lu.%06lu:
    name: text". flags is the irq-info column ("....." in process context, "..s2." in softirq
    on 6.18; "" leaves the column out as with the irq-info option off)."""
    head = f"{task[:15]:>16}-{pid:<7d} [{cpu:03d}] "
    if flags:
        head += flags + " "
    return f"{head}{format_timestamp(event.ts)}: {event.name}: {format_fields(event)}"


class TraceWriter:
    """A subscriber that writes each event as a trace_pipe line to a text stream."""

    def __init__(self, out: TextIO, task: str = "tuxtcp", pid: int = 0, cpu: int = 0,
                 flags: str = ".....") -> None:
        self.out = out
        self.task = task
        self.pid = pid
        self.cpu = cpu
        self.flags = flags

    def __call__(self, event: TraceEvent) -> None:
        self.out.write(format_trace_line(event, self.task, self.pid, self.cpu, self.flags))
        self.out.write("\n")


_LINE: Final = re.compile(
    r"^\s*(?P<task>.+)-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>\S{4,5})\s+)?(?P<ts>\d+\.\d+): (?P<name>\w+): (?P<body>.*)$")


def _parse_value(kind: int, text: str) -> int | str:
    if kind in (K_PTR, K_HEX):
        return int(text, 16)
    if kind == K_DEC:
        return int(text)
    if kind == K_IP4:
        a, b, c, d = [int(x) for x in text.split(".")]
        return (a << 24) | (b << 16) | (c << 8) | d
    if kind == K_IP6:
        return int(ipaddress.IPv6Address(text))
    if kind == K_TEXT:
        if not text or any(c.isspace() for c in text):
            raise ValueError(f"blank in {text!r}")
        return text
    if kind == K_SYMBOL:
        return text
    if kind == K_STATE0 and text == "UNKNOWN":
        return 0
    table = (FAMILY_NAMES if kind == K_FAMILY else PROTOCOL_NAMES if kind == K_PROTO
             else STATE_NAMES)
    for value, name in table.items():
        if name == text:
            return value
    if text.startswith("0x"):
        return int(text, 16)
    raise ValueError(f"unknown symbol {text!r}")


def parse_fields(name: str, body: str) -> dict[str, int | str] | None:
    """The fields printed in an event's TP_printk text, or None if it does not fit."""
    f = FORMATS.get(name)
    if f is None:
        return None
    fields: dict[str, int | str] = {}
    pos = 0
    n = len(f.args)
    try:
        for i in range(n):
            lit = f.lits[i]
            if not body.startswith(lit, pos):
                return None
            pos += len(lit)
            stop = f.lits[i + 1] if i + 1 < n else f.tail
            end = body.find(stop, pos) if stop else len(body)
            if end < 0:
                return None
            fields[f.args[i]] = _parse_value(f.kinds[i], body[pos:end])
            pos = end
    except ValueError:
        return None
    if body[pos:] != f.tail:
        return None
    return fields


def parse_trace_line(line: str) -> TraceEvent | None:
    """A trace/trace_pipe line of one of the seven events (the kernel's or ours) -> the event
    with its printed fields and context columns; None for comments, other events and lines
    that do not parse."""
    m = _LINE.match(line.rstrip("\n"))
    if m is None:
        return None
    name = m.group("name")
    fields = parse_fields(name, m.group("body"))
    if fields is None:
        return None
    return TraceEvent(FORMATS[name].system, name, float(m.group("ts")), fields,
                      task=m.group("task"), pid=int(m.group("pid")), cpu=int(m.group("cpu")),
                      flags=m.group("flags") or "")
