"""Argument handling for `tuxtcp simulate`, `tuxtcp simulate sweep` and `tuxtcp simulate
flows`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Any

from rich.console import Console

from ..sim.scenario import ScenarioRun
from .kernel_relay import RELAY_MIN_DELAY, relayed
from .presets import DESCRIPTIONS, PRESETS, VALIDATION, build_spec
from .render import LiveView, print_comparison, print_report
from .report import summarize

COMPARED_COUNTERS = (
    "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPReqQFullDoCookies", "TcpExt.SyncookiesSent", "TcpExt.SyncookiesRecv",
    "Tcp.PassiveOpens", "Tcp.ActiveOpens",
)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tuxtcp simulate",
                                 description="Run a connection scenario on the real engine "
                                             "and virtual clock.")
    ap.add_argument("scenario", nargs="?", default=None,
                    help=f"built in: {', '.join(PRESETS)} (or 'list')")
    ap.add_argument("--config", help="TOML file ([scenario] keys, [sysctl] table)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a parameter or a sysctl (net.ipv4.tcp_syncookies=0)")
    ap.add_argument("--validation", action="store_true",
                    help="use the scenario's small kernel-validation variant")
    ap.add_argument("--target", choices=("sim", "kernel", "both"), default="sim")
    ap.add_argument("--no-replay", action="store_true",
                    help="with --target both: simulate the scenario's own model instead of "
                         "replaying the kernel run's client and accept instants")
    ap.add_argument("--full-duration", action="store_true",
                    help="with --target both: run the kernel side for the scenario's whole "
                         "duration, not only until its clients have long settled")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--plot", metavar="FILE.png", help="queue occupancy and latency CDF")
    ap.add_argument("--pcap", metavar="FILE", help="record every simulated packet")
    ap.add_argument("--kernel-pcap", metavar="FILE",
                    help="with --target kernel or both, over the relay (a delay of 1 ms or "
                         "more, or loss): record every packet the kernel run's link read, "
                         "lost ones too, timed from the run's start as the simulation is")
    ap.add_argument("--trace", metavar="FILE",
                    help="write the kernel's TCP tracepoints (and skb:kfree_skb with the drop "
                         "reason) in trace_pipe form, virtual timestamps")
    ap.add_argument("--quiet", action="store_true", help="no live view")
    return ap


def _sweep_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tuxtcp simulate sweep",
                                 description="Run a grid of scenarios on all cores.")
    ap.add_argument("scenario", nargs="?", default="slow-accept")
    ap.add_argument("--config")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...",
                    help="an axis; repeat for more (the first is the plot's x axis)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    ap.add_argument("--scheduler", metavar="tcp://HOST:8786",
                    help="run the points on this Dask cluster instead (the dask extra)")
    ap.add_argument("--csv", default="sweep.csv")
    ap.add_argument("--plot", metavar="FILE.png")
    return ap


def _spec_from(args: argparse.Namespace) -> Any:
    toml_text = None
    if args.config:
        with open(args.config, "rb") as f:
            toml_text = f.read().decode()
    overrides = list(args.set)
    if getattr(args, "validation", False):
        if args.scenario not in VALIDATION:
            raise SystemExit(f"no validation variant for {args.scenario!r}")
        overrides = VALIDATION[args.scenario] + overrides
    return build_spec(args.scenario, toml_text, overrides), toml_text


# One way across the kernel target's veth pair: traced, a client is established 2-12 us
# (7 us typically) after its SYN went out, the listener's work and the client's included
# (kernel_trace: timer_start). (It was 30 us, half the round trip the client agent saw from
# its clock reading before connect(), which the port search in connect() made longer.)
KERNEL_VETH_DELAY = 0.000005


def simulate(argv: list[str]) -> int:
    if argv and argv[0] == "sweep":
        return sweep(argv[1:])
    if argv and argv[0] == "flows":
        return flows(argv[1:])
    args = _parser().parse_args(argv)
    console = Console(stderr=False)
    if args.scenario == "list":
        for name, desc in DESCRIPTIONS.items():
            console.print(f"{name:16s} {desc}")
        return 0
    if not args.scenario and not args.config:
        args.scenario = "slow-accept"
    try:
        spec, _ = _spec_from(args)
    except (ValueError, OSError) as exc:
        print(f"tuxtcp simulate: {exc}", file=sys.stderr)
        return 2
    out: dict[str, Any] = {}
    notes: list[str] = []
    if args.target in ("kernel", "both") and relayed(spec):
        # no netem here: a userspace relay between two TUN devices delays and loses packets
        # on the kernel side, deciding each loss per flow as the simulation's link does
        notes.append(f"the kernel's link is a userspace relay over two TUN devices (no netem "
                     f"here): {spec.delay * 1000:g} ms one way"
                     + (f", {spec.loss:.0%} of packets lost, per flow and packet as the "
                        f"simulation loses them" if spec.loss else ""))
    elif args.target == "both" and spec.delay > KERNEL_VETH_DELAY:
        # below a millisecond the kernel side is a veth pair: the simulation takes its delay
        # so that the two runs model the same link
        notes.append(f"the kernel's link is a veth pair ({KERNEL_VETH_DELAY * 1e6:.0f} us; "
                     f"a delay under {RELAY_MIN_DELAY * 1000:g} ms is not relayed): the "
                     f"simulation uses its delay, not the scenario's {spec.delay * 1000:g} ms")
        spec = dataclasses.replace(spec, delay=KERNEL_VETH_DELAY)
    if args.kernel_pcap and (args.target == "sim" or not relayed(spec)):
        print("tuxtcp simulate: --kernel-pcap records the kernel run's relay: it needs "
              "--target kernel or both and a scenario the relay carries (delay of "
              f"{RELAY_MIN_DELAY * 1000:g} ms or more, or loss)", file=sys.stderr)
        return 2
    if args.target in ("kernel", "both"):
        from ..host.netns import available

        reason = available()
        if reason:
            print(f"tuxtcp simulate --target kernel: {reason}", file=sys.stderr)
            return 2
        from .kernel import (
            QUIET_S,
            WINDOW_MARGIN_S,
            KernelRunError,
            cut_short,
            kernel_window,
            replay_spec,
            run_on_kernel,
        )

        if args.target == "both" and not args.full_duration:
            # the kernel side runs in real time: it lasts until the clients have long settled
            # (in a simulation of the scenario's own model), and the replay runs as long
            window = kernel_window(spec, ScenarioRun(spec).run())
            if window < spec.duration:
                notes.append(f"both sides run {window:g} s of the scenario's "
                             f"{spec.duration:g} s: the simulation's clients had settled and "
                             f"its queues emptied by {window - WINDOW_MARGIN_S:g} s, and the "
                             f"rest is idle (--full-duration runs all of it)")
                spec = dataclasses.replace(spec, duration=window)
        try:
            kres = run_on_kernel(spec, args.kernel_pcap,
                                 replayed=args.target == "both" and not args.no_replay)
        except KernelRunError as e:
            print(f"tuxtcp simulate --target {args.target}: {e}", file=sys.stderr)
            return 1
        out["kernel"] = summarize(kres)
        late = cut_short(spec.duration, kres)
        if late and args.target == "both" and not args.full_duration:
            notes.append(f"clients {', '.join(map(str, late))} of the kernel run were still "
                         f"connecting within {QUIET_S:g} s of its end: the end may have cut "
                         f"them short (--full-duration)")
        if args.target == "both":
            # same jiffies phase as the kernel run, so timer-wheel buckets line up; and unless
            # --no-replay, the kernel run's own client instants and accept instants (with
            # their service ends), so what differs is the engine's, not the agents'
            if args.no_replay:
                spec = dataclasses.replace(spec, uptime0=kres.uptime0)
            else:
                spec = replay_spec(spec, kres)
    if args.target in ("sim", "both"):
        trace_out = open(args.trace, "w") if args.trace else None  # noqa: SIM115
        run = ScenarioRun(spec, pcap=args.pcap, trace=trace_out)
        live = not args.quiet and not args.json and sys.stdout.isatty()
        t0 = time.perf_counter()
        if live:
            with LiveView(console, spec.duration) as view:
                res = run.run(progress=view.update)
        else:
            res = run.run()
        wall = time.perf_counter() - t0
        if trace_out is not None:
            trace_out.close()
        out["sim"] = summarize(res)
        out["sim"]["wall_seconds"] = round(wall, 3)
        if args.plot:
            from .plot import plot_run

            plot_run(res, args.plot)
    if args.target == "both":
        from .kernel import client_differences, compare

        rows = compare(out["sim"], out["kernel"], COMPARED_COUNTERS)
        out["comparison"] = [{"what": w, "sim": a, "kernel": b, "agrees": ok}
                             for w, a, b, ok in rows]
        agree, diffs = client_differences(res.clients, kres.clients,
                                          late=kres.late_clients)
        out["clients_agreeing"] = {"agree": agree, "of": len(res.clients)}
        out["client_differences"] = diffs
    if notes:
        out["notes"] = notes
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    for note in notes:
        console.print(f"note: {note}")
    for key in ("sim", "kernel"):
        if key in out:
            if key == "kernel":
                console.print("\n[bold]Same scenario on the host kernel[/] (network namespaces)")
            print_report(console, out[key])
    if "comparison" in out:
        print_comparison(console, out)
    if args.plot:
        console.print(f"plot written to {args.plot}")
    if args.pcap:
        console.print(f"pcap written to {args.pcap}")
    if args.kernel_pcap:
        console.print(f"the kernel run's pcap written to {args.kernel_pcap}")
    if args.trace:
        console.print(f"trace written to {args.trace}")
    return 0


def sweep(argv: list[str]) -> int:
    from .sweep import SweepError, parse_grid, run_sweep, write_csv

    args = _sweep_parser().parse_args(argv)
    toml_text = None
    if args.config:
        with open(args.config, "rb") as f:
            toml_text = f.read().decode()
    grid = parse_grid(args.grid)
    n = 1
    for v in grid.values():
        n *= len(v)
    jobs = args.jobs or os.cpu_count() or 1
    console = Console()
    where = f"the Dask cluster at {args.scheduler}" if args.scheduler else f"{jobs} process(es)"
    console.print(f"sweep: {n} points of {args.scenario} on {where}")
    t0 = time.perf_counter()
    try:
        rows = run_sweep(args.scenario, toml_text, args.set, grid, jobs, args.scheduler)
    except SweepError as e:
        print(f"tuxtcp simulate sweep: {e}", file=sys.stderr)
        return 1
    console.print(f"done in {time.perf_counter() - t0:.1f} s; CSV: {args.csv}")
    write_csv(rows, args.csv)
    if args.plot:
        from .plot import plot_sweep

        plot_sweep(rows, list(grid), args.plot)
        console.print(f"plot: {args.plot}")
    return 0


def flows(argv: list[str]) -> int:
    """`tuxtcp simulate flows A.pcap B.pcap`: which TCP flows differ between two captures."""
    from .flowdiff import compare_flows, read_flows

    ap = argparse.ArgumentParser(
        prog="tuxtcp simulate flows",
        description="Compare two captures of one scenario flow by flow (the simulation's "
                    "--pcap, the kernel run's --kernel-pcap): the flows whose packets differ, "
                    "each from its first difference.")
    ap.add_argument("a", metavar="A.pcap")
    ap.add_argument("b", metavar="B.pcap")
    ap.add_argument("--seed", type=int, help="the scenario's seed: mark the packets its "
                    "lossy link lost (with --loss)")
    ap.add_argument("--loss", type=float, default=0.0, help="the scenario's loss (0..1)")
    ap.add_argument("--limit", type=int, default=10, help="flows shown (default 10)")
    ap.add_argument("--json", action="store_true", help="print the differences as JSON")
    args = ap.parse_args(argv)
    try:
        with open(args.a, "rb") as fa, open(args.b, "rb") as fb:
            a = read_flows(fa, args.seed, args.loss)
            b = read_flows(fb, args.seed, args.loss)
    except (OSError, ValueError) as exc:
        print(f"tuxtcp simulate flows: {exc}", file=sys.stderr)
        return 2
    diffs = compare_flows(a, b)
    if args.json:
        print(json.dumps({"flows": len(set(a) | set(b)), "differ": len(diffs), "shown": [
            {"client_port": d.name[1], "first_difference": d.index,
             "a": [str(p) for p in d.a], "b": [str(p) for p in d.b]}
            for d in diffs[:args.limit]]}, indent=2))
        return 0
    print(f"{len(diffs)} of {len(set(a) | set(b))} flows differ"
          + (f" (the first {args.limit} below)" if len(diffs) > args.limit else ""))
    for d in diffs[:args.limit]:
        print(f"\nflow from client port {d.name[1]}: packet {d.index + 1} differs")
        for i in range(max(len(d.a), len(d.b))):
            x = str(d.a[i]) if i < len(d.a) else ""
            y = str(d.b[i]) if i < len(d.b) else ""
            mark = "*" if i >= d.index and (i >= len(d.a) or i >= len(d.b)
                                            or d.a[i].key() != d.b[i].key()) else " "
            print(f"  {mark} {x:<52} | {y}")
    return 0
