"""The packetdrill script language (issue 11): every construct the shared corpus uses parses
into the tree it means, and a malformed script fails with its line and what is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuxtcp.packetdrill import ParseError, parse_file, parse_text
from tuxtcp.packetdrill.lexer import tokenize
from tuxtcp.packetdrill.script import (
    ABSOLUTE,
    ABSOLUTE_RANGE,
    ANY,
    ELLIPSIS,
    RELATIVE,
    RELATIVE_RANGE,
    BitOr,
    Call,
    Code,
    Command,
    Field,
    IcmpPacket,
    Int,
    IpInfo,
    List,
    Str,
    Struct,
    Syscall,
    TcpOption,
    TcpPacket,
    UdpPacket,
    Word,
)

REPO = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    """The shared third-party corpus (test data kept outside the repository)."""
    for c in (os.environ.get("TUXTCP_PACKETDRILL_CORPUS"),
              str(REPO.parent / "shared" / "conformance" / "packetdrill"),
              "/work/shared/conformance/packetdrill"):
        if c and Path(c, "linux-6.18-results.tsv").is_file():
            return Path(c)
    return None


CORPUS = corpus_dir()
CORPUS_SCRIPTS = sorted(CORPUS.rglob("*.pkt")) if CORPUS else []
DEFINES = {"TFO_COOKIE": "4448a2548656d2c6", "TFO_COOKIE_ZERO": "920740da3f157f33",
           "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR",
           "CODE": "host_unreachable"}


@pytest.mark.skipif(CORPUS is None, reason="the shared packetdrill corpus is not here "
                    "(set TUXTCP_PACKETDRILL_CORPUS to its folder)")
def test_every_script_of_the_shared_corpus_parses() -> None:
    assert CORPUS is not None and len(CORPUS_SCRIPTS) == 178
    events = 0
    for p in CORPUS_SCRIPTS:
        s = parse_file(p, DEFINES)
        events += len(s.events)
        # every event's line is a line of the file that has something on it
        lines = p.read_text().splitlines()
        assert all(lines[e.line - 1].strip() for e in s.events), p
    assert events > 3000


def one(line: str) -> object:
    s = parse_text(line)
    assert len(s.events) == 1
    return s.events[0].action


def test_syscalls_and_their_arguments() -> None:
    assert one("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3") == Syscall(
        "socket", (ELLIPSIS, Word("SOCK_STREAM"), Word("IPPROTO_TCP")), Int(3, "3"))
    assert one("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0") == \
        Syscall("setsockopt", (Int(3, "3"), Word("SOL_SOCKET"), Word("SO_LINGER"),
                               Struct((Field("onoff", Int(1, "1")),
                                       Field("linger", Int(0, "0")))), Int(8, "8")),
                Int(0, "0"))
    c = one("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")
    assert isinstance(c, Syscall)
    assert (c.result, c.errno, c.note) == (Int(-1, "-1"), "EINPROGRESS",
                                           "Operation now in progress")
    f = one("+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0")
    assert isinstance(f, Syscall) and f.args[2] == BitOr(Word("O_RDWR"), Word("O_NONBLOCK"))
    b = one("+0...0.200 accept(3, ..., ...) = 4")
    assert isinstance(b, Syscall) and b.end_usecs == 200_000
    w = one('+0 write(4, "hello" " world"..., 11) = 11')
    assert isinstance(w, Syscall) and w.args[1] == Str("hello world", open_ended=True)
    sa = one('+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), '
             'sin_addr=inet_addr("198.18.0.1")}, 16) = 0')
    assert isinstance(sa, Syscall) and isinstance(sa.args[1], Struct)
    assert sa.args[1].fields()["sin_port"] == Call("htons", (Int(8080, "8080"),))
    m = one("+0 sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0}, 0) = 1000")
    assert isinstance(m, Syscall) and isinstance(m.args[1], Struct)
    iov = m.args[1].items[1]
    assert iov == Field("msg_iov", List((Struct((ELLIPSIS, Int(1000, "1000"))),)),
                        (Int(1, "1"),))
    g = one("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0")
    assert isinstance(g, Syscall) and g.args[3] == List((Int(0, "0"),))
    p = one("+0 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 0) = 1")
    assert isinstance(p, Syscall) and isinstance(p.args[0], List)
    assert one("+0 setsockopt(3, SOL_TCP, TCP_MAXSEG, [0x10], 4) = 0") == Syscall(
        "setsockopt", (Int(3, "3"), Word("SOL_TCP"), Word("TCP_MAXSEG"),
                       List((Int(16, "0x10"),)), Int(4, "4")), Int(0, "0"))


def test_packets() -> None:
    syn = one("+0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,nop,nop,wscale 8>")
    assert syn == TcpPacket("<", "S", 0, 0, 0, None, 65535, 0,
                            (TcpOption("mss", (1000,)), TcpOption("sackOK"), TcpOption("nop"),
                             TcpOption("nop"), TcpOption("nop"), TcpOption("wscale", (8,))))
    sa = one("+0 > S. 0:0(0) ack 1 <...>")
    assert isinstance(sa, TcpPacket) and (sa.flags, sa.ack, sa.window, sa.options) == (
        "S.", 1, None, None)
    d = one("+.1 < P. 1:1001(1000) ack 1 win 257 <nop,nop,TS val 100 ecr 700>")
    assert isinstance(d, TcpPacket) and d.options == (TcpOption("nop"), TcpOption("nop"),
                                                      TcpOption("TS", (100, 700)))
    sack = one("+0 > . 1:1(0) ack 1 <nop,nop,sack 2001:41001 50001:60001>")
    assert isinstance(sack, TcpPacket)
    assert sack.options is not None and sack.options[2].values == (2001, 41001, 50001, 60001)
    assert one("+0 < - 1:1(0) win 100") == TcpPacket("<", "", 1, 1, 0, None, 100)
    e = one("+0 > [ect0] . 1:1(0) ack 1")
    assert isinstance(e, TcpPacket) and e.ip == IpInfo(ecn="ect0")
    t = one("+0 < (tos 0x10) 8080 > 40000 R 0:0(0) win 0")
    assert isinstance(t, TcpPacket)
    assert (t.ip.tos, t.sport, t.dport) == (0x10, 8080, 40000)
    fo = one("+0 < S. 123:123(0) ack 1 win 14600 <mss 1460,FO abcd1234,nop,nop>")
    assert isinstance(fo, TcpPacket) and fo.options is not None
    assert fo.options[1] == TcpOption("FO", (), "abcd1234")
    icmp = one("+0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]")
    assert icmp == IcmpPacket("<", "unreachable", "frag_needed", 1200, ("tcp", 1, 1460))
    assert one("+0 < udp (100)") == UdpPacket("<", 100)


def test_timing_forms() -> None:
    s = parse_text("0 socket(..., SOCK_STREAM, 0) = 3\n"
                   "+0.25 close(3) = 0\n"
                   "* > R 1:1(0)\n"
                   "1.0~1.5 > . 1:1(0)\n"
                   "+0~+0.1 > . 1:1(0)\n"
                   "2 `echo hi`\n"
                   "+0 %{ assert tcpi_snd_cwnd == 10 }%\n")
    t = [(e.timing.kind, e.timing.usecs, e.timing.end_usecs) for e in s.events]
    assert t == [(ABSOLUTE, 0, None), (RELATIVE, 250_000, None), (ANY, 0, None),
                 (ABSOLUTE_RANGE, 1_000_000, 1_500_000), (RELATIVE_RANGE, 0, 100_000),
                 (ABSOLUTE, 2_000_000, None), (RELATIVE, 0, None)]
    assert s.events[5].action == Command("echo hi")
    assert s.events[6].action == Code("assert tcpi_snd_cwnd == 10")
    assert [e.line for e in s.events] == [1, 2, 3, 4, 5, 6, 7]


def test_options_init_and_cleanup_commands() -> None:
    s = parse_text("--tolerance_usecs=10000\n--mss=1000\n--define=CC=\"reno\"\n"
                   "--ip_version=ipv4\n--local_ip=198.18.0.1\n--verbose\n"
                   "`./defaults.sh\nsysctl -q net.ipv4.tcp_rmem=\"4096 131072 6291456\"`\n"
                   "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                   "`echo cleanup`\n")
    assert s.options == [("tolerance_usecs", "10000"), ("mss", "1000"), ("define", 'CC="reno"'),
                         ("ip_version", "ipv4"), ("local_ip", "198.18.0.1"), ("verbose", None)]
    assert s.option("mss") == "1000" and s.option("absent") is None
    assert s.init_command == Command('./defaults.sh\nsysctl -q net.ipv4.tcp_rmem="4096 131072 '
                                     '6291456"')
    assert s.cleanup_command == Command("echo cleanup") and len(s.events) == 1


def test_comments_and_defines() -> None:
    s = parse_text("/* a\n comment */ 0 socket(..., SOCK_STREAM, PROTO) = 3 // end\n"
                   "+0 setsockopt(3, SOL_TCP, TCP_FASTOPEN_KEY, COOKIE, 16) = 0\n",
                   defines={"PROTO": "IPPROTO_TCP", "COOKIE": '"abcd"'})
    a0, a1 = (e.action for e in s.events)
    assert isinstance(a0, Syscall) and a0.args[2] == Word("IPPROTO_TCP")
    assert isinstance(a1, Syscall) and a1.args[3] == Str("abcd")
    assert s.events[0].line == 2


@pytest.mark.parametrize("text,line,message", [
    ("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:0(0) <mss 1000>\n", 2,
     "TCP window value must be specified for inbound packets"),
    ("0 < S 0:10(0) win 100\n", 1, "inconsistent TCP sequence numbers and payload size"),
    ("0 > S 0:0(0) <mss 70000>\n", 1, "mss value 70000 out of range (0..65535)"),
    ("0 > S 0:0(0) <frob 1>\n", 1, "unknown TCP option 'frob'"),
    ("0 > X 0:0(0)\n", 1, "unknown TCP flag 'X' in 'X'"),
    ("\n\n* socket(..., SOCK_STREAM, 0) = 3\n", 3,
     "event time * can only be used with outbound packets"),
    ("0~1 < S 0:0(0) win 1\n", 1, "an event time range can only be used with outbound packets"),
    ("1~0 > S 0:0(0)\n", 1, "time range is backwards"),
    ("0 < S 0:0(0) win 1 <...>\n", 1,
     "<...> for TCP options can only be used with outbound packets"),
    ("0 socket(..., SOCK_STREAM, 0)\n", 2,
     "expected '=' and the expected return value of socket(), got end of file"),
    ("0 close(3 = 0\n", 1, "expected ',' or ')', got '='"),
    ("0 > ipv4 198.18.0.1 > 198.18.1.1: S 0:0(0)\n", 1,
     "encapsulated packets (ipv4 ...) are not supported"),
    ("0 < S 0:0(0) win 1 {mut tcp mss}\n", 1,
     "packet fuzzing directives ({mut|trun|ins ...}) are not supported"),
    ("0 bind(3, {sa_family=AF_INET6, sin6_addr=inet6_addr(\"::1\")}, 28) = 0\n", 1,
     "IPv6 (inet6_addr) is not supported"),
    ("--mss=1000\n", 2, "a script needs at least one event"),
    ("0 socket(..., SOCK_STREAM, 0) = 3 EFOO (note\n", 2, "unterminated note: expected ')'"),
    ("-1 close(3) = 0\n", 1, "negative time"),
])
def test_malformed_scripts_fail_with_line_and_reason(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_text(text, "bad.pkt")
    assert (e.value.line, e.value.message) == (line, message)
    assert str(e.value) == f"bad.pkt:{line}: {message}"


@given(st.text(alphabet=st.sampled_from(list("0123456789+.*~<>SFRP:()[]{}=,|-\"`% \nawinck"
                                              "/x")), max_size=80))
def test_arbitrary_text_parses_or_fails_with_a_parse_error(text: str) -> None:
    try:
        parse_text(text)
    except ParseError as e:
        assert e.line >= 1


def test_lexer_longest_match_and_rule_order() -> None:
    kinds = [(t.kind, t.text) for t in tokenize("0x10 4448a2548656d2c6 1.2.3.4 .04 -1 ... "
                                                "--mss 1:1001(1000)")[:-1]]
    assert kinds == [("integer", "0x10"), ("word", "4448a2548656d2c6"),
                     ("IPv4 address", "1.2.3.4"), ("number", ".04"), ("integer", "-1"),
                     ("...", "..."), ("option", "--mss"), ("integer", "1"),
                     ("character", ":"), ("integer", "1001"), ("character", "("),
                     ("integer", "1000"), ("character", ")")]


def test_errors_name_the_line_of_the_event_not_the_next_one() -> None:
    for text, message in [("0 < S 0:10(0)\n\n+0 close(3) = 0\n",
                           "inconsistent TCP sequence numbers and payload size"),
                          ("2~1\n> S 0:0(0)\n", "time range is backwards")]:
        with pytest.raises(ParseError) as e:
            parse_text(text)
        assert (e.value.line, e.value.message) == (1, message)
