"""Target tuxtcp: a script runs against one tuxtcp namespace on a virtual clock.

The system calls go to tuxtcp's socket API, inbound packets are handed as raw IPv4 bytes to
the engine's checked receive path, and what the engine sends is checked by the shared runner
(runner.py). A script with a minute of timers runs in milliseconds.

A blocking call (`start...end call(...)`) is made as packetdrill's syscall thread makes it: the
socket API waits through this driver, which goes on with the script's packet, command and code
events (not its next system call) until the call can return; its return time is then checked
against `end`. A call that would wait for ever (packetdrill would hang) is reported after 600 s
of script time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..socket.api import Socket
from ..tcp.engine import Namespace
from ..tcp.mem import skmem
from .runner import SK_MEMINFO, Config, Pending, Result, ScriptRun, Unsupported
from .script import Event, Script, Syscall
from .shell import Shell
from .timing import ScriptError


class _Driver:
    """The socket API's driver: the virtual clock, descriptors, and waits that run the
    script on."""

    def __init__(self, run: TuxtcpRun) -> None:
        self.run = run
        self.fd = 2

    def now(self) -> float:
        return self.run.now / 1e6

    def kick(self, ns: Namespace) -> None:
        self.run.collect()

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        return self.run.wait(ready, timeout)

    def resolve(self, name: str) -> int | None:
        return None

    def alloc_fd(self) -> int:
        self.fd += 1
        return self.fd


class TuxtcpRun(ScriptRun):
    """One script on one fresh namespace, on the virtual clock."""

    target = "tuxtcp"
    icmp_ok = True  # through the checked receive path to icmp_rcv and tcp_v4_err

    def __init__(self, script: Script, config: Config | None = None) -> None:
        super().__init__(script, config)
        self.ns = Namespace("packetdrill", [self.cfg.local_ip], seed=self.cfg.seed)
        self.ns.clock.uptime0 += self.cfg.jiffy_phase_usecs / 1e6  # (uptime starts on an edge)
        self.driver = _Driver(self)
        self.now = 0  # microseconds of script time
        self.sent: list[tuple[int, bytes]] = []  # what the engine sent, not yet checked
        self.shell = Shell(self.ns.sysctl, self.ns.tcp_metrics, Path(script.path).parent)
        self.pending: Pending | None = None
        self.waiting: Callable[[], bool] | None = None  # what a blocked call waits for

    # -- the clock and the engine's output ---------------------------------------------------
    def clock(self) -> int:
        return self.now

    def collect(self) -> None:
        for p in self.ns.outbox:
            self.sent.append((self.now, p.to_bytes()))
        self.ns.outbox.clear()

    def advance(self, to: int, stop: Callable[[], bool] | None = None) -> bool:
        """Fire timers up to `to` (microseconds); True as soon as stop() holds (the clock then
        stays at that timer)."""
        for _ in range(10_000_000):
            nd = self.ns.next_deadline()
            if nd is None or nd * 1e6 > to + 1e-3:
                break
            self.now = max(self.now, round(nd * 1e6))
            self.ns.run_timers(nd)
            self.collect()
            if stop is not None and stop():
                return True
        self.now = max(self.now, to)
        return stop is not None and stop()

    def wait_until(self, t: int) -> None:
        if t > self.now:
            self.advance(t)

    def ready_before(self, t: int) -> bool:
        return self.waiting is not None and self.advance(t, self.waiting)

    def moved_to(self, t: int) -> None:
        self.now = max(self.now, t)

    def next_sent(self, deadline: int) -> tuple[int, bytes] | None:
        if not self.sent:
            self.advance(deadline, lambda: bool(self.sent))
        return self.sent.pop(0) if self.sent else None

    def inject(self, raw: bytes) -> None:
        self.ns.receive_bytes(raw, self.now / 1e6)
        self.collect()

    def after_call(self) -> None:
        self.collect()

    # -- blocking ----------------------------------------------------------------------------
    def blocking_call(self, p: Pending) -> None:
        sc = p.event.action
        assert isinstance(sc, Syscall)
        self.pending = p
        try:
            self.call(p.event, sc)
        finally:
            self.pending = None
        self.check_end(p, self.now)

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """The socket API blocks: go on with the script's non-syscall events (a blocking call
        marked with `...`), or only the timers, until ready() or the timeout."""
        end = None if timeout is None else self.now + round(timeout * 1e6)
        limit = self.now + self.stall_usecs if end is None else end
        blocking = self.pending is not None
        outer, self.waiting = self.waiting, ready
        try:
            events = self.script.events
            for _ in range(1_000_000):
                if ready():
                    return True
                if (blocking and self.i < len(events)
                        and not isinstance(events[self.i].action, Syscall)
                        and (end is None or self.now < end)):
                    self.step(syscalls=False)
                    continue
                if self.advance(limit, ready):
                    return True
                if end is None:
                    ev = events[self.i - 1] if self.i else events[0]
                    raise ScriptError(ev.line, f"a call blocks and nothing in the script wakes "
                                      f"it (waited {self.stall_usecs // 1_000_000} s of "
                                      "script time)")
                return False
            return ready()
        finally:
            self.waiting = outer

    # -- sockets -----------------------------------------------------------------------------
    def new_socket(self, family: int, type: int, proto: int) -> Any:
        return Socket(self.ns, self.driver, family, type, proto)

    def listen(self, s: Any, backlog: int) -> None:
        s.listen_raw(backlog)  # listen(2) itself: no CPython clamping

    def is_listening(self, s: Any) -> bool:
        return bool(s.state == "LISTEN")

    def recv_queue(self, s: Any) -> int:
        if s.state == "LISTEN":
            raise OSError(22, "Invalid argument")  # tcp_ioctl on a listener: EINVAL
        return int(s.tcp_info().recv_queue)

    def info_values(self, s: Any) -> dict[str, int]:
        info = s.tcp_info()
        values = {n: getattr(info, n) for n in dir(info) if n.startswith("tcpi_")}
        for n, v in zip(SK_MEMINFO, skmem(s.sk), strict=True):
            values["SK_MEMINFO_" + n] = v
        return values

    def fast_open(self, ev: Event) -> None:
        raise Unsupported(ev.line, "TCP Fast Open is not implemented in tuxtcp")

    # -- shell -------------------------------------------------------------------------------
    def run_command(self, text: str) -> None:
        self.shell.run(text)

    def unmodelled(self) -> dict[str, str]:
        return dict(self.shell.unmodelled)


def run_tuxtcp(script: Script, config: Config | None = None) -> Result:
    return TuxtcpRun(script, config).run()


__all__ = ["Config", "Result", "TuxtcpRun", "run_tuxtcp"]
