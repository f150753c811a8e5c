"""ss(8)'s socket selection: state sets (`state NAME`, `exclude NAME`, -l, -a) and the filter
expression language (`sport = :8080`, `dport != :22`, `src 198.18.0.0/15`, `dst
198.18.0.1:80`, `and`, `or`, `not`, parentheses; juxtaposition means `and`), as iproute2's
ss.c and ssfilter.y read them.

Grammar, loosest first: expr := term ('or' term)*; term := factor (['and'] factor)*;
factor := ('not' | '!') factor | '(' expr ')' | atom. An atom is `sport|dport OP :PORT`
(OP: = == != < > <= >= and the words eq neq ne lt gt le ge, or none: equality) or `src|dst
[=] ADDR[/LEN][:PORT]`, where ADDR or PORT may be `*`. Errors raise SsFilterError with
ss's wording where it has one.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from .records import SockRecord

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Final

# tcp_states numbering
ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, \
    LAST_ACK, LISTEN, CLOSING = range(1, 12)
ALL: Final = frozenset(range(1, 12))
STATE_NAMES: Final = {
    "established": {ESTABLISHED}, "syn-sent": {SYN_SENT}, "syn-recv": {SYN_RECV},
    "fin-wait-1": {FIN_WAIT1}, "fin-wait-2": {FIN_WAIT2}, "time-wait": {TIME_WAIT},
    "closed": {CLOSE}, "close-wait": {CLOSE_WAIT}, "last-ack": {LAST_ACK},
    "listening": {LISTEN}, "listen": {LISTEN}, "closing": {CLOSING},
    "all": set(ALL),
    # ss.c's groups
    "connected": set(ALL) - {LISTEN, CLOSE},
    "synchronized": set(ALL) - {LISTEN, CLOSE, SYN_SENT},
    "bucket": {SYN_RECV, TIME_WAIT},
    "big": set(ALL) - {SYN_RECV, TIME_WAIT},
}
# the default without -a/-l: everything but listeners, closed sockets and the buckets
DEFAULT_STATES: Final = frozenset(ALL - {LISTEN, CLOSE, SYN_RECV, TIME_WAIT})

Predicate = Callable[[SockRecord], bool]


class SsFilterError(ValueError):
    """A filter ss would refuse."""


def state_set(name: str) -> set[int]:
    s = STATE_NAMES.get(name.lower())
    if s is None:
        raise SsFilterError(f'wrong state name: {name}')
    return set(s)


def _tokens(words: list[str]) -> list[str]:
    """The words split the way ss's lexer splits them: at spaces (a filter is often one quoted
    argument, 'sport = :80 or dport = :80'), and parentheses and operators stand on their own
    even when written against their neighbours ("sport=:80", "(dport")."""
    out: list[str] = []
    for w in (part for word in words for part in word.split()):
        i = 0
        while i < len(w):
            c = w[i]
            if c in "()":
                out.append(c)
                i += 1
            elif c in "=!<>":
                j = i + 1
                if j < len(w) and w[j] == "=":
                    j += 1
                out.append(w[i:j])
                i = j
            else:
                j = i
                while j < len(w) and w[j] not in "()=!<>":
                    j += 1
                out.append(w[i:j])
                i = j
    return out


_OPS: Final = {"=": "eq", "==": "eq", "eq": "eq", "!=": "ne", "neq": "ne", "ne": "ne",
               "<": "lt", "lt": "lt", ">": "gt", "gt": "gt", "<=": "le", "le": "le",
               ">=": "ge", "ge": "ge"}


def _port(text: str) -> int | None:
    """':8080', '8080' or a service name; None for '*'."""
    t = text[1:] if text.startswith(":") else text
    if t == "*" or t == "":
        return None
    if t.isdigit():
        p = int(t)
        if p > 65535:
            raise SsFilterError(f'wrong port "{text}"')
        return p
    try:  # a service name: /etc/services, as ss resolves it
        return socket.getservbyname(t, "tcp")
    except OSError:
        raise SsFilterError(f'wrong port "{text}"') from None


def _addr(text: str) -> tuple[int, int, int | None]:
    """ADDR[/LEN][:PORT] -> (address, prefix length, port or None)."""
    host, port = text, None
    if text.count(":") == 1:
        host, p = text.split(":")
        port = _port(p)
    plen = 32
    if "/" in host:
        host, n = host.split("/", 1)
        if not n.isdigit() or int(n) > 32:
            raise SsFilterError(f'wrong prefix length "{text}"')
        plen = int(n)
    if host in ("*", ""):
        return 0, 0, port
    parts = host.split(".")
    if len(parts) != 4 or not all(x.isdigit() and int(x) < 256 for x in parts):
        raise SsFilterError(f'could not parse address "{text}"')
    value = 0
    for x in parts:
        value = (value << 8) | int(x)
    return value, plen, port


class _Parser:
    def __init__(self, toks: list[str]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        t = self.peek()
        if t is None:
            raise SsFilterError("filter ended too early")
        self.i += 1
        return t

    def expr(self) -> Predicate:
        left = self.term()
        while self.peek() in ("or", "||", "|"):
            self.take()
            right = self.term()
            left = _or(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while True:
            t = self.peek()
            if t is None or t in ("or", "||", "|", ")"):
                return left
            if t in ("and", "&&", "&"):
                self.take()
            right = self.factor()
            left = _and(left, right)

    def factor(self) -> Predicate:
        t = self.take()
        if t in ("not", "!"):
            inner = self.factor()
            return lambda r: not inner(r)
        if t == "(":
            e = self.expr()
            if self.take() != ")":
                raise SsFilterError("unbalanced parentheses")
            return e
        if t in ("sport", "dport"):
            op = "eq"
            if self.peek() in _OPS:
                op = _OPS[self.take()]
            port = _port(self.take())
            return _port_pred(t == "sport", op, port)
        if t in ("src", "dst"):
            neg = False
            if self.peek() in ("=", "=="):
                self.take()
            elif self.peek() == "!=":
                self.take()
                neg = True
            addr, plen, port = _addr(self.take())
            pred = _addr_pred(t == "src", addr, plen, port)
            return (lambda r: not pred(r)) if neg else pred
        raise SsFilterError(f'unknown filter term "{t}"')


def _and(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) and b(r)


def _or(a: Predicate, b: Predicate) -> Predicate:
    return lambda r: a(r) or b(r)


def _port_pred(local: bool, op: str, port: int | None) -> Predicate:
    def get(r: SockRecord) -> int:
        return r.sport if local else r.dport

    if port is None:
        return lambda r: True
    if op == "eq":
        return lambda r: get(r) == port
    if op == "ne":
        return lambda r: get(r) != port
    if op == "lt":
        return lambda r: get(r) < port
    if op == "gt":
        return lambda r: get(r) > port
    if op == "le":
        return lambda r: get(r) <= port
    return lambda r: get(r) >= port


def _addr_pred(local: bool, addr: int, plen: int, port: int | None) -> Predicate:
    mask = (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF if plen else 0

    def pred(r: SockRecord) -> bool:
        a, p = (r.saddr, r.sport) if local else (r.daddr, r.dport)
        return (a & mask) == (addr & mask) and (port is None or p == port)

    return pred


def parse_filter(words: list[str]) -> Predicate | None:
    """The expression part of an ss command line (None: no expression)."""
    toks = _tokens(words)
    if not toks:
        return None
    p = _Parser(toks)
    pred = p.expr()
    if p.peek() is not None:
        raise SsFilterError(f'unexpected "{p.peek()}" in filter')
    return pred
