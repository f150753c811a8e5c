"""`tuxtcp ss [--netns NAME] [ss options] [state ...] [filter]`: the live kernel's TCP sockets
(netlink sock_diag, host/sockdiag.py), printed as iproute2's ss prints them by the same
renderer that prints tuxtcp's own namespaces (`host.ss(...)` in the simulator)."""

from __future__ import annotations

import sys

from ..observe.ss import NO_PORT_RANGE, SsFilterError, SsOptions, parse_args, render
from .cliargs import UsageError, take_netns
from .errors import SockDiagError
from .sockdiag import host_records, in_netns

USAGE = """usage: tuxtcp ss [--netns NAME] [--watch [SECONDS] [--count N]] [-talnoemisHJ]
                 [state NAME|exclude NAME ...] [FILTER]

The host's TCP sockets as ss(8) prints them, read through netlink sock_diag (root only
for another namespace). -J prints JSON. FILTER: sport/dport OP :PORT, src/dst ADDR[/LEN][:PORT],
and/or/not and parentheses, as in ss. --watch redraws the view every SECONDS (default 1).
"""


def _summary(netns: str | None) -> str:
    """ss -s from /proc/net/sockstat, sockstat6 and snmp of the namespace."""
    from ..observe.sockstat import render_summary

    texts = []
    with in_netns(netns):
        for name in ("sockstat", "sockstat6", "snmp"):
            try:
                with open(f"/proc/thread-self/net/{name}") as f:
                    texts.append(f.read())
            except FileNotFoundError:
                texts.append("")
    return render_summary(*texts)


def _ephemeral_ports(netns: str | None) -> tuple[int, int]:
    """The namespace's net.ipv4.ip_local_port_range, which ss reads to print those ports as
    numbers (ss.c: is_ephemeral; its 1024-4999 when the file cannot be read)."""
    try:
        with in_netns(netns), open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        return NO_PORT_RANGE
    return low, high


def host_ss(netns: str | None, opts: SsOptions) -> str:
    """What `ss` prints for the live kernel's sockets (of namespace `netns`)."""
    if not opts.numeric:  # (-n prints every port as a number: no need to read the range)
        opts.ephemeral = _ephemeral_ports(netns)
    head = ""
    if opts.summary:
        head = _summary(netns)
        if opts.summary_only:
            return head
    brief = not (opts.timers or opts.extended or opts.memory or opts.info or opts.json)
    records = host_records(netns, memory=opts.memory, info=opts.info, details=opts.extended,
                           brief=brief)
    return head + render(records, opts)


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
        return host_ss(netns, opts)

    try:
        if watching is not None:
            from .watch import watch

            return watch(view, watching[0], watching[1], f"tuxtcp ss {' '.join(argv)}")
        sys.stdout.write(view())
    except SockDiagError as e:
        print(f"tuxtcp ss: {e}", file=sys.stderr)
        return 1
    return 0
