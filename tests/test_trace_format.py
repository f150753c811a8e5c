"""tuxtcp.net.trace against the kernel: the trace_pipe lines 6.18 printed for a scripted session
(tests/data/kernel_trace_sample.txt, made by tests/kernel_trace_capture.py) and the events'
format files (tests/data/kernel_event_formats.txt; the root tests read the live ones and
capture afresh)."""

from __future__ import annotations

import io
import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tuxtcp.net import trace as T
from tuxtcp.net.trace import (
    FORMATS,
    TraceEvent,
    Tracer,
    TraceWriter,
    format_timestamp,
    format_trace_line,
    hashed_ptr,
    ip6_str,
    parse_trace_line,
)

DATA = Path(__file__).parent / "data"
SAMPLE = (DATA / "kernel_trace_sample.txt").read_text().splitlines()
FORMAT_FILES = (DATA / "kernel_event_formats.txt").read_text()
TRACEFS = "/sys/kernel/tracing"

LO = 0x7F000001
A, B, SILENT3 = 0xC6120001, 0xC6120002, 0xC6120003  # 198.18.0.1, .2, .3


def sample(*needles: str) -> str:
    """The one fixture line containing every needle."""
    hits = [ln for ln in SAMPLE if all(n in ln for n in needles)]
    assert len(hits) == 1, (needles, hits)
    return hits[0]


def as_kernel_printed(ev: TraceEvent, line: str) -> str:
    """Our event in the kernel's line, with the line's pointers, context and timestamp."""
    kern = parse_trace_line(line)
    assert kern is not None
    for ptr in ("skaddr", "skbaddr", "rx_sk"):
        if ptr in kern.fields:
            ev.fields[ptr] = kern.fields[ptr]
    ev.ts = kern.ts
    return format_trace_line(ev, kern.task, kern.pid, kern.cpu, kern.flags)


# (a) each event built by the engine's constructor prints as the kernel printed it

CASES = [
    (T.inet_sock_set_state(0.0, 1, 10, 3, 47001, 47026, LO, LO),
     ("TCP_LISTEN newstate=TCP_SYN_RECV", "dport=47026")),
    (T.inet_sock_set_state(0.0, 1, 7, 2, 0, 47006, B, A),
     ("TCP_CLOSE newstate=TCP_SYN_SENT", "dport=47006")),
    (T.inet_sock_set_state(0.0, 1, 10, 7, 47005, 0, A, 0),
     ("TCP_LISTEN newstate=TCP_CLOSE", "sport=47005")),
    (T.tcp_retransmit_skb(0.0, 1, 2, 1, 47058, 47006, B, A, 0),
     ("tcp_retransmit_skb", "1749.775928")),
    (T.tcp_retransmit_skb(0.0, 1, 2, 2, 47022, 47004, A, 0xC6120004),
     ("tcp_retransmit_skb", "1747.083940")),
    (T.tcp_retransmit_synack(0.0, 1, 2, 47005, 47050, A, SILENT3),
     ("tcp_retransmit_synack", "1747.083927")),
    (T.tcp_send_reset(0.0, 1, 0, 0, "NO_SOCKET", 47002, 47088, LO, LO),
     ("tcp_send_reset", "src=127.0.0.1:47002")),
    (T.tcp_send_reset(0.0, 0, 1, 7, "TCP_ABORT_ON_CLOSE", 47007, 47034, LO, LO),
     ("tcp_send_reset", "TCP_ABORT_ON_CLOSE")),
    (T.tcp_send_reset(0.0, 0, 1, 7, "TCP_STATE", 47003, 47032, LO, LO),
     ("tcp_send_reset", "TCP_STATE")),
    (T.tcp_receive_reset(0.0, 1, 47088, 47002, LO, LO, 0x1007),
     ("tcp_receive_reset", "sock_cookie=1007")),
    (T.tcp_receive_reset(0.0, 1, 47034, 47007, LO, LO, 0x100B),
     ("tcp_receive_reset", "sock_cookie=100b")),
    (T.tcp_destroy_sock(0.0, 1, 47003, 0, LO, LO, 0x1009),
     ("tcp_destroy_sock", "sock_cookie=1009")),
    (T.tcp_destroy_sock(0.0, 1, 47006, 0, A, 0, 0x1016),
     ("tcp_destroy_sock", "sock_cookie=1016")),
    (T.kfree_skb(0.0, 1, "tcp_v4_rcv+0x91/0x13f0", T.ETH_P_IP, "NO_SOCKET"),
     ("kfree_skb", "reason: NO_SOCKET")),
    (T.kfree_skb(0.0, 1, "ip_rcv_core+0x22c/0x350", T.ETH_P_IP, "OTHERHOST"),
     ("kfree_skb", "1747.083952")),
]


@pytest.mark.parametrize("ev,needles", CASES, ids=[c[1][0][:24] for c in CASES])
def test_constructed_event_prints_as_the_kernel(ev: TraceEvent, needles: tuple[str, ...]) -> None:
    line = sample(*needles)
    assert as_kernel_printed(ev, line) == line
    kern = parse_trace_line(line)
    assert kern is not None
    assert ev.system == kern.system and ev.name == kern.name
    assert ev.printed_fields() == kern.fields


def test_every_event_has_a_case_and_a_sample() -> None:
    assert {ev.name for ev, _ in CASES} == set(FORMATS)
    assert {ev.name for ln in SAMPLE if (ev := parse_trace_line(ln))} == set(FORMATS)


def test_every_kernel_line_parses_and_reprints_identically() -> None:
    assert len(SAMPLE) > 100
    for line in SAMPLE:
        ev = parse_trace_line(line)
        assert ev is not None, line
        assert format_trace_line(ev, ev.task, ev.pid, ev.cpu, ev.flags) == line


def test_parse_kernel_line_fields() -> None:
    ev = parse_trace_line(sample("tcp_send_reset", "src=127.0.0.1:47002"))
    assert ev is not None
    assert (ev.system, ev.name, ev.task, ev.pid, ev.cpu, ev.flags) == (
        "tcp", "tcp_send_reset", "python3", 6133, 0, "..s1.")
    assert ev.ts == 1745.811207
    assert ev.fields == {"skbaddr": 0x116D475F, "skaddr": 0, "saddr": "127.0.0.1:47002",
                         "daddr": "127.0.0.1:47088", "state": 0, "reason": "NO_SOCKET"}
    ev = parse_trace_line(sample("AF_INET6", "sport=47008 dport=0", "TCP_LISTEN newstate"))
    assert ev is not None and ev.fields["family"] == T.AF_INET6
    assert ev.fields["saddr"] == 0x7F000006  # the kernel's IPv4 placeholder on an IPv6 socket
    assert ev.fields["saddr_v6"] == 1 and ev.fields["daddr_v6"] == 0
    idle = parse_trace_line(sample("tcp_retransmit_synack", "1749.099926"))
    assert idle is not None and (idle.task, idle.pid) == ("<idle>", 0)


def test_parse_rejects_other_lines() -> None:
    assert parse_trace_line("# tracer: nop") is None
    assert parse_trace_line("") is None
    assert parse_trace_line(
        "          <idle>-0       [001] ..s1.  1700.1: consume_skb: skbaddr=0000000012345678"
    ) is None
    line = sample("tcp_send_reset", "src=127.0.0.1:47002")
    assert parse_trace_line(line.replace("state=UNKNOWN", "state=BOGUS")) is None
    assert parse_trace_line(line.replace(" dest=", " dst=")) is None
    assert parse_trace_line(line + " extra") is None
    drop = sample("kfree_skb", "reason: NO_SOCKET")
    modsym = drop.replace("location=tcp_v4_rcv+0x91/0x13f0", "location=foo+0x1/0x2 [mod]")
    ev = parse_trace_line(modsym)
    assert ev is not None and ev.fields["location"] == "foo+0x1/0x2 [mod]"
    assert parse_trace_line(drop + " extra") is None


def test_parse_tolerates_tgid_column_and_no_irq_info() -> None:
    line = sample("tcp_retransmit_synack", "1749.099926")
    with_tgid = line.replace("<idle>-0       [000]", "<idle>-0       (-------) [000]")
    no_flags = line.replace("[000] ..s1.  1749", "[000]  1749")
    plain = parse_trace_line(line)
    assert plain is not None
    for variant in (with_tgid, no_flags):
        ev = parse_trace_line(variant)
        assert ev is not None and ev.fields == plain.fields
    ev = parse_trace_line(no_flags)
    assert ev is not None and ev.flags == ""
    assert format_trace_line(ev, ev.task, ev.pid, ev.cpu, ev.flags) == no_flags


def test_line_layout() -> None:
    ev = T.tcp_retransmit_synack(1.5, 1, 2, 80, 1234, A, B)
    assert format_trace_line(ev) == (
        "          tuxtcp-0       [000] .....     1.500000: tcp_retransmit_synack: "
        "family=AF_INET sport=80 dport=1234 saddr=198.18.0.1 daddr=198.18.0.2 "
        "saddrv6=::ffff:198.18.0.1 daddrv6=::ffff:198.18.0.2")
    assert format_trace_line(ev, "kworker/u8:3", 2198, 1, "..s2.").startswith(
        "    kworker/u8:3-2198    [001] ..s2.     1.500000: ")
    assert format_trace_line(ev, "a-very-long-task-name", 1234567, 12, "").startswith(
        " a-very-long-tas-1234567 [012]     1.500000: ")  # comm is at most 15 characters


def test_timestamps() -> None:
    assert format_timestamp(0.0) == "    0.000000"
    assert format_timestamp(0.000001) == "    0.000001"
    assert format_timestamp(1.0000004) == "    1.000000"
    assert format_timestamp(1.000001) == "    1.000001"  # 1.000000999.. in binary
    assert format_timestamp(12345.678) == "12345.678000"
    assert format_timestamp(123456.5) == "123456.500000"


def test_symbolic_fallback_and_unknown_state() -> None:
    ev = T.inet_sock_set_state(1.0, 1, 13, 1, 1, 2, A, B, protocol=17)
    text = T.format_fields(ev)
    assert "protocol=0x11 " in text and "oldstate=0xd " in text  # __print_symbolic's fallback
    back = T.parse_fields(ev.name, text)
    assert back == ev.printed_fields()


def test_hashed_pointers() -> None:
    assert hashed_ptr(0) == 0
    values = {hashed_ptr(i) for i in range(1, 50001)}
    assert len(values) == 50000 and 0 not in values
    assert all(v < 2**32 for v in values)
    ev = T.tcp_retransmit_skb(1.0, 7, 8, 1, 1, 2, A, B)
    assert ev.fields["skbaddr"] == hashed_ptr(7) and ev.fields["skaddr"] == hashed_ptr(8)
    assert re.search(r"skbaddr=00000000[0-9a-f]{8} skaddr=00000000[0-9a-f]{8} ",
                     format_trace_line(ev))
    assert "rx_sk=0000000000000000 " in format_trace_line(
        T.kfree_skb(1.0, 3, "tcp_v4_rcv", T.ETH_P_IP, "NO_SOCKET"))


def test_unprinted_fields_are_kept_but_not_printed() -> None:
    ev = T.tcp_retransmit_synack(1.0, 11, 12, 80, 1234, A, B)
    assert ev.fields["skaddr"] == hashed_ptr(11) and ev.fields["req"] == hashed_ptr(12)
    assert "skaddr" not in ev.printed_fields() and "req" not in ev.printed_fields()
    for name, f in FORMATS.items():
        assert set(f.args) <= set(f.record), name


def test_ip6_examples() -> None:
    assert ip6_str(0) == "::"
    assert ip6_str(1) == "::1"
    assert ip6_str(0xFFFF7F000001) == "::ffff:127.0.0.1"
    assert ip6_str(0xFFFF00000000) == "::ffff:0.0.0.0"
    isatap = int(ipaddress.IPv6Address("fe80::5efe:c000:201"))
    assert ip6_str(isatap) == "fe80::5efe:192.0.2.1"
    assert ip6_str(int(ipaddress.IPv6Address("2001:db8:0:1:0:0:0:1"))) == "2001:db8:0:1::1"
    assert ip6_str(int(ipaddress.IPv6Address("2001:0:0:1:0:0:1:1"))) == "2001::1:0:0:1:1"
    assert ip6_str(int(ipaddress.IPv6Address("1:0:1:0:1:0:1:0"))) == "1:0:1:0:1:0:1:0"
    assert T.sockaddr_in6_str(1, 47009) == "[::1]:47009"


@given(st.integers(0, 2**128 - 1))
def test_ip6_matches_python_outside_the_dotted_forms(addr: int) -> None:
    words = [(addr >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    mapped = words[:5] == [0] * 5 and words[5] == 0xFFFF
    isatap = ((words[4] << 16 | words[5]) | 0x02000000) == 0x02005EFE
    if not (mapped or isatap):
        assert ip6_str(addr) == str(ipaddress.IPv6Address(addr))
    assert int(ipaddress.IPv6Address(ip6_str(addr))) == addr


def test_location_symbol() -> None:
    assert T.location_symbol("tcp_v4_rcv+0x91/0x13f0") == "tcp_v4_rcv"
    assert T.location_symbol("foo+0x1/0x2 [mod]") == "foo"
    assert T.location_symbol("tcp_v4_rcv") == "tcp_v4_rcv"


# (b) parse(format(x)) round-trips

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 2**32 - 1)
serial = st.integers(0, 2**40)
state = st.integers(1, 12)
ts = st.integers(0, 10**12).map(lambda us: us / 1e6)
reason = st.sampled_from(T.SK_RST_REASONS)
drop_reason = st.sampled_from(["NO_SOCKET", "OTHERHOST", "TCP_CSUM", "QUEUE_PURGE"])

events = st.one_of(
    st.builds(T.inet_sock_set_state, ts, serial, state, state, u16, u16, u32, u32),
    st.builds(T.tcp_retransmit_skb, ts, serial, serial, state, u16, u16, u32, u32,
              st.integers(-200, 0)),
    st.builds(T.tcp_retransmit_synack, ts, serial, serial, u16, u16, u32, u32),
    st.builds(T.tcp_send_reset, ts, serial, serial, st.integers(0, 12), reason, u16, u16,
              u32, u32),
    st.builds(T.tcp_receive_reset, ts, serial, u16, u16, u32, u32, st.integers(0, 2**64 - 1)),
    st.builds(T.tcp_destroy_sock, ts, serial, u16, u16, u32, u32, st.integers(0, 2**64 - 1)),
    st.builds(T.kfree_skb, ts, serial, st.sampled_from(["tcp_v4_rcv+0x91/0x13f0", "x"]),
              st.sampled_from([T.ETH_P_IP, T.ETH_P_IPV6]), drop_reason, serial),
)
tasks = st.text("abcdefghijklmnopqrstuvwxyz0123456789/:_-<>", min_size=1, max_size=15)
flags = st.sampled_from([".....", "..s1.", "..s2.", "b..1.", "d.h2."])


@given(events, tasks, st.integers(0, 4194304), st.integers(0, 255), flags)
def test_parse_format_round_trip(ev: TraceEvent, task: str, pid: int, cpu: int,
                                 fl: str) -> None:
    line = format_trace_line(ev, task, pid, cpu, fl)
    back = parse_trace_line(line)
    assert back is not None, line
    assert (back.system, back.name, back.ts) == (ev.system, ev.name, ev.ts)
    assert back.fields == ev.printed_fields()
    assert (back.task, back.pid, back.cpu, back.flags) == (task, pid, cpu, fl)
    assert format_trace_line(back, task, pid, cpu, fl) == line


@given(st.sampled_from([T.TCP_RECEIVE_RESET, T.TCP_DESTROY_SOCK]), u16, u16, u32, u32,
       st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
def test_ipv6_events_round_trip(name: str, sport: int, dport: int, s4: int, d4: int,
                                s6: int, d6: int, cookie: int) -> None:
    ev = TraceEvent("tcp", name, 2.0, {
        "family": T.AF_INET6, "sport": sport, "dport": dport, "saddr": s4, "daddr": d4,
        "saddr_v6": s6, "daddr_v6": d6, "sock_cookie": cookie})
    back = parse_trace_line(format_trace_line(ev))
    assert back is not None and back.fields == ev.fields


# (d) the hub


def test_tracer_enabled_follows_subscriptions() -> None:
    tr = Tracer()
    assert tr.enabled is False
    u1 = tr.subscribe(lambda ev: None)
    assert tr.enabled is True
    u2 = tr.subscribe(lambda ev: None, {"tcp_send_reset"})
    u1()
    assert tr.enabled is True
    u1()  # idempotent
    assert tr.enabled is True
    u2()
    assert tr.enabled is False
    tr.emit(T.kfree_skb(1.0, 1, "x", T.ETH_P_IP, "NO_SOCKET"))  # nobody: fine


def test_emit_reaches_only_subscribers_of_that_event() -> None:
    tr = Tracer()
    rst: list[TraceEvent] = []
    drops_and_states: list[TraceEvent] = []
    every: list[TraceEvent] = []
    tr.subscribe(rst.append, {"tcp:tcp_send_reset"})
    tr.subscribe(drops_and_states.append, ["kfree_skb", "sock:inet_sock_set_state"])
    unsub_every = tr.subscribe(every.append)
    assert tr.wants("tcp_send_reset") and tr.wants("kfree_skb")
    assert tr.wants("tcp_destroy_sock")  # the catch-all subscriber
    e1 = T.tcp_send_reset(1.0, 1, 0, 0, "NO_SOCKET", 80, 1234, A, B)
    e2 = T.kfree_skb(1.0, 1, "tcp_v4_rcv", T.ETH_P_IP, "NO_SOCKET")
    e3 = T.inet_sock_set_state(1.0, 1, 7, 2, 0, 80, B, A)
    e4 = T.tcp_destroy_sock(1.0, 1, 80, 1234, A, B, 5)
    for e in (e1, e2, e3, e4):
        tr.emit(e)
    assert rst == [e1]
    assert drops_and_states == [e2, e3]
    assert every == [e1, e2, e3, e4]
    unsub_every()
    assert not tr.wants("tcp_destroy_sock")
    tr.emit(e4)
    assert every == [e1, e2, e3, e4]


def test_subscribe_rejects_unknown_events() -> None:
    tr = Tracer()
    for bad in ("tcp:nope", "sock:tcp_send_reset", "tcp_probe", "skb:kfree_skbs"):
        with pytest.raises(ValueError):
            tr.subscribe(lambda ev: None, {bad})
    assert tr.enabled is False


def test_unsubscribe_during_emit() -> None:
    tr = Tracer()
    seen: list[str] = []
    unsub: list[object] = []

    def once(ev: TraceEvent) -> None:
        seen.append("once")
        u = unsub[0]
        assert callable(u)
        u()

    unsub.append(tr.subscribe(once))
    tr.subscribe(lambda ev: seen.append("other"))
    ev = T.tcp_destroy_sock(1.0, 1, 80, 1234, A, B, 5)
    tr.emit(ev)
    tr.emit(ev)
    assert seen == ["once", "other", "other"]


def test_trace_writer() -> None:
    tr = Tracer()
    out = io.StringIO()
    tr.subscribe(TraceWriter(out, task="tuxtcp", pid=1, cpu=0, flags="..s1."), {"tcp_send_reset"})
    ev = T.tcp_send_reset(2.25, 1, 0, 0, "NO_SOCKET", 80, 1234, A, B)
    tr.emit(ev)
    tr.emit(T.kfree_skb(2.25, 1, "tcp_v4_rcv", T.ETH_P_IP, "NO_SOCKET"))
    assert out.getvalue() == format_trace_line(ev, "tuxtcp", 1, 0, "..s1.") + "\n"
    assert out.getvalue().endswith(
        f"tcp_send_reset: skbaddr={hashed_ptr(1):016x} skaddr=0000000000000000 "
        "src=198.18.0.1:80 dest=198.18.0.2:1234 state=UNKNOWN reason=NO_SOCKET\n")


# (c) the format files: the stored 6.18 ones always, the live ones as root


def split_formats(text: str) -> dict[str, str]:
    return {m.group(1): chunk for chunk in re.split(r"\n(?=name: )", text)
            if (m := re.match(r"name: (\w+)", chunk))}


def check_format(name: str, text: str) -> None:
    f = FORMATS[name]
    fields = [m.group(1) for m in re.finditer(r"field:[^;]*?(\w+)(?:\[\d+\])?;", text)]
    assert [x for x in fields if not x.startswith("common_")] == list(f.record)
    pf = text.split("print fmt: ", 1)[1].strip()
    m = re.match(r'"((?:[^"\\]|\\.)*)"', pf)
    assert m is not None
    assert m.group(1) == f.print_fmt
    rest = pf[m.end():]
    args: list[str] = []
    for a in re.findall(r"REC->(\w+)", rest):
        if not args or args[-1] != a:
            args.append(a)
    assert args == list(f.args)
    # the conversion of each argument is the kind the module prints it as
    convs = re.findall(r"%(?:p[A-Za-z0-9]*|[a-z]+)", f.print_fmt)
    expect = {"%p": T.K_PTR, "%hu": T.K_DEC, "%u": T.K_DEC, "%d": T.K_DEC, "%pI4": T.K_IP4,
              "%pI6c": T.K_IP6, "%llx": T.K_HEX, "%pISpc": T.K_TEXT, "%pS": T.K_SYMBOL}
    for conv, arg, kind in zip(convs, f.args, f.kinds, strict=True):
        if conv == "%s":
            assert kind in (T.K_FAMILY, T.K_PROTO, T.K_STATE, T.K_STATE0, T.K_TEXT), arg
        else:
            assert expect[conv] == kind, (name, arg, conv)
    # the symbol tables
    for chunk in rest.split("__print_symbolic(")[1:]:
        field = re.match(r"REC->(\w+)", chunk)
        assert field is not None
        pairs = re.findall(r'\{ ?(\w+), "(\w+)" ?\}', chunk.split("__print_symbolic(")[0])
        kind = f.kinds[f.args.index(field.group(1))]
        if kind == T.K_FAMILY:
            assert {int(k): v for k, v in pairs} == T.FAMILY_NAMES
        elif kind == T.K_PROTO:
            assert {int(k): v for k, v in pairs} == T.PROTOCOL_NAMES
        elif kind in (T.K_STATE, T.K_STATE0):
            table = [(k, v) for k, v in pairs]
            assert [v for _, v in table] == list(T.STATE_NAMES.values())
            for k, v in table:  # numbers, or the TCP_* macros named as printed
                assert k == v or T.STATE_NAMES[int(k)] == v
        elif name == T.TCP_SEND_RESET:
            assert [(int(k), v) for k, v in pairs] == list(enumerate(T.SK_RST_REASONS))
        else:
            assert name == T.KFREE_SKB and field.group(1) == "reason"
            assert {"NO_SOCKET", "OTHERHOST", "TCP_CSUM"} <= {v for _, v in pairs}
    if name == T.TCP_SEND_RESET:
        assert 'REC->state ? __print_symbolic(REC->state' in rest and ': "UNKNOWN"' in rest


def test_stored_formats_match_the_module() -> None:
    stored = split_formats(FORMAT_FILES)
    assert set(stored) == set(FORMATS)
    for name, text in stored.items():
        check_format(name, text)


@pytest.mark.root
def test_live_formats_match_the_module(netns_ok: None) -> None:
    from kernel_tracefs import tracefs_mounted

    with tracefs_mounted():
        for name, f in FORMATS.items():
            path = os.path.join(TRACEFS, "events", f.system, name, "format")
            with open(path) as fh:
                check_format(name, fh.read())


@pytest.mark.root
def test_live_capture_reprints_identically(netns_ok: None, tmp_path: Path) -> None:
    """A fresh capture of the scripted session: every line parses and reprints as is, and the
    session produced each event it is built to produce."""
    out = tmp_path / "trace.txt"
    script = Path(__file__).parent / "kernel_trace_capture.py"
    r = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = out.read_text().splitlines()
    seen: set[tuple[str, str]] = set()
    for line in lines:
        ev = parse_trace_line(line)
        assert ev is not None, line
        assert format_trace_line(ev, ev.task, ev.pid, ev.cpu, ev.flags) == line
        detail = ev.fields.get("reason", ev.fields.get("state", ""))
        seen.add((ev.name, str(detail)))
    for want in [("tcp_send_reset", "NO_SOCKET"), ("tcp_send_reset", "TCP_ABORT_ON_CLOSE"),
                 ("kfree_skb", "NO_SOCKET"), ("tcp_retransmit_skb", "1"),
                 ("tcp_retransmit_skb", "2"), ("tcp_retransmit_synack", ""),
                 ("tcp_receive_reset", ""), ("tcp_destroy_sock", ""),
                 ("inet_sock_set_state", "")]:
        assert want in seen, (want, sorted(seen))
