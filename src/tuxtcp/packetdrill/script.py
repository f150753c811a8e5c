"""The syntax tree of a packetdrill script: options, the init command, timed events (syscalls,
packets, shell commands, code blocks) and the cleanup command. Times are integer microseconds,
as packetdrill keeps them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# --- expressions (syscall arguments and results) ----------------------------------------------


@dataclass(frozen=True)
class Int:
    value: int
    text: str


@dataclass(frozen=True)
class Word:
    """A symbol (SOCK_STREAM, O_NONBLOCK) or a name the target resolves."""

    name: str


@dataclass(frozen=True)
class Str:
    value: str
    open_ended: bool = False  # "abc"... : only a prefix is given


@dataclass(frozen=True)
class Ellipsis_:
    """`...`: the runner fills the argument in (an address, a length, a buffer)."""


@dataclass(frozen=True)
class BitOr:
    lhs: Expr
    rhs: Expr


@dataclass(frozen=True)
class Call:
    """htons(8080), inet_addr("198.18.0.1")."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Field:
    """name=value inside a struct; name(arg)=value as msghdr's msg_iov(1)=[...]."""

    name: str
    value: Expr
    args: tuple[Expr, ...] | None = None


@dataclass(frozen=True)
class List:
    """[a, b] (an array, or a pointer to one value: [1])."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Struct:
    """{a, b} or {name=value, ...}."""

    items: tuple[Expr, ...]

    def fields(self) -> dict[str, Expr]:
        return {i.name: i.value for i in self.items if isinstance(i, Field)}


Expr = Int | Word | Str | Ellipsis_ | BitOr | Call | Field | List | Struct
ELLIPSIS: Final = Ellipsis_()

# --- timing -----------------------------------------------------------------------------------
ABSOLUTE: Final = "absolute"
RELATIVE: Final = "relative"
ANY: Final = "any"  # `*` (outbound packets only)
ABSOLUTE_RANGE: Final = "absolute range"  # a~b
RELATIVE_RANGE: Final = "relative range"  # +a~+b


@dataclass(frozen=True)
class Timing:
    kind: str
    usecs: int = 0
    end_usecs: int | None = None  # the range's end


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Syscall:
    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None
    note: str | None = None
    end_usecs: int | None = None  # a blocking call: `start...end name(...)`


@dataclass(frozen=True)
class IpInfo:
    """What the parentheses or brackets after the direction say about the IP header."""

    ecn: str | None = None  # noecn, ect0, ect1, ce, ect01
    tos: int | None = None
    ttl: int | None = None
    flowlabel: int | None = None


@dataclass(frozen=True)
class TcpOption:
    """One TCP option as written: kind is nop, eol, mss, wscale, sackOK, sack, TS, md5, FO,
    FOEXP; values are its numbers (sack: left, right, left, right, ...), cookie its hex."""

    kind: str
    values: tuple[int, ...] = ()
    cookie: str = ""


@dataclass(frozen=True)
class TcpPacket:
    direction: str  # "<" inbound (injected), ">" outbound (expected)
    flags: str  # the letters as written, "." for ACK, "" for none
    seq: int
    end_seq: int
    length: int
    ack: int | None = None
    window: int | None = None
    urg: int = 0
    options: tuple[TcpOption, ...] | None = ()  # None: `<...>`, not checked
    ip: IpInfo = field(default_factory=IpInfo)
    sport: int | None = None
    dport: int | None = None


@dataclass(frozen=True)
class IcmpPacket:
    direction: str
    type: str
    code: str | None = None
    mtu: int | None = None
    echoed: tuple[str, int, int] | None = None  # (protocol, start sequence, payload bytes)
    ip: IpInfo = field(default_factory=IpInfo)


@dataclass(frozen=True)
class UdpPacket:
    direction: str
    length: int
    ip: IpInfo = field(default_factory=IpInfo)
    sport: int | None = None
    dport: int | None = None


@dataclass(frozen=True)
class Command:
    """A back-quoted shell command."""

    text: str


@dataclass(frozen=True)
class Code:
    """A %{ python }% block."""

    text: str


Action = Syscall | TcpPacket | IcmpPacket | UdpPacket | Command | Code


@dataclass(frozen=True)
class Event:
    line: int
    timing: Timing
    action: Action


@dataclass
class Script:
    path: str
    options: list[tuple[str, str | None]] = field(default_factory=list)
    init_command: Command | None = None
    events: list[Event] = field(default_factory=list)
    cleanup_command: Command | None = None

    def option(self, name: str) -> str | None:
        """The last value given for --name in the script (None if absent or valueless)."""
        value = None
        for n, v in self.options:
            if n == name:
                value = v
        return value
