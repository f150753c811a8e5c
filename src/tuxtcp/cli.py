"""The `tuxtcp` command."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter

from rich.console import Console
from rich.table import Table

from .sim.scenarios import burst_slow_accept


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def demo(args: argparse.Namespace) -> int:
    con = Console(highlight=False)
    con.rule("[bold]tuxtcp demo: a burst of clients against a small backlog and a slow accept()")
    res = burst_slow_accept(clients=args.clients, backlog=args.backlog,
                            accept_interval=args.accept_interval, seed=args.seed)
    con.print(f"{args.clients} clients connect 2 ms apart to 198.18.0.1:8080 "
              f"(listen({args.backlog}), so both queues hold {args.backlog + 1}); "
              f"the server accepts one connection every {args.accept_interval * 1000:.0f} ms.")
    con.print("\n[bold]Queues over time[/] (SYN queue / accept queue, at each accept() call)")
    shown = [s for i, s in enumerate(res.snapshots) if i % 4 == 0][:12]
    for t, synq, accq in shown:
        con.print(f"  t={t:6.2f}s  synq={synq:3d}  acceptq={accq:3d}  " + "#" * accq)
    con.print("\n[bold]ss -ltn at the peak[/]")
    con.print(res.peak_ss, end="", soft_wrap=True)
    con.print("\n[bold]/proc/net/tcp at the peak[/] (first lines)")
    for line in res.peak_tcp.splitlines()[:8]:
        con.print(line.rstrip(), soft_wrap=True)
    lat = [c.latency for c in res.clients if c.latency is not None and not c.error]
    tbl = Table(title="Connect latency (virtual time, client side)")
    for col in ("clients", "p50", "p90", "p99", "max"):
        tbl.add_column(col, justify="right")
    tbl.add_row(str(len(lat)), *(f"{_pct(lat, p) * 1000:.1f} ms" for p in (50, 90, 99, 100)))
    con.print(tbl)
    spread = Counter(c.syn_retrans for c in res.clients if c.latency is not None)
    con.print("[bold]Who waited:[/] " + ", ".join(
        f"{n} client(s) needed {k} SYN retransmission(s)" for k, n in sorted(spread.items())))
    failed = [c for c in res.clients if c.latency is None or c.error]
    if failed:
        con.print(f"{len(failed)} client(s) had not connected by the end of the run")
    if lat:
        con.print(f"mean {statistics.mean(lat) * 1000:.1f} ms: the 1 s, 2 s, 3 s steps are SYNs "
                  "the kernel dropped while the accept queue was full "
                  "(tcp_conn_request: ListenOverflows), retried on Linux's 1 s linear schedule.")
    c = res.server.counters
    con.print("\n[bold]Server counters (nstat names)[/]")
    for name in ("TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPReqQFullDoCookies",
                 "TcpExt.SyncookiesSent", "TcpExt.SyncookiesRecv", "Tcp.PassiveOpens",
                 "TcpExt.TCPTimeouts", "Tcp.RetransSegs"):
        con.print(f"  {name:32s} {c[name]}")
    cc = res.client.counters
    con.print("[bold]Client counters[/]")
    for name in ("Tcp.ActiveOpens", "TcpExt.TCPSynRetrans", "Tcp.AttemptFails"):
        con.print(f"  {name:32s} {cc[name]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "simulate":
        from .simulate.command import simulate

        return simulate(argv[1:])
    ap = argparse.ArgumentParser(prog="tuxtcp", description="tuxtcp: Linux's TCP connection "
                                 "machinery in Python. Commands: demo, simulate.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("simulate", help="capacity and incident simulator (see: tuxtcp simulate -h)")
    d = sub.add_parser("demo", help="burst of clients vs a small backlog and a slow accept()")
    d.add_argument("--clients", type=int, default=40)
    d.add_argument("--backlog", type=int, default=8)
    d.add_argument("--accept-interval", type=float, default=0.25)
    d.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.cmd == "demo":
        return demo(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
