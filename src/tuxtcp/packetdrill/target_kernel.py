"""Target kernel: a script runs against the host kernel, as packetdrill itself runs it.

A fresh network namespace holds a TUN device `tun0` with the local address (198.18.0.1/16;
the remote end, 198.18.1.1, is on its link). The run happens in a child process inside that
namespace: the system calls are made on real sockets, inbound packets are written to the TUN
device and the kernel's packets read from it, in real time. A blocking call runs on a thread
while the script goes on, as packetdrill's syscall thread does. The namespace, the device and
every socket go away with the run, also when it fails. Root only.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import select
import socket as pysocket
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any, Final

from ..host.netns import all_congestion_controls_allowed, available, loopback_ns
from ..host.tcpinfo import meminfo, tcp_info
from ..link.tun import Tun
from .parser import ParseError, parse_file
from .runner import JIFFY_USECS, SK_MEMINFO, Config, Pending, Result, ScriptRun
from .script import Event, Script, Syscall
from .shell import CommandFailed, git_symlink
from .timing import ScriptError

PREFIX: Final = 16
_libc: Final = ctypes.CDLL(None, use_errno=True)
_SCRIPT_WORD: Final = re.compile(r"(?<![\w/.])[\w./-]+\.(?:sh|py)\b")


class KernelRun(ScriptRun):
    """One script on the kernel of the namespace this process is in."""

    target = "kernel"
    icmp_ok = True
    stall_usecs = 5_000_000  # real time: a missing packet is given up 5 s after its window

    def __init__(self, script: Script, config: Config | None = None) -> None:
        super().__init__(script, config)
        self.folder = Path(script.path).resolve().parent  # the commands run there (cwd)
        self.t0 = time.monotonic_ns()
        self.tun: Tun | None = None
        self.pending: tuple[Pending, threading.Thread] | None = None
        self.pending_error: ScriptError | None = None
        self.pending_end = 0
        self.sockets: list[pysocket.socket] = []
        self._setup()

    def _setup(self) -> None:
        def sh(*args: str) -> None:
            subprocess.run(args, check=True, capture_output=True, timeout=30)

        for path, value in (("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1"),
                            ("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1")):
            if os.path.exists(path):
                Path(path).write_text(value)
        sh("ip", "link", "set", "lo", "up")
        self.tun = Tun("tun0", offload=True)  # packetdrill's device: TSO packets whole
        sh("ip", "addr", "add", f"{self.cfg.local_ip}/{PREFIX}", "dev", self.tun.name)
        sh("ip", "link", "set", self.tun.name, "up")

    # -- time and packets --------------------------------------------------------------------
    def start(self) -> None:
        self._drain()
        edge = jiffy_edge_ns()
        if edge is None:  # (times(2) did not move in 50 ms: start where we are)
            self.t0 = time.monotonic_ns()
        else:
            self.t0 = edge + self.cfg.jiffy_phase_usecs * 1000

    def _drain(self) -> None:
        assert self.tun is not None
        while self.tun.read(0) is not None:
            pass

    def clock(self) -> int:
        return (time.monotonic_ns() - self.t0) // 1000

    def wait_until(self, t: int) -> None:
        for _ in range(10_000_000):
            left = t - self.clock()
            if left <= 0:
                return
            if left > 2000:
                time.sleep((left - 1000) / 1e6)

    def next_sent(self, deadline: int) -> tuple[int, bytes] | None:
        assert self.tun is not None
        for _ in range(1_000_000):
            left = deadline - self.clock()
            if left < 0:
                return None
            raw = self.tun.read(left / 1e6)
            if raw is None:
                return None
            if len(raw) >= 20 and raw[0] >> 4 == 4 and raw[9] == 6:
                return self.clock(), raw
        return None

    def inject(self, raw: bytes) -> None:
        assert self.tun is not None
        self.tun.write(raw)

    # -- blocking calls on a thread ----------------------------------------------------------
    def blocking_call(self, p: Pending) -> None:
        self.join_pending()
        sc = p.event.action
        assert isinstance(sc, Syscall)

        tid: list[int] = []

        def body() -> None:
            tid.append(threading.get_native_id())
            try:
                self.call(p.event, sc)
            except ScriptError as e:
                self.pending_error = e
            self.pending_end = self.clock()

        th = threading.Thread(target=body, daemon=True)
        self.pending, self.pending_error = (p, th), None
        th.start()
        # packetdrill goes on once the syscall thread sleeps in the kernel (its state in
        # /proc/<pid>/task/<tid>/stat is S) or the call is over
        deadline = time.monotonic() + 1.0
        while th.is_alive() and time.monotonic() < deadline:
            if tid and _sleeping(tid[0]):
                break
            time.sleep(0)
        if not th.is_alive():
            self.join_pending()

    def join_pending(self, what: str = "blocking system call while another blocking system "
                     "call is already in progress") -> None:
        if self.pending is None:
            return
        p, th = self.pending
        th.join(1.0)
        if th.is_alive():
            raise ScriptError(p.event.line, what)
        self.pending = None
        if self.pending_error is not None:
            raise self.pending_error
        self.check_end(p, self.pending_end)

    def before_syscall(self) -> None:
        self.join_pending()

    def finish(self) -> None:
        self.join_pending("runtime error: exiting while a blocking system call is in progress")

    def close(self) -> None:
        for s in self.sockets:
            s.close()
        if self.tun is not None:
            self.tun.close()
        # packetdrill's set_sysctls.py leaves /tmp/sysctl_restore_${PACKETDRILL_PID}.sh for
        # the script's last line to run; what it restores lives in this run's namespace, which
        # goes away with it, so the file is only litter (hundreds after a CI run)
        Path(f"/tmp/sysctl_restore_{os.getpid()}.sh").unlink(missing_ok=True)

    # -- sockets -----------------------------------------------------------------------------
    def new_socket(self, family: int, type: int, proto: int) -> Any:
        s = pysocket.socket(family, type, proto)
        self.sockets.append(s)
        return s

    def after_accept(self, child: Any) -> None:
        self.sockets.append(child)

    def listen(self, s: Any, backlog: int) -> None:
        s.listen(backlog)

    def is_listening(self, s: Any) -> bool:
        try:
            return bool(s.getsockopt(pysocket.SOL_SOCKET, pysocket.SO_ACCEPTCONN))
        except OSError:
            return False  # closed

    def recv_queue(self, s: Any) -> int:
        raw = fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0\0\0\0")
        return int(struct.unpack("i", raw)[0])

    def info_values(self, s: Any) -> dict[str, int]:
        values = tcp_info(s)
        for n, v in zip(SK_MEMINFO, meminfo(s), strict=True):
            values["SK_MEMINFO_" + n] = v
        return values

    def fast_open(self, ev: Event) -> None:
        return  # the kernel has it

    def epoll_create(self, ev: Event) -> Any:
        ep = select.epoll()
        self.sockets.append(ep)  # type: ignore[arg-type]
        return ep

    def sendto_unspec(self, ev: Event, s: Any, data: bytes, flags: int) -> int:
        sa = struct.pack("=H14x", pysocket.AF_UNSPEC)
        n = _libc.sendto(s.fileno(), data, len(data), flags, sa, len(sa))
        if n < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return int(n)

    def disconnect(self, ev: Event, s: Any) -> None:
        sa = struct.pack("=H14x", pysocket.AF_UNSPEC)
        if _libc.connect(s.fileno(), sa, len(sa)) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    def poll(self, ev: Event, fds: list[tuple[Any, int]], timeout_ms: int) -> list[int]:
        p = select.poll()
        for s, events in fds:
            p.register(s.fileno(), events)
        ready = dict(p.poll(timeout_ms))
        return [ready.get(s.fileno(), 0) for s, _ in fds]

    def _interpreter(self, m: re.Match[str]) -> str:
        return _runnable(self.folder, m.group(0))

    # -- shell -------------------------------------------------------------------------------
    def run_command(self, text: str) -> None:
        env = dict(os.environ, PACKETDRILL_PID=str(os.getpid()))
        text = _SCRIPT_WORD.sub(self._interpreter, text)
        r = subprocess.run(["/bin/sh", "-c", text], cwd=self.folder, env=env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            raise CommandFailed(f"non-zero status {r.returncode}")


# how closely a jiffy edge must be bracketed by the clock reads around the times(2) call that
# saw it to be trusted: the tick's interrupt lands in that call (brackets of 30 us typically,
# 70 us at the 90th percentile, measured on this VM); a wider one was a preemption
EDGE_BRACKET_NS: Final = 250_000


def jiffy_edge_ns(limit_ns: int = 50_000_000) -> int | None:
    """The monotonic instant, within tens of microseconds, at which the kernel's jiffies last
    moved on. times(2) returns jiffies_64 in USER_HZ (100) units, so its value changes on two
    of every five jiffy edges at HZ=250 (at most 12 ms apart): spin until it does. An edge
    seen across a gap wider than EDGE_BRACKET_NS (the process was preempted or the hypervisor
    held the CPU: seen, an edge 1.7 ms off on a CI run with 6% steal) is not trusted: the next
    one is waited for, and if none is trusted within `limit_ns`, the last one seen is taken,
    moved on by whole jiffies to the last edge before now. None: times(2) did not move."""
    first = os.times().elapsed
    start = before = time.monotonic_ns()
    last: int | None = None
    for _ in range(10_000_000):
        now = os.times().elapsed
        after = time.monotonic_ns()
        if now != first:
            last = (before + after) // 2
            if after - before <= EDGE_BRACKET_NS:
                return last
            first = now
        if after - start > limit_ns:
            return _latest_edge(last, after)
        before = after
    return _latest_edge(last, time.monotonic_ns())


def _latest_edge(edge: int | None, now: int) -> int | None:
    """The last jiffy edge at or before `now`, from an earlier one (jiffies move every
    JIFFY_USECS)."""
    if edge is None:
        return None
    jiffy = JIFFY_USECS * 1000
    return edge + (now - edge) // jiffy * jiffy


def _sleeping(tid: int) -> bool:
    try:
        stat = Path(f"/proc/self/task/{tid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].startswith("S")


def _runnable(folder: Path, word: str) -> str:
    """`word` as a command that runs: a helper script that lacks its execute bit (the shared
    corpus is read-only test data) is handed to its interpreter, a stored link followed."""
    path = folder / word
    if not path.is_file():
        return word
    real = git_symlink(path)
    if real == path and os.access(path, os.X_OK):
        return word
    interp = "sh" if real.suffix == ".sh" else sys.executable
    return f"{interp} {real}"


def run_kernel(path: str | Path, defines: dict[str, str] | None = None,
               options: list[tuple[str, str | None]] | None = None) -> Result:
    """Run one script on the host kernel in a namespace of its own (root). The child gets
    host.netns's 60 s bound; the namespace goes away in every case."""
    why = available()
    if why is not None:
        return Result(str(path), "kernel", False, f"target kernel {why}")
    request = json.dumps({"path": str(path), "defines": defines or {},
                          "options": options or []})
    t0 = time.perf_counter()
    with all_congestion_controls_allowed(), loopback_ns() as ns:
        try:
            out = ns.run(sys.executable, "-m", "tuxtcp.packetdrill.target_kernel", request,
                         check=False)
        except subprocess.TimeoutExpired:
            return Result(str(path), "kernel", False, "the kernel run timed out",
                          wall_seconds=time.perf_counter() - t0)
    lines = out.strip().splitlines()
    try:
        return Result(**json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        return Result(str(path), "kernel", False, f"the kernel run failed: {out[-500:]!r}",
                      wall_seconds=time.perf_counter() - t0)


def _child(request: str) -> int:
    """Inside the namespace: run the script, print its Result as one JSON line."""
    # A blocking call's thread records its return under the GIL. With the default switch
    # interval (5 ms) it could wait that long for the main thread, busy waiting for the next
    # event's instant, to let go: poll.pkt's return came 4.1 ms late on three runs in a row.
    sys.setswitchinterval(0.0001)
    req = json.loads(request)
    path = req["path"]
    try:
        script = parse_file(path, req["defines"])
    except (ParseError, OSError) as e:
        print(json.dumps(Result(path, "kernel", False, str(e)).__dict__))
        return 0
    script.options.extend(tuple(o) for o in req["options"])
    print(json.dumps(KernelRun(script).run().__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
