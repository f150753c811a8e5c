"""`tuxtcp ss [--netns NAME] [ss options] [state ...] [filter]`: the live kernel's TCP sockets
(netlink sock_diag, host/sockdiag.py), printed as iproute2's ss prints them by the same
renderer that prints tuxtcp's own namespaces (`host.ss(...)` in the simulator)."""

from __future__ import annotations

import sys

from ..observe.ss import SsFilterError, parse_args, render
from .cliargs import UsageError, take_netns
from .errors import SockDiagError
from .sockdiag import host_records

USAGE = """usage: tuxtcp ss [--netns NAME] [--watch [SECONDS] [--count N]] [-talnoemiHJ]
                 [state NAME|exclude NAME ...] [FILTER]

The host's TCP sockets as ss(8) prints them, read through netlink sock_diag (root only
for another namespace). -J prints JSON. FILTER: sport/dport OP :PORT, src/dst ADDR[/LEN][:PORT],
and/or/not and parentheses, as in ss. --watch redraws the view every SECONDS (default 1).
"""


def ss(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    try:
        watching = None
        if "--watch" in args:
            from .watch import take_watch

            watching = take_watch(args)
        netns = take_netns(args)
        opts = parse_args(args)
    except (UsageError, SsFilterError, ValueError) as e:
        print(f"tuxtcp ss: {e}", file=sys.stderr)
        return 2

    def view() -> str:
        records = host_records(netns, memory=opts.memory, info=opts.info,
                               details=opts.extended)
        return render(records, opts)

    try:
        if watching is not None:
            from .watch import watch

            return watch(view, watching[0], watching[1], f"tuxtcp ss {' '.join(argv)}")
        sys.stdout.write(view())
    except SockDiagError as e:
        print(f"tuxtcp ss: {e}", file=sys.stderr)
        return 1
    return 0
