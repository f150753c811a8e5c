"""A recursive-descent parser for packetdrill scripts (the language of google/packetdrill's
parser.y, summarised in syntax.md), producing the tree of script.py.

Every error is a ParseError naming the file, the line and what was expected or which construct
is not supported (IPv6, GRE/MPLS encapsulation, fuzzing directives): a script never parses into
something that means less than it says.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Final, NoReturn

from . import lexer as lx
from .lexer import LexError, Token, tokenize
from .script import (
    ABSOLUTE,
    ABSOLUTE_RANGE,
    ANY,
    ELLIPSIS,
    RELATIVE,
    RELATIVE_RANGE,
    Action,
    BitOr,
    Call,
    Code,
    Command,
    Event,
    Expr,
    Field,
    IcmpPacket,
    Int,
    IpInfo,
    List,
    Script,
    Str,
    Struct,
    Syscall,
    TcpOption,
    TcpPacket,
    Timing,
    UdpPacket,
    Word,
)

TCP_FLAG_LETTERS: Final = frozenset("FSRP.UEWA")
ECN_WORDS: Final = ("noecn", "ect0", "ect1", "ce", "ect01")
U16: Final = 0xFFFF
U32: Final = 0xFFFFFFFF


class ParseError(ValueError):
    """A script that cannot be parsed: `path:line: message`."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


def parse_file(path: str | Path, defines: dict[str, str] | None = None) -> Script:
    p = Path(path)
    return parse_text(p.read_text(encoding="utf-8", errors="replace"), str(p), defines)


def parse_text(source: str, path: str = "<script>",
               defines: dict[str, str] | None = None) -> Script:
    try:
        tokens = tokenize(source, defines)
    except LexError as e:
        raise ParseError(path, e.line, str(e)) from None
    return _Parser(tokens, path).script()


class _Parser:
    def __init__(self, tokens: list[Token], path: str) -> None:
        self.toks = tokens
        self.i = 0
        self.path = path

    # -- token helpers ---------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        t = self.toks[self.i]
        if t.kind != lx.EOF:
            self.i += 1
        return t

    def error(self, message: str, tok: Token | None = None) -> NoReturn:
        raise ParseError(self.path, (tok or self.tok).line, message)

    def expect_char(self, c: str, what: str = "") -> Token:
        if not self.tok.is_char(c):
            self.error(f"expected '{c}'{' ' + what if what else ''}, got {self.tok.describe()}")
        return self.next()

    def accept_char(self, c: str) -> bool:
        if self.tok.is_char(c):
            self.next()
            return True
        return False

    def accept_word(self, w: str) -> bool:
        if self.tok.is_word(w):
            self.next()
            return True
        return False

    def integer(self, what: str, lo: int = 0, hi: int = U32) -> int:
        t = self.tok
        if t.kind != lx.INT:
            self.error(f"expected {what} (an integer), got {t.describe()}")
        self.next()
        assert isinstance(t.value, int)
        if not lo <= t.value <= hi:
            self.error(f"{what} {t.value} out of range ({lo}..{hi})", t)
        return t.value

    # -- the script ------------------------------------------------------------------------
    def script(self) -> Script:
        s = Script(self.path)
        while self.tok.kind == lx.OPTION:
            s.options.append(self.option())
        if self.tok.kind == lx.BACKQ:
            s.init_command = Command(self.next().text)
        while self.tok.kind != lx.EOF:
            if self.tok.kind == lx.BACKQ and self.peek().kind == lx.EOF:
                s.cleanup_command = Command(self.next().text)
                break
            s.events.append(self.event())
        if not s.events:
            self.error("a script needs at least one event")
        return s

    def option(self) -> tuple[str, str | None]:
        name = self.next().text[2:]
        if not self.accept_char("="):
            return name, None
        t = self.next()
        if t.kind not in (lx.INT, lx.FLOAT, lx.WORD, lx.STRING, lx.IPV4):
            self.error(f"expected a value for --{name}, got {t.describe()}", t)
        value = t.text
        if t.kind == lx.WORD and self.accept_char("="):  # --define=NAME=VALUE
            v = self.next()
            if v.kind not in (lx.WORD, lx.STRING, lx.BACKQ, lx.INT):
                self.error(f"expected a value after --{name}={value}=", v)
            quote = {lx.STRING: '"', lx.BACKQ: "`"}.get(v.kind, "")
            value = f"{value}={quote}{v.text}{quote}"
        return name, value

    # -- events ----------------------------------------------------------------------------
    def event(self) -> Event:
        line = self.tok.line
        timing = self.timing()
        t = self.tok
        action: Action
        if t.is_char("<") or t.is_char(">"):
            action = self.packet()
        elif t.kind == lx.BACKQ:
            action = Command(self.next().text)
        elif t.kind == lx.CODE:
            action = Code(self.next().text)
        elif t.kind in (lx.WORD, lx.ELLIPSIS):
            action = self.syscall()
        else:
            self.error(f"expected a packet, a system call, a command or a code block, "
                       f"got {t.describe()}")
        outbound = isinstance(action, TcpPacket | IcmpPacket | UdpPacket) and \
            action.direction == ">"
        if timing.kind == ANY and not outbound:
            self.error("event time * can only be used with outbound packets", t)
        if timing.kind in (ABSOLUTE_RANGE, RELATIVE_RANGE) and not outbound:
            self.error("an event time range can only be used with outbound packets", t)
        return Event(line, timing, action)

    def timing(self) -> Timing:
        first = self.tok
        if self.accept_char("*"):
            return Timing(ANY)
        if self.accept_char("+"):
            start = self.time()
            if self.accept_char("~"):
                self.expect_char("+", "(a relative range is +a~+b)")
                end = self.time()
                if end < start:
                    self.error("time range is backwards", first)
                return Timing(RELATIVE_RANGE, start, end)
            return Timing(RELATIVE, start)
        if self.tok.kind not in (lx.INT, lx.FLOAT):
            self.error(f"expected an event time, got {self.tok.describe()}")
        start = self.time()
        if self.accept_char("~"):
            end = self.time()
            if end < start:
                self.error("time range is backwards", first)
            return Timing(ABSOLUTE_RANGE, start, end)
        return Timing(ABSOLUTE, start)

    def time(self) -> int:
        t = self.tok
        if t.kind not in (lx.INT, lx.FLOAT):
            self.error(f"expected a time in seconds, got {t.describe()}")
        self.next()
        if t.text.startswith("-"):
            self.error("negative time", t)
        return int(Decimal(t.text) * 1_000_000)

    # -- syscalls --------------------------------------------------------------------------
    def syscall(self) -> Syscall:
        end = None
        if self.tok.kind == lx.ELLIPSIS:
            self.next()
            end = self.time()
        t = self.tok
        if t.kind != lx.WORD:
            self.error(f"expected a system call name, got {t.describe()}")
        name = self.next().text
        self.expect_char("(", f"after {name}")
        args = self.expr_list(")")
        self.expect_char("=", f"and the expected return value of {name}()")
        result = self.expression()
        errno = note = None
        if self.tok.kind == lx.WORD:
            errno = self.next().text
        if self.tok.is_char("("):
            note = self.note()
        return Syscall(name, args, result, errno, note, end)

    def note(self) -> str:
        self.expect_char("(")
        words = []
        while not self.tok.is_char(")"):
            if self.tok.kind == lx.EOF:
                self.error("unterminated note: expected ')'")
            words.append(self.next().text)
        self.next()
        return " ".join(words)

    def expr_list(self, close: str) -> tuple[Expr, ...]:
        """Expressions separated by commas up to `close` (consumed)."""
        items: list[Expr] = []
        if self.accept_char(close):
            return ()
        while True:
            items.append(self.expression())
            if self.accept_char(close):
                return tuple(items)
            self.expect_char(",", f"or '{close}'")

    def expression(self) -> Expr:
        e = self.primary()
        while self.accept_char("|"):
            e = BitOr(e, self.primary())
        return e

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == lx.ELLIPSIS:
            self.next()
            return ELLIPSIS
        if t.kind == lx.INT:
            self.next()
            assert isinstance(t.value, int)
            return Int(t.value, t.text)
        if t.kind == lx.STRING:
            text = ""
            while self.tok.kind == lx.STRING:  # "a" "b": concatenation
                text += _unescape(self.next().text)
            if self.tok.kind == lx.ELLIPSIS:
                self.next()
                return Str(text, open_ended=True)
            return Str(text)
        if t.is_char("["):
            self.next()
            return List(self.expr_list("]"))
        if t.is_char("{"):
            self.next()
            return Struct(self.expr_list("}"))
        if t.kind == lx.WORD:
            self.next()
            if t.text in ("ipv6", "inet6_addr"):
                self.error(f"IPv6 ({t.text}) is not supported", t)
            args = None
            if self.tok.is_char("("):
                self.next()
                args = self.expr_list(")")
            if self.accept_char("="):
                return Field(t.text, self.expression(), args)
            if args is not None:
                return Call(t.text, args)
            return Word(t.text)
        if t.kind == lx.FLOAT:
            self.error(f"unexpected number {t.text} in an expression (integers only)")
        self.error(f"expected an expression, got {t.describe()}")

    # -- packets ---------------------------------------------------------------------------
    def packet(self) -> TcpPacket | IcmpPacket | UdpPacket:
        start = self.tok
        direction = self.next().text
        ip = self.ip_info()
        t = self.tok
        if t.kind == lx.WORD and t.text in ("ipv4", "ipv6", "gre", "GREv0", "mpls"):
            self.error(f"encapsulated packets ({t.text} ...) are not supported")
        if t.is_word("icmp"):
            self.next()
            return self.icmp(direction, ip)
        sport = dport = None
        if t.kind == lx.INT and self.peek().is_char(">"):
            sport = self.integer("source port", 0, U16)
            self.next()
            dport = self.integer("destination port", 0, U16)
        if self.tok.is_word("udp"):
            self.next()
            self.expect_char("(")
            length = self.integer("UDP payload size", 0, U16)
            self.expect_char(")")
            return UdpPacket(direction, length, ip, sport, dport)
        flags = self.flags()
        seq, end, length = self.seq_range()
        ack = window = None
        urg = 0
        if self.accept_word("ack"):
            ack = self.integer("TCP ack sequence number")
        if self.accept_word("win"):
            window = self.integer("TCP window value", 0, U16)
        if self.accept_word("urg"):
            urg = self.integer("urg_ptr value", 0, U16)
        options: tuple[TcpOption, ...] | None = ()
        if self.tok.is_char("<"):
            options = self.tcp_options(direction)
        if self.tok.is_char("{"):
            self.error("packet fuzzing directives ({mut|trun|ins ...}) are not supported")
        if direction == "<" and window is None:
            self.error("TCP window value must be specified for inbound packets", start)
        if ip.ecn == "ect01" and direction != ">":
            self.error("[ect01] can only be used with outbound packets", start)
        return TcpPacket(direction, flags, seq, end, length, ack, window, urg, options, ip,
                         sport, dport)

    def ip_info(self) -> IpInfo:
        if not (self.tok.is_char("(") or self.tok.is_char("[")):
            return IpInfo()
        close = ")" if self.next().text == "(" else "]"
        ecn = tos = ttl = flowlabel = None
        while True:
            t = self.next()
            if t.kind == lx.WORD and t.text in ECN_WORDS:
                ecn = t.text
            elif t.is_word("tos"):
                tos = self.integer("tos", 0, 0xFF)
            elif t.is_word("ttl"):
                ttl = self.integer("ttl", 0, 0xFF)
            elif t.is_word("flowlabel"):
                flowlabel = self.integer("flowlabel", 0, 0xFFFFF)
            else:
                self.error(f"expected ECN, tos, ttl or flowlabel, got {t.describe()}", t)
            if self.accept_char(close):
                return IpInfo(ecn, tos, ttl, flowlabel)
            self.expect_char(",")

    def flags(self) -> str:
        t = self.tok
        if t.is_char("."):
            self.next()
            return "."
        if t.is_char("-"):
            self.next()
            return ""
        if t.kind == lx.WORD:
            self.next()
            text = t.text
            if self.tok.is_char("."):
                self.next()
                text += "."
            bad = sorted(set(text) - TCP_FLAG_LETTERS)
            if bad:
                self.error(f"unknown TCP flag {bad[0]!r} in {text!r}", t)
            return text
        self.error(f"expected TCP flags (S, F, R, P, ., U, E, W or -), got {t.describe()}")

    def seq_range(self) -> tuple[int, int, int]:
        first = self.tok
        start = self.integer("TCP start sequence number")
        self.expect_char(":", "(start:end(length))")
        end = self.integer("TCP end sequence number")
        self.expect_char("(", "(start:end(length))")
        length = self.integer("TCP payload size", 0, U16)
        self.expect_char(")")
        if end != start + length:
            self.error("inconsistent TCP sequence numbers and payload size", first)
        return start, end, length

    def tcp_options(self, direction: str) -> tuple[TcpOption, ...] | None:
        start = self.expect_char("<")
        if self.tok.kind == lx.ELLIPSIS:
            self.next()
            self.expect_char(">")
            if direction != ">":
                self.error("<...> for TCP options can only be used with outbound packets",
                           start)
            return None
        opts = [self.tcp_option()]
        while self.accept_char(","):
            opts.append(self.tcp_option())
        self.expect_char(">", "or ',' in the TCP options")
        if len(opts) > 40:
            self.error("TCP option list too long", start)
        return tuple(opts)

    def tcp_option(self) -> TcpOption:
        t = self.next()
        if t.kind != lx.WORD:
            self.error(f"expected a TCP option, got {t.describe()}", t)
        k = t.text
        if k in ("nop", "eol", "sackOK"):
            return TcpOption(k)
        if k == "mss":
            return TcpOption(k, (self.integer("mss value", 0, U16),))
        if k == "wscale":
            return TcpOption(k, (self.integer("window scale shift count", 0, 0xFF),))
        if k == "sack":
            blocks: list[int] = []
            while self.tok.kind == lx.INT:
                blocks.append(self.integer("TCP SACK left sequence number"))
                self.expect_char(":")
                blocks.append(self.integer("TCP SACK right sequence number"))
            if not blocks:
                self.error("expected SACK blocks (left:right ...)")
            return TcpOption(k, tuple(blocks))
        if k == "TS":
            if not self.accept_word("val"):
                self.error("expected 'val' in TS val X ecr Y")
            val = self.integer("ts val")
            if not self.accept_word("ecr"):
                self.error("expected 'ecr' in TS val X ecr Y")
            return TcpOption(k, (val, self.integer("ecr val")))
        if k in ("FO", "FOEXP", "md5"):
            cookie = ""
            if self.tok.kind in (lx.WORD, lx.INT):
                cookie = self.next().text
            elif k == "md5":
                self.error("expected the md5 option's hex bytes")
            if cookie and (len(cookie) % 2 or any(c not in "0123456789abcdefABCDEF"
                                                  for c in cookie)):
                self.error(f"bad hex bytes {cookie!r} in the {k} option", t)
            return TcpOption(k, (), cookie)
        self.error(f"unknown TCP option {k!r}", t)

    def icmp(self, direction: str, ip: IpInfo) -> IcmpPacket:
        t = self.next()
        if t.kind != lx.WORD:
            self.error(f"expected an ICMP type, got {t.describe()}", t)
        code = mtu = None
        if self.tok.kind == lx.WORD and self.tok.text not in ("mtu", "id"):
            code = self.next().text
        if self.accept_word("mtu"):
            mtu = self.integer("ICMP mtu", 0, U16)
        if self.accept_word("id"):
            self.integer("ICMP echo id", 0, U16)
        echoed = None
        if self.accept_char("["):
            if self.tok.is_word("udp") or self.tok.is_word("raw"):
                proto = self.next().text
                self.expect_char("(")
                echoed = (proto, 0, self.integer("payload size", 0, U16))
                self.expect_char(")")
            else:
                s, _, n = self.seq_range()
                echoed = ("tcp", s, n)
            self.expect_char("]")
        return IcmpPacket(direction, t.text, code, mtu, echoed, ip)


def _unescape(s: str) -> str:
    """C escapes in a string literal (\\n, \\t, \\\\, \\", \\xNN, octal)."""
    if "\\" not in s:
        return s
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")
