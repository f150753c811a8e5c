"""`tuxtcp doctor [--netns NAME] [--interval S] [--samples N] [--json]`: samples the live
kernel's listeners (sock_diag) and TcpExt counters of this namespace or of NAME over an
interval and diagnoses the listen queues (observe/doctor.py), as `host.doctor()` does for a
simulated host."""

from __future__ import annotations

import json
import sys
import time

from ..host.cliargs import UsageError, take_netns, take_value
from ..host.errors import SockDiagError
from ..host.nstat_command import host_counter_files
from ..host.sockdiag import ALL_STATES, host_records, in_netns
from ..observe.doctor import DoctorReport, diagnose
from ..observe.nstat import parse_groups

USAGE = """usage: tuxtcp doctor [--netns NAME] [--interval SECONDS] [--samples N] [--json]
                     [--what-if CHANGE ...] [--port PORT] [--rate PER_SECOND]
                     [--watch [--count N]]

Watches every listener's accept queue, backlog and SYN queue and the listen-queue counters
for SECONDS (default 5, at most 3600), N samples (default 50), then says what went wrong,
why the kernel did it, and what to change. --what-if backlog=512 (or workers=N,
service_time=S, or any sysctl: net.core.somaxconn=4096) runs the simulator on the observed
rates as they were and with the change, and compares connect latency and drops (--port:
which listener to model, default the one that overflowed most; --rate: the arrival rate, if
known better than the completed handshakes the counters give). --watch: one report after
another, each over the interval, redrawn in place on a terminal.
"""


def counters(netns: str | None) -> dict[str, int]:
    files = host_counter_files(netns)
    return {f"{g}.{n}": v for name in ("snmp", "netstat")
            for g, n, v in parse_groups(files.get(name, ""))}


def sysctl(netns: str | None, name: str) -> int:
    with in_netns(netns), open("/proc/sys/" + name.replace(".", "/")) as f:
        return int(f.read().split()[0])


def _take(args: list[str], flag: str, default: float) -> float:
    value = take_value(args, flag)
    return default if value is None else float(value)


LISTEN_AND_SYN_RECV = (1 << 10) | (1 << 3)


def _observe(netns: str | None, seconds: float, n: int) -> DoctorReport:
    """Sample the listeners `n` times over `seconds` between two counter readings."""
    before = counters(netns)
    samples = []
    start = time.monotonic()
    for i in range(n):
        samples.append(host_records(netns, states=LISTEN_AND_SYN_RECV & ALL_STATES,
                                    memory=False, details=False))
        next_at = start + seconds * (i + 1) / n
        time.sleep(max(0.0, next_at - time.monotonic()))
    return diagnose(samples, before, counters(netns), seconds,
                    sysctl(netns, "net.core.somaxconn"),
                    sysctl(netns, "net.ipv4.tcp_syncookies"))


def doctor(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    want_json = "--json" in args
    watching = "--watch" in args
    args = [a for a in args if a not in ("--json", "--watch")]
    count = 0
    if "--count" in args:
        i = args.index("--count")
        try:
            count = int(args[i + 1])
        except (IndexError, ValueError):
            print("tuxtcp doctor: --count needs a number", file=sys.stderr)
            return 2
        del args[i:i + 2]
    changes: list[str] = []
    while "--what-if" in args:
        i = args.index("--what-if")
        if i + 1 >= len(args):
            print("tuxtcp doctor: --what-if needs NAME=VALUE", file=sys.stderr)
            return 2
        changes.append(args[i + 1])
        del args[i:i + 2]
    try:
        port = int(_take(args, "--port", 0)) or None
        rate = _take(args, "--rate", 0.0) or None
        netns = take_netns(args)
        seconds = _take(args, "--interval", 5.0)
        n_samples = int(_take(args, "--samples", 50))
        if args:
            raise UsageError(f"unexpected arguments: {' '.join(args)}")
        if not (0 < seconds <= 3600 and 1 <= n_samples <= 100_000):
            raise UsageError("--interval is in (0, 3600] s and --samples in [1, 100000]")
    except (UsageError, ValueError) as e:
        print(f"tuxtcp doctor: {e}", file=sys.stderr)
        return 2
    if watching:
        from ..host.watch import Screen

        screen = Screen(f"tuxtcp doctor {' '.join(argv)}")
        n = 0
        try:
            while not count or n < count:
                screen.show(_observe(netns, seconds, n_samples).render())
                n += 1
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:
            raise  # cli.run ends quietly
        except (OSError, SockDiagError) as e:
            print(f"tuxtcp doctor: {e}", file=sys.stderr)
            return 1
        finally:
            screen.close()
        return 0
    try:
        report = _observe(netns, seconds, n_samples)
    except BrokenPipeError:
        raise  # cli.run ends quietly
    except (OSError, SockDiagError) as e:
        print(f"tuxtcp doctor: {e}", file=sys.stderr)
        return 1
    result = None
    if changes:
        from .whatif import WhatIfError, what_if
        from .whatif import render as render_what_if

        try:
            result = what_if(report, changes, port, rate)
        except WhatIfError as e:
            print(f"tuxtcp doctor: what-if: {e}", file=sys.stderr)
            return 2
    if want_json:
        out = report.as_dict()
        if result is not None:
            out["what_if"] = result
        sys.stdout.write(json.dumps(out, indent=1) + "\n")
    else:
        sys.stdout.write(report.render())
        if result is not None:
            sys.stdout.write("\n" + render_what_if(result))
    return 0
