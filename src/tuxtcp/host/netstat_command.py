"""`tuxtcp netstat -s [-t] [-u] [-w] [--netns NAME] [--json]`: the live kernel's counters as
net-tools' netstat -s words them (observe/netstat_s.py), read from /proc/net/snmp and
/proc/net/netstat of this namespace or of namespace NAME. --json gives
{group: {counter: value}} instead."""

from __future__ import annotations

import sys

from ..observe.netstat_s import parse_args, render
from .cliargs import UsageError, take_netns
from .errors import SockDiagError
from .nstat_command import host_counter_files

USAGE = """usage: tuxtcp netstat -s [-t] [-u] [-w] [--netns NAME] [--json]

The kernel's SNMP and netstat counters in netstat -s's words (-t TCP, -u UDP, -w IP and ICMP
only; the groups netstat has no table for are always shown, as netstat shows them).
"""


def counters_json(files: list[str]) -> str:
    from ..observe.nstat import parse_groups

    out: dict[str, dict[str, int]] = {}
    for text in files:
        for g, n, v in parse_groups(text):
            out.setdefault(g, {})[n] = v
    import json

    return json.dumps(out, indent=1) + "\n"


def netstat(argv: list[str]) -> int:
    args = list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if args else 2
    want_json = "--json" in args
    args = [a for a in args if a != "--json"]
    try:
        netns = take_netns(args)
        select = parse_args(args)
        files = host_counter_files(netns)
    except (UsageError, ValueError, SockDiagError) as e:
        print(f"tuxtcp netstat: {e}", file=sys.stderr)
        return 1 if isinstance(e, SockDiagError) else 2
    texts = [files.get("snmp", ""), files.get("netstat", "")]
    sys.stdout.write(counters_json(texts) if want_json else render(texts, select))
    return 0
