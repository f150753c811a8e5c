"""The kernel's tracepoints through tracefs, in an instance of our own
(/sys/kernel/tracing/instances/tuxtcp-PID-N), so the global trace buffer and whatever else
is tracing are left alone. The instance is removed on the way out, also on errors; tracefs
is mounted first when it is not (and unmounted again). A process killed outright (SIGKILL)
cannot remove its instance, which would then go on tracing machine-wide: opening a session
first removes the `tuxtcp-PID-N` instances whose process is gone (`reap_stale`)."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import select
import subprocess
import time
from collections.abc import Iterator
from typing import Final

from .errors import SockDiagError

TRACEFS: Final = "/sys/kernel/tracing"
EVENTS: Final = ("skb/kfree_skb", "tcp/tcp_retransmit_synack", "tcp/tcp_send_reset",
                 "sock/inet_sock_set_state")
_SERIAL = itertools.count()
_OURS: Final = re.compile(r"tuxtcp-(\d+)-\d+")


def available() -> str | None:
    """None when tracing can be used here, else why not."""
    if os.geteuid() != 0:
        return "tracing needs root"
    if not os.path.isdir(TRACEFS):
        return f"{TRACEFS} does not exist"
    return None


class TraceSession:
    """An open tracefs instance with EVENTS enabled: `lines(seconds)` reads trace_pipe."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(f"{path}/trace_pipe", os.O_RDONLY | os.O_NONBLOCK)
        self._rest = b""

    def lines(self, seconds: float, max_lines: int = 1_000_000) -> Iterator[str]:
        """Lines as they come, for `seconds` at most (and at most `max_lines`); an empty
        string every 0.2 s without any, so a reader can redraw or stop."""
        deadline = time.monotonic() + seconds
        count = 0
        while count < max_lines:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self._fd], [], [], min(left, 0.2))
            if not ready:
                yield ""
                continue
            try:
                chunk = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            data = self._rest + chunk
            *whole, self._rest = data.split(b"\n")
            for raw in whole:
                count += 1
                yield raw.decode("utf-8", "replace")

    def lost(self) -> int:
        """Events the ring buffer lost so far: overwritten before anyone read them (the
        reader fell behind by a whole buffer), summed over the CPUs."""
        total = 0
        for cpu in sorted(os.listdir(f"{self.path}/per_cpu")):
            with contextlib.suppress(OSError), open(f"{self.path}/per_cpu/{cpu}/stats") as f:
                for line in f:
                    name, _, value = line.partition(":")
                    if name in ("overrun", "dropped events") and value.strip().isdigit():
                        total += int(value)
        return total

    def close(self) -> None:
        os.close(self._fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's: alive
        return True
    return True


def reap_stale(instances: str = f"{TRACEFS}/instances") -> list[str]:
    """Remove the instances a tuxtcp process left behind when it was killed (named
    tuxtcp-PID-N, PID no longer running), their events disabled first; returns their names.
    An instance whose PID runs (ours, or a reused PID) stays, and so does one that cannot
    be removed (its trace_pipe still open: someone reads it)."""
    try:
        names = sorted(os.listdir(instances))
    except OSError:
        return []
    gone = []
    for name in names:
        m = _OURS.fullmatch(name)
        if m is None or _alive(int(m.group(1))):
            continue
        path = f"{instances}/{name}"
        with contextlib.suppress(OSError), open(f"{path}/events/enable", "w") as f:
            f.write("0")
        try:
            os.rmdir(path)
        except OSError:
            continue
        gone.append(name)
    return gone


@contextlib.contextmanager
def trace_session(events: tuple[str, ...] = EVENTS, clock: str | None = None,
                  filters: dict[str, str] | None = None,
                  buffer_kb: int | None = None) -> Iterator[TraceSession]:
    """An instance with `events` enabled (`clock`: the instance's trace_clock, such as "mono"
    for CLOCK_MONOTONIC timestamps; the default is the kernel's, "local"; `filters`: an
    event's filter expression by event, such as {"sock/inet_sock_set_state": "newstate == 1"},
    which the kernel applies before anything reaches the buffer; `buffer_kb`: the ring
    buffer's size per CPU, 1,410 KB by default here)."""
    why = available()
    if why:
        raise SockDiagError(1, why)
    mounted = False
    if not os.path.exists(f"{TRACEFS}/instances"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True)
        mounted = True
    reap_stale()
    path = f"{TRACEFS}/instances/tuxtcp-{os.getpid()}-{next(_SERIAL)}"
    try:
        os.mkdir(path)
        try:
            if clock is not None:
                with open(f"{path}/trace_clock", "w") as f:
                    f.write(clock)
            if buffer_kb is not None:
                with open(f"{path}/buffer_size_kb", "w") as f:
                    f.write(str(buffer_kb))
            for ev, expr in (filters or {}).items():
                with open(f"{path}/events/{ev}/filter", "w") as f:
                    f.write(expr)
            for ev in events:
                with open(f"{path}/events/{ev}/enable", "w") as f:
                    f.write("1")
            session = TraceSession(path)
            try:
                yield session
            finally:
                session.close()
        finally:
            for ev in events:
                with contextlib.suppress(OSError), open(f"{path}/events/{ev}/enable", "w") as f:
                    f.write("0")
            with contextlib.suppress(OSError):
                os.rmdir(path)
    finally:
        if mounted:
            subprocess.run(["umount", TRACEFS], check=False)
