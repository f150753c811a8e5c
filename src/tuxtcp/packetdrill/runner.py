"""What both packetdrill targets share (run.c, run_packet.c, run_system_call.c): the event
loop with packetdrill's schedule and tolerance, the flow of the socket under test, inbound
packets built and outbound packets checked with its rules (packets.py), the system calls with
its fd mapping and result checks, shell lines, and code blocks (TCP_INFO and SO_MEMINFO as
they were at their event, run once the script is over). A target supplies the clock, the
packet I/O, sockets and how a blocking call waits."""

from __future__ import annotations

import errno as errno_mod
import os
import socket as pysocket
import struct
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ..net.sysctl_specs import HZ
from . import packets as pk
from .script import (
    BitOr,
    Call,
    Code,
    Command,
    Ellipsis_,
    Event,
    Expr,
    IcmpPacket,
    Int,
    List,
    Script,
    Str,
    Struct,
    Syscall,
    TcpPacket,
    UdpPacket,
    Word,
)
from .shell import CommandFailed, UnsupportedCommand
from .symbols import errno_value, symbol
from .timing import TOLERANCE_PERCENT, TOLERANCE_USECS, Due, ScriptError, resolve, tolerance
from .timing import verify_time as check_time

LOCAL_IP: Final = "198.18.0.1"
REMOTE_IP: Final = "198.18.1.1"
GATEWAY_IP: Final = "198.18.0.2"
BIND_PORT: Final = 8080
CONNECT_PORT: Final = 8080
# Where in a 4 ms jiffy (HZ=250) script time 0 lies, on both targets: whatever the kernel
# counts in jiffies (CUBIC's epoch and last update, the timer wheel) sees the same jiffy on
# both, run after run, instead of wherever the kernel target's start happened to fall.
# Mid-jiffy by default: instants at whole multiples of 4 ms lie 2.25 ms after an edge, 1.75 ms
# before the next. `--jiffy_phase_usecs=N` (this project's option) moves it: at 0-999 us,
# cubic-loss-concave-convex.pkt fails on both targets alike (cwnd 33 for 32 at 2.403 s: the
# ACK that ends a round meets a jiffy CUBIC has not computed its cnt in).
JIFFY_PHASE_USECS: Final = 2250
JIFFY_USECS: Final = 1_000_000 // HZ  # the range --jiffy_phase_usecs takes
SK_MEMINFO: Final = ("RMEM_ALLOC", "RCVBUF", "WMEM_ALLOC", "SNDBUF", "FWD_ALLOC", "WMEM_QUEUED",
                     "OPTMEM", "BACKLOG", "DROPS")
TCP_STATES: Final = ("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
                     "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING")
CA_STATES: Final = ("Open", "Disorder", "CWR", "Recovery", "Loss")
MSG_FASTOPEN: Final = 0x20000000


class Unsupported(ScriptError):
    """The script needs something the target does not have (named in the message)."""


@dataclass
class Config:
    local_ip: str = LOCAL_IP
    remote_ip: str = REMOTE_IP
    gateway_ip: str = GATEWAY_IP
    tolerance_usecs: int = TOLERANCE_USECS
    tolerance_percent: float = TOLERANCE_PERCENT
    tcp_ts_tick_usecs: int = 0
    bind_port: int = BIND_PORT
    connect_port: int = CONNECT_PORT
    tcp_ts_ecr_scaled: bool = False
    seed: int = 1
    jiffy_phase_usecs: int = JIFFY_PHASE_USECS
    error: str | None = None  # an option's value that could not be taken (the run fails)

    def apply(self, options: list[tuple[str, str | None]]) -> None:
        """Script `--name=value` lines (the command line's, applied after, win)."""
        for name, value in options:
            if name == "tcp_ts_ecr_scaled":
                self.tcp_ts_ecr_scaled = value in (None, "1", "true")
            if value is None:
                continue
            try:
                if name in ("tolerance_usecs", "tcp_ts_tick_usecs", "bind_port", "connect_port"):
                    setattr(self, name, int(value))
                elif name == "jiffy_phase_usecs":
                    if not 0 <= int(value) < JIFFY_USECS:
                        raise ValueError(f"0 to {JIFFY_USECS - 1} (a jiffy)")
                    self.jiffy_phase_usecs = int(value)
                elif name == "tolerance_percent":
                    self.tolerance_percent = float(value)
            except ValueError as e:
                self.error = f"--{name}={value}: {e}"
            # --local_ip and friends: this project's addresses (198.18.0.0/15) are kept


@dataclass
class Result:
    path: str
    target: str
    passed: bool
    error: str = ""
    unmodelled: dict[str, str] = field(default_factory=dict)
    script_seconds: float = 0.0  # the script's own clock at the end
    wall_seconds: float = 0.0
    # every packet injected (<) and sniffed (>), as packetdrill --verbose prints them
    packets: list[str] = field(default_factory=list)

    def line(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        out = f"{status} [{self.target}] {self.path} ({self.wall_seconds:.3f} s)"
        return out + ("\n  " + self.error if self.error else "")


@dataclass
class Pending:
    """A blocking call under way: its event and when it is due to return."""

    event: Event
    due_end: int | None
    start_due: int


class ScriptRun:
    """One script on one target. Subclasses supply the hooks at the end."""

    target = "?"
    stall_usecs = 600_000_000  # how long past its due time an outbound packet is waited for
    icmp_ok = False  # inbound ICMP errors can be injected

    def __init__(self, script: Script, config: Config | None = None) -> None:
        self.script = script
        self.cfg = config or Config()
        self.cfg.apply(script.options)
        self.fds: dict[int, Any] = {}
        self.listener: Any = None
        self.under_test: Any = None
        self.seq = pk.SeqState()
        self.local = pysocket.inet_aton(self.cfg.local_ip)
        self.remote = pysocket.inet_aton(self.cfg.remote_ip)
        self.live_local_port: int | None = None
        self.live_remote_port: int | None = None
        self.code: list[tuple[int, dict[str, int], str]] = []
        self.i = 0  # the next event
        self.last_due: Due | None = None
        self.last_inbound = False
        self.flow_open = False  # the script's remote end has a flow to the socket under test
        self.uses_fast_open = False  # a Fast Open option or SYN data in a script packet
        self.ephemeral = 40000 + (self.cfg.seed * 7919) % 20000
        self.packets: list[str] = []

    def run(self) -> Result:
        t0 = time.perf_counter()
        res = Result(self.script.path, self.target, True)
        try:
            if self.cfg.error is not None:
                raise ScriptError(1, self.cfg.error)
            if self.script.init_command is not None:
                self.command(self.script.init_command.text, 0, init=True)
            self.start()
            events = self.script.events
            if events and events[0].timing.kind == "absolute" and events[0].timing.usecs != 0:
                raise ScriptError(events[0].line, "first event should be at time 0")
            while self.i < len(events):
                self.step()
            self.finish()
            if self.script.cleanup_command is not None:
                self.command(self.script.cleanup_command.text, 0, init=True)
            self.run_code()
        except ScriptError as e:
            res.passed = False
            res.error = f"{self.script.path}:{e.line}: {e.message}"
            if self.uses_fast_open and self.target == "tuxtcp" and "Fast Open" not in e.message:
                res.error += "\n  (the script uses TCP Fast Open, which tuxtcp does not implement)"
        except Exception as e:  # a bug of the runner: reported as the script's failure
            res.passed = False
            res.error = (f"{self.script.path}:{self.script.events[max(self.i - 1, 0)].line}: "
                         f"internal error: {type(e).__name__}: {e}")
        finally:
            self.close()
        res.unmodelled = self.unmodelled()
        res.packets = self.packets
        res.script_seconds = self.clock() / 1e6
        res.wall_seconds = time.perf_counter() - t0
        return res

    def step(self, syscalls: bool = True) -> bool:
        """Run the next event; False (and nothing done) when it is a system call and
        `syscalls` is off (a blocking call is still under way)."""
        ev = self.script.events[self.i]
        a = ev.action
        if isinstance(a, TcpPacket) and "S" in a.flags and (
                a.length or any(o.kind in ("FO", "FOEXP") for o in a.options or ())):
            self.uses_fast_open = True
        packet = isinstance(a, TcpPacket | IcmpPacket | UdpPacket)
        inbound = packet and a.direction == "<"  # type: ignore[union-attr]
        outbound = packet and not inbound
        if isinstance(a, Syscall) and not syscalls:
            return False
        anchor = (self.last_due.start if self.last_due is not None and inbound
                  and self.last_inbound else self.clock())
        if self.last_due is not None and ev.timing.kind == "absolute" and \
                ev.timing.usecs < self.last_due.start and self.last_due.kind == "absolute":
            raise ScriptError(ev.line, f"time goes backward in script from "
                              f"{self.last_due.start} usec to {ev.timing.usecs} usec")
        due = resolve(ev.timing, anchor)
        if not outbound and due.start > self.clock() and self.ready_before(due.start):
            return True  # a timer readied the blocked call first: the event waits for later
        tol = tolerance(due.start, None if self.last_due is None else self.last_due.start,
                        self.cfg.tolerance_usecs, self.cfg.tolerance_percent)
        self.i += 1
        if isinstance(a, TcpPacket) and outbound:
            self.outbound(ev, a, due, tol)
        elif isinstance(a, TcpPacket):
            # the packet is built first, so it leaves on time: built after the wait, a
            # kernel-target packet went in about a millisecond late, enough to land in the
            # next jiffy (CUBIC then computed another cwnd)
            raw = self.inbound_bytes(ev, a)
            self.wait_until(due.start)
            self.check(ev, due, tol, "inbound packet")
            self.inject(raw)
            self.packets.append(f"{self.clock() / 1e6:9.6f} < {_script_text(a)}")
        elif isinstance(a, IcmpPacket) and inbound and self.icmp_ok:
            self.wait_until(due.start)
            self.check(ev, due, tol, "inbound packet")
            self.inbound_icmp(ev, a)
        elif isinstance(a, IcmpPacket | UdpPacket):
            kind = "ICMP" if isinstance(a, IcmpPacket) else "UDP"
            raise Unsupported(ev.line, f"{kind} packets are not supported by target "
                              f"{self.target} (TCP only)")
        elif isinstance(a, Syscall):
            self.syscall(ev, a, due, tol)
        elif isinstance(a, Command):
            self.wait_until(due.start)
            self.check(ev, due, tol, "command")
            self.command(a.text, ev.line)
        elif isinstance(a, Code):
            self.wait_until(due.start)
            self.check(ev, due, tol, "data collection for code")
            self.capture(ev, a)
        self.last_due = due
        self.last_inbound = inbound
        return True


    def check(self, ev: Event, due: Due, tol: int, what: str) -> None:
        err = check_time(due, self.clock(), tol, what)
        if err:
            raise ScriptError(ev.line, err)


    # -- packets -----------------------------------------------------------------------------
    def inbound_bytes(self, ev: Event, p: TcpPacket) -> bytes:
        """A script packet as it will go in (opening the script's flow on its first one)."""
        if not self.flow_open and (self.under_test is None or
                                   self.is_listening(self.under_test)):
            # handle_listen_for_script_packet: a new flow from the remote's ephemeral port
            self.flow_open = True
            if self.listener is None and self.under_test is not None:
                self.listener = self.under_test
            self.ephemeral += 1
            self.live_remote_port = self.ephemeral
            lport = self.under_test.getsockname()[1] if self.under_test is not None else 0
            self.live_local_port = lport or self.cfg.bind_port
        if self.live_local_port is None or self.live_remote_port is None:
            raise ScriptError(ev.line, "no matching socket for script packet")
        sport = p.sport or self.live_remote_port
        dport = p.dport or self.live_local_port
        try:
            raw = pk.build_inbound(p, self.seq, self.remote, self.local, sport, dport,
                                   self.cfg.tcp_ts_ecr_scaled)
        except pk.PacketMismatch as e:
            raise ScriptError(ev.line, f"error handling packet: {e}") from None
        return raw


    def own_port(self) -> int | None:
        """The local port of the socket under test, once connect() or a Fast Open send has
        bound one (None before, or when it cannot be read)."""
        s = self.under_test
        if s is None:
            return None
        try:
            port = s.getsockname()[1]
        except OSError:
            return None
        return int(port) or None

    def inbound_icmp(self, ev: Event, p: IcmpPacket) -> None:
        if self.live_local_port is None or self.live_remote_port is None:
            raise ScriptError(ev.line, "no matching socket for script packet")
        try:
            raw = pk.build_icmp(p.type, p.code, p.mtu, p.echoed, self.seq, self.remote,
                                self.local, self.live_remote_port, self.live_local_port)
        except pk.PacketMismatch as e:
            raise ScriptError(ev.line, f"error handling packet: {e}") from None
        self.inject(raw)

    def outbound(self, ev: Event, p: TcpPacket, due: Due, tol: int) -> None:
        latest = (due.end if due.end is not None else due.start) + tol
        while True:
            # packetdrill sniffs without a timeout; here a bound keeps the run finite
            got = self.next_sent(latest + self.stall_usecs)
            if got is None:
                raise ScriptError(ev.line, f"error handling packet: expected outbound packet "
                                  f"at {due.start / 1e6:.6f} sec but the stack sent nothing up "
                                  f"to {self.clock() / 1e6:.6f} sec")
            t, raw = got
            w = pk.Wire.parse(raw)
            if (w.flags & 0x02 and not w.flags & 0x10 and w.dport == self.cfg.connect_port
                    and self.own_port() in (None, w.sport)):
                # find_connect_for_live_packet: our SYN gives the flow's local port (a SYN
                # from another port is an earlier socket's retransmission: passed over)
                self.live_local_port, self.live_remote_port = w.sport, w.dport
                break
            if (w.sport, w.dport) == (self.live_local_port, self.live_remote_port):
                break
            # sniff_outbound_live_packet: a packet of another flow (an old connection's RST)
            # is not the socket under test's: passed over
        # aggregation: smaller segments make up the script's one (non-strict segments)
        while len(w.payload) < p.length:
            more = self.next_sent(latest + self.stall_usecs)
            if more is None:
                break
            w = _merge(w, pk.Wire.parse(more[1]))
        self.packets.append(f"{t / 1e6:9.6f} > {pk.describe(w, self.seq)}")
        try:
            pk.check_outbound(p, w, self.seq, self.cfg.tcp_ts_tick_usecs,
                              self.cfg.tolerance_usecs)
        except pk.PacketMismatch as e:
            raise ScriptError(ev.line, f"error handling packet: {e}\n"
                              f"script packet: {due.start / 1e6:9.6f} {_script_text(p)}\n"
                              f"actual packet: {t / 1e6:9.6f} {pk.describe(w, self.seq)}"
                              ) from None
        err = check_time(due, t, tol, "outbound packet")
        if err:
            raise ScriptError(ev.line, err)
        self.moved_to(t)


    # -- system calls ------------------------------------------------------------------------
    def syscall(self, ev: Event, sc: Syscall, due: Due, tol: int) -> None:
        self.before_syscall()
        self.wait_until(due.start)
        self.check(ev, due, tol, "system call start")
        if sc.end_usecs is None:
            self.call(ev, sc)
            return
        end = sc.end_usecs + (due.offset if ev.timing.kind == "relative" else 0)
        self.blocking_call(Pending(ev, end, due.start))

    def check_end(self, p: Pending, returned: int) -> None:
        if p.due_end is None:
            return
        tol = max(self.cfg.tolerance_usecs,
                  int(self.cfg.tolerance_percent / 100 * (p.due_end - p.start_due)))
        err = check_time(Due(p.due_end, None, "absolute", 0), returned, tol,
                         "system call return")
        if err:
            raise ScriptError(p.event.line, err)


    def call(self, ev: Event, sc: Syscall) -> None:
        handler = getattr(self, "sys_" + sc.name, None)
        if handler is None:
            raise ScriptError(ev.line, f"Unknown system call: '{sc.name}'")
        want = self.value(ev, sc.result)
        try:
            result = handler(ev, sc)
            err = 0
        except OSError as e:
            result, err = -1, e.errno or errno_mod.EIO
        self.after_call()
        if sc.name in ("socket", "accept") and isinstance(want, int) and want >= 0:
            if result < 0:
                raise ScriptError(ev.line, f"runtime error in {sc.name} call: Expected "
                                  f"non-negative result but got {result} with errno {err} "
                                  f"({os.strerror(err)})")
        elif result != want:
            raise ScriptError(ev.line, f"runtime error in {sc.name} call: Expected result "
                              f"{want} but got {result} with errno {err} ({os.strerror(err)})")
        if sc.errno is not None:
            code = errno_value(sc.errno)
            if code is None:
                raise ScriptError(ev.line, f"unknown errno symbol {sc.errno}")
            if code != err:
                raise ScriptError(ev.line, f"runtime error in {sc.name} call: Expected errno "
                                  f"{code} ({os.strerror(code)}) but got {err} "
                                  f"({os.strerror(err) if err else 'Success'})")

    # argument helpers
    def value(self, ev: Event, e: Expr) -> int:
        if isinstance(e, Int):
            return e.value
        if isinstance(e, Word):
            v = symbol(e.name)
            if v is None:
                raise Unsupported(ev.line, f"unknown symbol {e.name}")
            return v
        if isinstance(e, List) and len(e.items) == 1:
            return self.value(ev, e.items[0])
        if isinstance(e, BitOr):
            return self.value(ev, e.lhs) | self.value(ev, e.rhs)
        raise Unsupported(ev.line, f"expression {e} where a number is expected")

    def sock(self, ev: Event, e: Expr) -> Any:
        fd = self.value(ev, e)
        s = self.fds.get(fd)
        if s is None:
            raise ScriptError(ev.line, f"unable to find fd with script fd {fd}")
        return s

    def args(self, ev: Event, sc: Syscall, n: int) -> tuple[Expr, ...]:
        if len(sc.args) != n:
            raise ScriptError(ev.line, f"{sc.name}() takes {n} arguments, the script gives "
                              f"{len(sc.args)}")
        return sc.args

    def new_fd(self, ev: Event, sc: Syscall, s: Any) -> int:
        want = self.value(ev, sc.result)
        if want < 0:
            return s.fileno()
        self.fds[want] = s  # a script fd already in use now names the new socket
        return want

    # the system calls (run_system_call.c's table, as far as TCP over IPv4 goes)
    def sys_socket(self, ev: Event, sc: Syscall) -> int:
        dom, typ, proto = self.args(ev, sc, 3)
        family = pysocket.AF_INET if isinstance(dom, Ellipsis_) else self.value(ev, dom)
        s = self.new_socket(family, self.value(ev, typ), self.value(ev, proto))
        self.under_test = s
        # a new socket under test: packets of earlier flows are no longer the script's
        self.flow_open = False
        self.live_local_port = self.live_remote_port = None
        return self.new_fd(ev, sc, s)

    def sys_bind(self, ev: Event, sc: Syscall) -> int:
        fd, addr, _ = self.args(ev, sc, 3)
        s = self.sock(ev, fd)
        s.bind(self.sockaddr(ev, addr, self.cfg.local_ip, self.cfg.bind_port))
        return 0

    def sys_listen(self, ev: Event, sc: Syscall) -> int:
        fd, backlog = self.args(ev, sc, 2)
        s = self.sock(ev, fd)
        self.listen(s, self.value(ev, backlog))
        self.listener = s
        return 0

    def sys_accept(self, ev: Event, sc: Syscall) -> int:
        fd = self.args(ev, sc, 3)[0]
        child, _ = self.sock(ev, fd).accept()
        self.after_accept(child)
        self.under_test = child
        return self.new_fd(ev, sc, child)

    def sys_connect(self, ev: Event, sc: Syscall) -> int:
        fd, addr, _ = self.args(ev, sc, 3)
        s = self.sock(ev, fd)
        if isinstance(addr, Word | Int) and self.value(ev, addr) == pysocket.AF_UNSPEC:
            self.disconnect(ev, s)  # connect(AF_UNSPEC): tcp_disconnect
            self.flow_open = False
            return 0
        s.connect(self.sockaddr(ev, addr, self.cfg.remote_ip, self.cfg.connect_port))
        return 0

    def sys_sendmsg(self, ev: Event, sc: Syscall) -> int:
        fd, msg, flags = self.args(ev, sc, 3)
        if not isinstance(msg, Struct):
            raise Unsupported(ev.line, f"sendmsg message {msg}")
        iov = msg.fields().get("msg_iov")
        if not isinstance(iov, List):
            raise Unsupported(ev.line, "sendmsg without msg_iov=[{..., LEN}, ...]")
        buffers = []
        for item in iov.items:
            if not (isinstance(item, Struct) and len(item.items) == 2):
                raise Unsupported(ev.line, f"iovec {item}")
            buffers.append(bytes(self.value(ev, item.items[1])))
        fl = self.value(ev, flags)
        s = self.sock(ev, fd)
        if fl & MSG_FASTOPEN:
            self.fast_open(ev)
            return int(s.sendmsg(buffers, [], fl, (self.cfg.remote_ip, self.cfg.connect_port)))
        if not hasattr(s, "sendmsg"):  # tuxtcp's socket API: one send of the gathered bytes
            return int(s.send(b"".join(buffers), fl))
        return int(s.sendmsg(buffers, [], fl))

    def sys_poll(self, ev: Event, sc: Syscall) -> int:
        fds, _, timeout = self.args(ev, sc, 3)
        if not isinstance(fds, List):
            raise Unsupported(ev.line, f"poll fds {fds}")
        want: list[tuple[Any, int, int]] = []
        for item in fds.items:
            f = item.fields() if isinstance(item, Struct) else {}
            if "fd" not in f or "events" not in f:
                raise Unsupported(ev.line, f"pollfd {item}")
            revents = self.value(ev, f["revents"]) if "revents" in f else 0
            want.append((self.sock(ev, f["fd"]), self.value(ev, f["events"]), revents))
        got = self.poll(ev, [(s, events) for s, events, _ in want], self.value(ev, timeout))
        for (_, _, expected), actual in zip(want, got, strict=True):
            if expected != actual:
                raise ScriptError(ev.line, f"runtime error in poll call: Expected revents "
                                  f"{expected:#x} but got {actual:#x}")
        return sum(1 for r in got if r)

    def sys_close(self, ev: Event, sc: Syscall) -> int:
        fd = self.value(ev, self.args(ev, sc, 1)[0])
        s = self.fds.pop(fd, None)
        if s is None:
            raise OSError(errno_mod.EBADF, "bad fd")
        s.close()
        return 0

    def sys_shutdown(self, ev: Event, sc: Syscall) -> int:
        fd, how = self.args(ev, sc, 2)
        self.sock(ev, fd).shutdown(self.value(ev, how))
        return 0

    def sys_setsockopt(self, ev: Event, sc: Syscall) -> int:
        fd, level, name, val, _ = self.args(ev, sc, 5)
        s = self.sock(ev, fd)
        opt: int | bytes
        if isinstance(val, Struct):
            f = val.fields()
            if set(f) != {"onoff", "linger"}:
                raise Unsupported(ev.line, f"setsockopt value {val}")
            opt = struct.pack("ii", self.value(ev, f["onoff"]), self.value(ev, f["linger"]))
        elif isinstance(val, Str):
            opt = val.value.encode("latin-1")  # the bytes as C escapes wrote them
        else:
            opt = self.value(ev, val)
        lvl, nm = self.value(ev, level), self.value(ev, name)
        if lvl == pysocket.IPPROTO_TCP and nm in (33, 30, 23):
            self.fast_open(ev)
        s.setsockopt(lvl, nm, opt)
        return 0

    def sys_getsockopt(self, ev: Event, sc: Syscall) -> int:
        fd, level, name, val, _ = self.args(ev, sc, 5)
        got = self.sock(ev, fd).getsockopt(self.value(ev, level), self.value(ev, name))
        if isinstance(val, List) and not isinstance(got, bytes):
            want = self.value(ev, val)
            if want != got:
                raise ScriptError(ev.line, f"runtime error in getsockopt call: Bad getsockopt "
                                  f"optval: expected: {want} actual: {got}")
        return 0

    def sys_read(self, ev: Event, sc: Syscall) -> int:
        fd, _, n = self.args(ev, sc, 3)
        return len(self.sock(ev, fd).recv(self.value(ev, n)))

    def sys_recv(self, ev: Event, sc: Syscall) -> int:
        fd, _, n, flags = self.args(ev, sc, 4)
        return len(self.sock(ev, fd).recv(self.value(ev, n), self.value(ev, flags)))

    def sys_write(self, ev: Event, sc: Syscall) -> int:
        fd, _, n = self.args(ev, sc, 3)
        return self.sock(ev, fd).send(bytes(self.value(ev, n)))

    def sys_send(self, ev: Event, sc: Syscall) -> int:
        fd, _, n, flags = self.args(ev, sc, 4)
        fl = self.value(ev, flags)
        if fl & MSG_FASTOPEN:
            self.fast_open(ev)
        return self.sock(ev, fd).send(bytes(self.value(ev, n)), fl)

    def sys_sendto(self, ev: Event, sc: Syscall) -> int:
        fd, _, n, flags, addr, _ = self.args(ev, sc, 6)
        fl = self.value(ev, flags)
        s = self.sock(ev, fd)
        data = bytes(self.value(ev, n))
        if fl & MSG_FASTOPEN:
            self.fast_open(ev)
            if isinstance(addr, Word | Int) and self.value(ev, addr) == pysocket.AF_UNSPEC:
                return self.sendto_unspec(ev, s, data, fl)
            return int(s.sendto(data, fl, self.sockaddr(ev, addr, self.cfg.remote_ip,
                                                         self.cfg.connect_port)))
        return int(s.send(data, fl))

    def sys_epoll_create(self, ev: Event, sc: Syscall) -> int:
        self.args(ev, sc, 1)
        return self.new_fd(ev, sc, self.epoll_create(ev))

    def sys_epoll_ctl(self, ev: Event, sc: Syscall) -> int:
        epfd, op, fd, event = self.args(ev, sc, 4)
        ep = self.sock(ev, epfd)
        s = self.sock(ev, fd)
        name = op.name if isinstance(op, Word) else ""
        events = 0
        if isinstance(event, Struct) and "events" in event.fields():
            events = self.value(ev, event.fields()["events"])
        if name == "EPOLL_CTL_ADD":
            ep.register(s.fileno(), events)
        elif name == "EPOLL_CTL_MOD":
            ep.modify(s.fileno(), events)
        elif name == "EPOLL_CTL_DEL":
            ep.unregister(s.fileno())
        else:
            raise Unsupported(ev.line, f"epoll_ctl operation {op}")
        return 0

    def sys_epoll_wait(self, ev: Event, sc: Syscall) -> int:
        epfd, event, maxevents, timeout = self.args(ev, sc, 4)
        ep = self.sock(ev, epfd)
        t = self.value(ev, timeout)
        got = ep.poll(t / 1000 if t >= 0 else -1, self.value(ev, maxevents))
        if got and isinstance(event, Struct):
            f = event.fields()
            want_events = self.value(ev, f["events"]) if "events" in f else None
            if want_events is not None and got[0][1] != want_events:
                raise ScriptError(ev.line, f"runtime error in epoll_wait call: Expected "
                                  f"events {want_events:#x} but got {got[0][1]:#x}")
        return len(got)

    def sys_fcntl(self, ev: Event, sc: Syscall) -> int:
        fd, cmd = sc.args[0], self.value(ev, sc.args[1])
        s = self.sock(ev, fd)
        if cmd == symbol("F_GETFL"):
            return os.O_RDWR | (0 if s.getblocking() else os.O_NONBLOCK)
        if cmd == symbol("F_SETFL") and len(sc.args) == 3:
            s.setblocking(not self.value(ev, sc.args[2]) & os.O_NONBLOCK)
            return 0
        raise Unsupported(ev.line, f"fcntl command {sc.args[1]}")

    def sys_ioctl(self, ev: Event, sc: Syscall) -> int:
        fd, req, val = self.args(ev, sc, 3)
        s = self.sock(ev, fd)
        if self.value(ev, req) != symbol("SIOCINQ"):
            raise Unsupported(ev.line, f"ioctl request {req}")
        got = self.recv_queue(s)
        want = self.value(ev, val)
        if got != want:
            raise ScriptError(ev.line, f"runtime error in ioctl call: Bad ioctl optval: "
                              f"expected: {want} actual: {got}")
        return 0

    def sockaddr(self, ev: Event, e: Expr, ip: str, port: int) -> tuple[str, int]:
        if isinstance(e, Ellipsis_):
            return ip, port
        if isinstance(e, Struct):
            f = e.fields()
            p = f.get("sin_port")
            a = f.get("sin_addr")
            if isinstance(p, Call) and isinstance(a, Call) and p.args and a.args and \
                    isinstance(a.args[0], Str):
                return a.args[0].value, self.value(ev, p.args[0])
        raise Unsupported(ev.line, f"socket address {e}")

    # -- commands and code -------------------------------------------------------------------
    def command(self, text: str, line: int, init: bool = False) -> None:
        try:
            self.run_command(text)
        except UnsupportedCommand as e:
            raise Unsupported(line, str(e)) from None
        except CommandFailed as e:
            what = "init command" if init else f"`{text}` command"
            raise ScriptError(line, f"error executing {what}: {e}") from None

    def capture(self, ev: Event, code: Code) -> None:
        s = self.under_test
        if s is None:
            raise ScriptError(ev.line, "no socket to use for code")
        self.code.append((ev.line, self.info_values(s), code.text))

    def run_code(self) -> None:
        base: dict[str, object] = {f"TCP_{n}": i + 1 for i, n in enumerate(TCP_STATES)}
        base.update({f"TCP_CA_{n}": i for i, n in enumerate(CA_STATES)})
        base.update(TCPI_OPT_TIMESTAMPS=1, TCPI_OPT_SACK=2, TCPI_OPT_WSCALE=4, TCPI_OPT_ECN=8,
                    TCPI_OPT_ECN_SEEN=16, TCPI_OPT_SYN_DATA=32)
        scope: dict[str, object] = dict(base)
        for line, values, text in self.code:
            scope.update(values)
            try:
                exec(compile(text, f"{self.script.path}:{line}", "exec"), scope)  # noqa: S102
            except Exception as e:  # the script's own Python: any failure fails the script
                raise ScriptError(line, f"error in Python code: {type(e).__name__}: {e}"
                                  ) from None

    # -- what a target supplies ----------------------------------------------------------------
    def clock(self) -> int:
        """Script time now, in microseconds."""
        raise NotImplementedError

    def start(self) -> None:
        """The script's time 0 begins (after the init command)."""

    def finish(self) -> None:
        """After the last event (a blocking call still under way ends here)."""

    def close(self) -> None:
        """Give back what the run holds (sockets, devices)."""

    def wait_until(self, t: int) -> None:
        raise NotImplementedError

    def ready_before(self, t: int) -> bool:
        """While a call blocks: True when it becomes ready before script time `t`."""
        return False

    def moved_to(self, t: int) -> None:
        """An outbound packet was taken at `t`."""

    def next_sent(self, deadline: int) -> tuple[int, bytes] | None:
        """The next packet the stack sent (script time, IPv4 bytes), waiting up to
        `deadline`; None if nothing came."""
        raise NotImplementedError

    def inject(self, raw: bytes) -> None:
        raise NotImplementedError

    def blocking_call(self, p: Pending) -> None:
        raise NotImplementedError

    def after_call(self) -> None:
        """After each system call."""

    def before_syscall(self) -> None:
        """Before a system call event (a blocking call still under way is waited for)."""

    def after_accept(self, child: Any) -> None:
        """A socket accept() returned."""

    def new_socket(self, family: int, type: int, proto: int) -> Any:
        raise NotImplementedError

    def listen(self, s: Any, backlog: int) -> None:
        raise NotImplementedError

    def is_listening(self, s: Any) -> bool:
        raise NotImplementedError

    def recv_queue(self, s: Any) -> int:
        """SIOCINQ."""
        raise NotImplementedError

    def info_values(self, s: Any) -> dict[str, int]:
        """tcpi_* and SK_MEMINFO_* of `s`, now."""
        raise NotImplementedError

    def run_command(self, text: str) -> None:
        raise NotImplementedError

    def unmodelled(self) -> dict[str, str]:
        return {}

    def fast_open(self, ev: Event) -> None:
        """A Fast Open call or option: supported, or Unsupported naming it."""

    def epoll_create(self, ev: Event) -> Any:
        raise Unsupported(ev.line, f"epoll on target {self.target}")

    def sendto_unspec(self, ev: Event, s: Any, data: bytes, flags: int) -> int:
        raise Unsupported(ev.line, f"sendto() to an AF_UNSPEC address on target {self.target}")

    def disconnect(self, ev: Event, s: Any) -> None:
        """connect(fd, AF_UNSPEC): back to an unconnected socket."""
        raise Unsupported(ev.line, f"connect(AF_UNSPEC) on target {self.target}")

    def poll(self, ev: Event, fds: list[tuple[Any, int]], timeout_ms: int) -> list[int]:
        """poll(2): the revents of each (socket, events)."""
        raise Unsupported(ev.line, f"poll() on target {self.target}")


def _merge(a: pk.Wire, b: pk.Wire) -> pk.Wire:
    """Two segments as one (aggregate_packets): b's flags join a's, payloads concatenate."""
    return pk.Wire(a.src, a.dst, a.tos, a.ttl, a.total_length + len(b.payload), a.sport,
                   a.dport, a.seq, b.ack, a.doff, a.flags | b.flags, b.window, a.urg, a.options,
                   a.payload + b.payload)


def _script_text(p: TcpPacket) -> str:
    out = f"{p.flags or '-'} {p.seq}:{p.end_seq}({p.length})"
    if p.ack is not None:
        out += f" ack {p.ack}"
    if p.window is not None:
        out += f" win {p.window}"
    if p.options is None:
        out += " <...>"
    elif p.options:
        out += " <" + ",".join(o.kind + "".join(f" {v}" for v in o.values) for o in p.options)
        out += ">"
    return out
