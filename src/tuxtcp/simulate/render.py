"""The console report and the live view (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..sim.scenario import ScenarioRun
from .report import RETRANSMISSIONS, UNDO


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:,.1f} ms"


class LiveView:
    """Progress bar plus queue depths and counters, redrawn as virtual time advances."""

    def __init__(self, console: Console, duration: float) -> None:
        self.console = console
        self.progress = Progress(TextColumn("virtual time"), BarColumn(),
                                 TextColumn("{task.completed:.1f}/{task.total:.0f} s"),
                                 TimeRemainingColumn(), console=console)
        self.task = self.progress.add_task("run", total=duration)
        self.live = Live(self._table(None), console=console, refresh_per_second=8,
                         transient=True)

    def _table(self, run: ScenarioRun | None) -> Table:
        t = Table.grid(padding=(0, 2))
        t.add_row(self.progress)
        if run is not None:
            lq = run.listener.sk.lq
            sc = run.server.counters
            done = sum(1 for c in run.results if c.established is not None)
            t.add_row(f"SYN queue {lq.qlen if lq else 0:5d}   accept queue "
                      f"{len(lq.accept_queue) if lq else 0:5d}   connected {done}/"
                      f"{len(run.results)}")
            t.add_row(f"ListenOverflows {sc['ListenOverflows']}   ListenDrops "
                      f"{sc['ListenDrops']}   SyncookiesSent {sc['SyncookiesSent']}   "
                      f"TCPReqQFullDrop {sc['TCPReqQFullDrop']}")
        return t

    def __enter__(self) -> LiveView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, now: float, run: ScenarioRun) -> None:
        self.progress.update(self.task, completed=now)
        self.live.update(self._table(run))


def print_report(console: Console, s: dict[str, Any]) -> None:
    spec = s["spec"]
    console.rule(f"[bold]tuxtcp simulate: {s['scenario']}")
    console.print(f"{s['clients']} clients ({spec['arrival']}"
                  + (f", {spec['rate']:g}/s" if spec["arrival"] != "burst" else "")
                  + f"), listen({spec['backlog']}), {spec['workers']} accept worker(s) x "
                  f"{spec['service_time'] * 1000:g} ms, link {spec['delay'] * 1000:g} ms one way"
                  + (f", loss {spec['loss']:.0%}" if spec["loss"] else "")
                  + (f", {spec['response_bytes']:,}-byte responses "
                     f"({spec['congestion_control']})" if spec.get("response_bytes") else "")
                  + (f", flood {spec['flood_rate']:g} SYN/s for {spec['flood_duration']:g} s"
                     if spec["flood_rate"] else "")
                  + f", {spec['duration']:g} s virtual, seed {spec['seed']}")
    if spec["sysctls"]:
        console.print("sysctls: " + ", ".join(f"{k}={v}" for k, v in spec["sysctls"].items()))
    if "agent_late_ms" in s:
        late = s["agent_late_ms"]
        console.print(f"kernel agents at worst late by: client {late['client']:.2f} ms "
                      f"(a connect after its instant; {s['late_connects']} more than 5 ms "
                      f"late), server {late['server']:.2f} ms (a service seen finished after "
                      f"its deadline)" + (f", link relay {late['relay']:.2f} ms (a packet "
                                          f"delivered after its instant)"
                                          if "relay" in late else ""))
        cpus = s.get("agent_cpus") or {}
        if "server" in cpus:
            console.print(f"kernel agents on CPU {','.join(map(str, cpus['server']))} (server, "
                          f"client{', flood' if 'flood' in cpus else ''}), the sampler and "
                          f"the trace reader on {','.join(map(str, cpus.get('sampler', [])))}; "
                          f"the host took {s.get('agent_cpu_steal', 0.0):.1%} of the agents' "
                          f"CPU (steal)")
    if "kernel_relay" in s:
        r = s["kernel_relay"]
        console.print(f"kernel link relay: {r['forwarded']} packets delivered, {r['lost']} "
                      f"lost, {r['late_over_1ms']} delivered over 1 ms late, {r['spoofed']} "
                      f"spoofed SYNs passed without delay or loss")
        if "lag_us" in r:
            lag = r["lag_us"]
            console.print(f"  each packet's lag beyond the delay (queued by the kernel to "
                          f"written by the relay): median {lag['p50']:,.0f} us, 99th "
                          f"percentile {lag['p99']:,.0f} us, at most {lag['max']:,.0f} us, "
                          f"over {r['lagged_packets']} packets")
    if "replayed_link_lags" in s:
        console.print(f"replayed link: {s['replayed_link_lags']} packets as late as the kernel "
                      f"run's relay delivered them")
    lat = s["latency_s"]
    t = Table(title="connect() latency (client side, virtual time)")
    for col in ("connected", "p50", "p90", "p99", "max"):
        t.add_column(col, justify="right")
    t.add_row(f"{s['connected']}/{s['clients']}", _ms(lat["p50"]), _ms(lat["p90"]),
              _ms(lat["p99"]), _ms(lat["max"]))
    console.print(t)
    a = Table(title="attribution")
    a.add_column("SYN retransmissions needed", justify="right")
    a.add_column("clients", justify="right")
    for k, v in s["syn_retransmissions"].items():
        a.add_row(k, str(v))
    console.print(a)
    console.print(f"completed only after a SYN-ACK retransmission: "
                  f"{s['completed_via_synack_retransmission']}; connected client-side but "
                  f"never accepted: {s['established_but_never_accepted']}")
    if s["failed"]:
        console.print("did not connect: " + ", ".join(f"{v} {k}" for k, v in
                                                       s["failed"].items()))
    if "response" in s:
        r = s["response"]
        t = Table(title=f"responses of {spec['response_bytes']:,} bytes "
                        f"({spec['congestion_control']}; connect() to the last byte read)")
        for col in ("whole", "p50", "p90", "p99", "max"):
            t.add_column(col, justify="right")
        rt = r["time_s"]
        t.add_row(f"{r['complete']}/{s['clients']}", _ms(rt["p50"]), _ms(rt["p90"]),
                  _ms(rt["p99"]), _ms(rt["max"]))
        console.print(t)
    rec = s.get("recovery")
    if rec and any(rec["server"].values()) or rec and any(rec["client"].values()):
        r2 = Table(title="retransmissions by mechanism, and undo (kernel counters)")
        r2.add_column("what")
        r2.add_column("counter")
        r2.add_column("server", justify="right")
        r2.add_column("client", justify="right")
        for what, k in RETRANSMISSIONS + UNDO:
            r2.add_row(what, k.split(".", 1)[1], f"{rec['server'][k]:,}",
                       f"{rec['client'][k]:,}")
        console.print(r2)
    c = Table(title="counters (kernel names)")
    c.add_column("counter")
    c.add_column("server", justify="right")
    c.add_column("client", justify="right")
    for k in s["counters"]["server"]:
        sv, cv = s["counters"]["server"][k], s["counters"]["client"][k]
        if sv or cv:
            c.add_row(k, str(sv), str(cv))
    console.print(c)
    drops = s.get("drops")
    if drops and drops.get("both"):
        d = Table(title="drops by reason (skb:kfree_skb, enum skb_drop_reason; the tracepoint "
                        "does not name the namespace: server and client together)")
        d.add_column("reason")
        d.add_column("server + client", justify="right")
        for k, n in drops["both"].items():
            d.add_row(k, f"{n:,}")
        console.print(d)
    elif drops and (drops["server"] or drops["client"]):
        d = Table(title="drops by reason (skb:kfree_skb, enum skb_drop_reason)")
        d.add_column("reason")
        d.add_column("server", justify="right")
        d.add_column("client", justify="right")
        for k in dict.fromkeys([*drops["server"], *drops["client"]]):
            d.add_row(k, str(drops["server"].get(k, 0)), str(drops["client"].get(k, 0)))
        console.print(d)
    console.print(f"[bold]ss -lnt at the peak[/] (t={s['peak']['time']:.2f} s, SYN queue "
                  f"{s['peak']['syn_queue']}, accept queue {s['peak']['accept_queue']} max)")
    console.print(s["peak"]["ss"], end="", soft_wrap=True, highlight=False)
    if s["peak"].get("proc_net_tcp"):
        console.print("[bold]/proc/net/tcp at the peak[/] (first lines)")
        for line in s["peak"]["proc_net_tcp"].splitlines()[:8]:
            console.print(line.rstrip(), soft_wrap=True, highlight=False)
    if s.get("queue_timeline"):
        console.print("[bold]queues over time[/] (SYN queue / accept queue)")
        for t, synq, accq in s["queue_timeline"]:
            console.print(f"  t={t:7.2f}s  synq={synq:5d}  acceptq={accq:5d}  "
                          + "#" * min(accq, 60), highlight=False)
    if s["dmesg"]:
        console.print("[bold]kernel log[/]")
        console.print(s["dmesg"], end="", soft_wrap=True, highlight=False)
    console.print("\n[bold]What the kernel did[/]")
    console.print(s["explanation"])


def _cell(what: str, v: Any) -> str:
    if v is None:
        return "-"
    if what.startswith(("latency", "response time")):
        return f"{v * 1000:,.1f} ms"
    return f"{v:,}"


def _delta(what: str, a: Any, b: Any) -> str:
    if a is None or b is None:
        return ""
    d = a - b
    if what.startswith(("latency", "response time")):
        return f"{d * 1000:+,.1f} ms" if d else "0"
    return f"{d:+,}" if d else "0"


def print_comparison(console: Console, out: dict[str, Any]) -> None:
    """The simulation against the kernel: counters and connect latency side by side, with
    units and the difference, then how many clients agree and the first that do not."""
    t = Table(title="simulation vs kernel (same scenario, same arrival instants)")
    t.add_column("what", no_wrap=True)
    for col in ("simulation", "kernel", "difference"):
        t.add_column(col, justify="right", min_width=12)
    t.add_column("")
    for r in out["comparison"]:
        w = r["what"]
        # counters by their own names (the MIB group prefix adds only width)
        label = w.replace(" TcpExt.", " ").replace(" Tcp.", " ")
        t.add_row(label, _cell(w, r["sim"]), _cell(w, r["kernel"]),
                  _delta(w, r["sim"], r["kernel"]), "ok" if r["agrees"] else "DIFF")
    console.print(t)
    ca = out.get("clients_agreeing")
    if ca:
        console.print(f"clients that agree (SYN retransmissions, accepted or not, connect time "
                      f"within 10 ms or 5%): {ca['agree']} of {ca['of']}")
    diffs = out.get("client_differences") or []
    if diffs:
        d = Table(title=f"first {len(diffs)} clients that differ (simulation vs kernel)")
        for col in ("client", "start", "simulation", "kernel", "what differs"):
            d.add_column(col, justify="right" if col in ("client", "start") else "left")
        for x in diffs:
            d.add_row(str(x["client"]), f"{x['start_s'] * 1000:,.1f} ms", _facts(x["sim"]),
                      _facts(x["kernel"]), x["why"])
        console.print(d)


def _facts(f: dict[str, Any]) -> str:
    conn = "-" if f["connect_ms"] is None else f"{f['connect_ms']:,.1f} ms"
    return f"{conn}, {f['syn_retrans'] + 1} SYN, {'accepted' if f['accepted'] else 'not acc.'}"
