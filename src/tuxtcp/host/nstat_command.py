"""`tuxtcp nstat [--netns NAME] [-azsnrj] [PATTERN...]`: the live kernel's counters as
iproute2's nstat prints them (the same code prints a simulated host's: `host.nstat()`),
read from /proc/net/{snmp,snmp6,netstat} of this namespace or of namespace NAME."""

from __future__ import annotations

import contextlib
import sys

from ..observe.nstat import NstatError, history_path, parse_args, run, snapshot
from .cliargs import UsageError, take_netns
from .errors import SockDiagError
from .sockdiag import in_netns

USAGE = """usage: tuxtcp nstat [--netns NAME] [-a] [-z] [-s] [-n] [-r] [-j] [PATTERN ...]

The kernel's SNMP and netstat counters changed since the last run, as nstat prints them
(history in $NSTAT_HISTORY or /tmp/.nstat.u<uid>). -a absolute values, -z zeros too,
-s keep the history, -n update the history only, -r reset it, -j JSON.
"""


def host_counter_files(netns: str | None) -> dict[str, str]:
    """/proc/net/snmp, snmp6 and netstat of this thread's namespace, or of `netns`."""
    files: dict[str, str] = {}
    with in_netns(netns):
        for f in ("snmp", "snmp6", "netstat"):
            with contextlib.suppress(FileNotFoundError), \
                    open(f"/proc/thread-self/net/{f}") as fh:
                files[f] = fh.read()
    return files


def nstat(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    try:
        netns = take_netns(args)
        opts = parse_args(args)
        counters = snapshot(host_counter_files(netns))
    except (UsageError, NstatError, SockDiagError) as e:
        print(f"tuxtcp nstat: {e}", file=sys.stderr)
        return 1 if isinstance(e, SockDiagError) else 2
    sys.stdout.write(run(counters, opts, history_path()))
    return 0
