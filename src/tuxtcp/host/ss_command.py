"""`tuxtcp ss [--netns NAME] [ss options] [state ...] [filter]`: the live kernel's TCP sockets
(netlink sock_diag, host/sockdiag.py), printed as iproute2's ss prints them by the same
renderer that prints tuxtcp's own namespaces (`host.ss(...)` in the simulator)."""

from __future__ import annotations

import sys

from ..observe.ss import SsFilterError, parse_args, render
from .cliargs import UsageError, take_netns
from .errors import SockDiagError
from .sockdiag import host_records

USAGE = """usage: tuxtcp ss [--netns NAME] [-talnoemiHJ] [state NAME|exclude NAME ...] [FILTER]

The host's TCP sockets as ss(8) prints them, read through netlink sock_diag (root only
for another namespace). -J prints JSON. FILTER: sport/dport OP :PORT, src/dst ADDR[/LEN][:PORT],
and/or/not and parentheses, as in ss.
"""


def ss(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    try:
        netns = take_netns(args)
        opts = parse_args(args)
    except (UsageError, SsFilterError) as e:
        print(f"tuxtcp ss: {e}", file=sys.stderr)
        return 2
    try:
        records = host_records(netns, memory=opts.memory, info=opts.info,
                               details=opts.extended)
    except SockDiagError as e:
        print(f"tuxtcp ss: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(render(records, opts))
    return 0
