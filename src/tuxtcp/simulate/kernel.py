"""`tuxtcp simulate --target kernel`: the same scenario with real sockets on the host kernel.

Two network namespaces joined by a veth pair (server 198.18.0.1, client 198.18.0.2), the
scenario's sysctls written into them, the client's arrival times taken from the simulation's own
seeded schedule, a raw-socket flood for spoofed SYNs, and the counters read from each
namespace's /proc/net/netstat and /proc/net/snmp. The kernel has no link delay here (tc netem is
not available on these machines), so compare it with a simulation whose delay is ~0.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from ..host.netns import Netns, all_congestion_controls_allowed, sh
from ..sim.scenario import (
    CLIENT_ADDR,
    HOLD_MAX_S,
    PORT,
    SERVER_ADDR,
    ClientResult,
    ScenarioResult,
    ScenarioRun,
    ScenarioSpec,
)
from ..wire.pcap import retime
from .kernel_relay import relayed
from .kernel_trace import (
    VETH_CLIENT,
    VETH_SERVER,
    KernelTrace,
    TracedRun,
    apply_trace,
    owner_at,
    owners,
    traced_uptime0,
)

CLIENT_SIDE = ("net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts",
               "net.ipv4.ip_local_port_range", "net.ipv4.tcp_timestamps", "net.ipv4.tcp_sack",
               "net.ipv4.tcp_window_scaling")


@contextlib.contextmanager
def two_hosts(relay: ScenarioSpec | None = None, pcap: str | None = None
              ) -> Iterator[tuple[Netns, Netns, dict[str, Any]]]:
    """A server and a client namespace joined by a veth pair, or, given the spec of a scenario
    with delay or loss, by the userspace relay (`kernel_relay.py`) over two TUN devices, which
    records what it reads to `pcap` if given (CLOCK_MONOTONIC timestamps); the dict gets what
    the relay did once the block ends (empty for a veth)."""
    tag = uuid.uuid4().hex[:8]
    srv, cli = Netns(f"tuxtcp_s_{tag}"), Netns(f"tuxtcp_c_{tag}")
    sh("ip", "netns", "add", srv.name)
    try:
        sh("ip", "netns", "add", cli.name)
        try:
            for ns in (srv, cli):
                sh("ip", "-n", ns.name, "link", "set", "lo", "up")
            stats: dict[str, Any] = {}
            if relay is None:
                _veth(srv, cli)
                yield srv, cli, stats
            else:
                with _relay_link(srv, cli, relay, tag, stats, pcap):
                    yield srv, cli, stats
        finally:
            _drain((srv, cli))
            sh("ip", "netns", "del", cli.name, check=False)
    finally:
        sh("ip", "netns", "del", srv.name, check=False)


DRAIN_S = 5.0  # how long a run's leftover connections may take to go before the next run


def _drain(hosts: tuple[Netns, ...]) -> None:
    """Wait (at most DRAIN_S) until no TCP socket but TIME_WAIT and listeners is left in the
    namespaces: `ip netns del` only unlinks a namespace, whose orphans go on resending until
    done, and the next run's machine-wide drop counts would take their last segments in."""
    for _ in range(int(DRAIN_S / 0.1)):
        left = "".join(ns.run("ss", "-Htan", "exclude", "time-wait", "exclude", "listening",
                              check=False) for ns in hosts)
        if not left.strip():
            return
        time.sleep(0.1)


def _veth(srv: Netns, cli: Netns) -> None:
    sv, cl = VETH_SERVER, VETH_CLIENT  # (the trace follows packets on these by name)
    sh("ip", "link", "add", sv, "netns", srv.name, "type", "veth", "peer", "name", cl,
       "netns", cli.name)
    sh("ip", "-n", srv.name, "addr", "add", f"{SERVER_ADDR}/24", "dev", sv)
    sh("ip", "-n", cli.name, "addr", "add", f"{CLIENT_ADDR}/24", "dev", cl)
    sh("ip", "-n", srv.name, "link", "set", sv, "up")
    sh("ip", "-n", cli.name, "link", "set", cl, "up")
    # replies to the flood's spoofed sources go to a gateway that never answers
    sh("ip", "-n", srv.name, "neigh", "replace", "198.18.0.3", "lladdr",
       "02:00:00:00:00:03", "dev", sv, "nud", "permanent")
    sh("ip", "-n", srv.name, "route", "add", "198.19.128.0/17", "via", "198.18.0.3")


@contextlib.contextmanager
def _relay_link(srv: Netns, cli: Netns, spec: ScenarioSpec, tag: str,
                stats: dict[str, Any], pcap: str | None = None) -> Iterator[None]:
    devs = {"server": f"tuxs{tag}", "client": f"tuxc{tag}"}
    cfg = {"server_ns": srv.name, "client_ns": cli.name, "server_dev": devs["server"],
           "client_dev": devs["client"], "server_addrs": [SERVER_ADDR],
           "client_addrs": [CLIENT_ADDR], "delay": spec.delay, "loss": spec.loss,
           "seed": spec.seed, "max_s": spec.duration + 600.0, "cpus": agent_cpus()[1],
           "pcap": pcap}
    p = subprocess.Popen([sys.executable, "-m", "tuxtcp.simulate.kernel_relay", json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert p.stdout is not None and p.stdin is not None
        if p.stdout.readline().strip() != "ready":
            p.wait(30)
            raise KernelRunError(f"the kernel link's relay did not start: "
                                 f"{(p.stderr.read() if p.stderr else '').strip()[-300:]}")
        for ns, addr, dev in ((srv, SERVER_ADDR, devs["server"]),
                              (cli, CLIENT_ADDR, devs["client"])):
            sh("ip", "-n", ns.name, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns.name, "link", "set", dev, "up")
        # replies to the flood's spoofed sources reach the relay, which discards them
        sh("ip", "-n", srv.name, "route", "add", "198.19.128.0/17", "dev", devs["server"])
        stats["devices"] = [devs["server"], devs["client"]]  # (as the relay's `reads` number them)
        yield
        p.stdin.close()
        out = p.stdout.read()
        p.wait(30)
        if out.strip():
            stats.update(json.loads(out.strip().splitlines()[-1]))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for pipe in (p.stdin, p.stdout, p.stderr):
            if pipe is not None:
                pipe.close()


def read_jiffies() -> tuple[int, int]:
    """(CLOCK_MONOTONIC ns, jiffies) from /proc/timer_list (root)."""
    now_ns = jiffies = None
    with open("/proc/timer_list") as f:
        for line in f:
            if line.startswith("now at "):
                now_ns = int(line.split()[2])
            elif line.startswith("jiffies:"):
                jiffies = int(line.split()[1])
                break
    if now_ns is None or jiffies is None:
        raise RuntimeError("cannot read jiffies from /proc/timer_list")
    return now_ns, jiffies


def uptime_for(t0_ns: int, ref: tuple[int, int]) -> float:
    """The simulation's uptime0 that puts virtual time 0 at the same jiffies phase as the
    kernel run's start (ticks sit on a 1/HZ grid of CLOCK_MONOTONIC)."""
    from ..net.namespace import INITIAL_JIFFIES
    from ..net.sysctl import HZ

    tick = 1_000_000_000 // HZ
    now_ns, jiffies = ref
    j0 = jiffies + t0_ns // tick - now_ns // tick
    frac = (t0_ns % tick) / tick
    return (j0 - INITIAL_JIFFIES + frac) / HZ


def cpu_times(cpu: int) -> tuple[int, int]:
    """(steal, all) of one CPU's time so far, in USER_HZ ticks (/proc/stat): the steal is
    what the hypervisor ran elsewhere while this virtual CPU wanted to run."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                ticks = [int(x) for x in line.split()[1:]]
                return (ticks[7] if len(ticks) > 7 else 0), sum(ticks[:8])
    return 0, 0


def agent_cpus() -> tuple[list[int], list[int]]:
    """(the CPU of the agents that make the traffic, the CPUs of everything else in a kernel
    run: the sampler, the trace reader, the relay) among those this process may use
    (kernel_agent._pin says why)."""
    here = os.sched_getaffinity(0)
    return [max(here)], sorted(here - {max(here)}) or [max(here)]


@contextlib.contextmanager
def _threads_off(cpu: int) -> Iterator[None]:
    """Every thread of this process (pytest's, an exporter's, ...) off `cpu` while the agents
    run on it (where the process may use another CPU), then back where it was."""
    saved: dict[int, set[int]] = {}
    for tid in (int(t) for t in os.listdir("/proc/self/task")):
        with contextlib.suppress(OSError):
            mine = os.sched_getaffinity(tid)
            if mine - {cpu}:
                os.sched_setaffinity(tid, mine - {cpu})
                saved[tid] = mine
    try:
        yield
    finally:
        for tid, mine in saved.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(tid, mine)


def run_on_kernel(spec: ScenarioSpec, pcap: str | None = None,
                  replayed: bool = False) -> ScenarioResult:
    """The scenario on the kernel (see the module's text). With `pcap` (a relayed scenario:
    `relayed(spec)`), every packet the link carried, lost ones too, as the relay read them,
    timed from the run's start as the simulation's virtual clock is. `replayed`: the run is
    for a replay (`replay_spec`), which starts each client when the kernel's did, so connects
    the agent started late are named (`late_clients`), not a reason to refuse the run."""
    starts = [c.start for c in ScenarioRun(spec).results]  # the same seeded schedule
    if pcap is not None and not relayed(spec):
        raise ValueError("a kernel run's pcap comes from its relay: this scenario's link is "
                         "a veth pair (a delay under a millisecond, no loss)")
    with two_hosts(spec if relayed(spec) else None, pcap) as (srv, cli, link):
        with all_congestion_controls_allowed():  # (a namespace may only pick an allowed one)
            for ns in (srv, cli):
                ns.sysctl("net.ipv4.tcp_congestion_control", spec.congestion_control)
        for k, v in spec.sysctls.items():
            srv.sysctl(k, v)
            if k in CLIENT_SIDE:
                cli.sysctl(k, v)
        before = (srv.netstat(), cli.netstat())
        ref = read_jiffies()
        start_wall = time.time() + 2.0  # every agent has started and listens by then
        start_mono = time.monotonic() + (start_wall - time.time())
        cpus, rest = agent_cpus()
        common = {"start_wall": start_wall, "duration": spec.duration, "addr": SERVER_ADDR,
                  "port": PORT, "cpus": cpus}
        agent = [sys.executable, "-m", "tuxtcp.simulate.kernel_agent"]
        trace = KernelTrace(start_mono, start_mono + spec.duration, CLIENT_ADDR, PORT, rest,
                            veth=not relayed(spec) and not spec.flood_rate)
        steal0 = cpu_times(cpus[0])
        with _threads_off(cpus[0]), trace:
            p_srv = srv.popen(*agent, "server", json.dumps({
                **common, "backlog": spec.backlog, "workers": spec.workers,
                "service_time": spec.service_time, "accept_start": spec.accept_start,
                "response_bytes": spec.response_bytes}))
            p_smp = srv.popen(*agent, "sampler", json.dumps({
                **common, "cpus": rest, "sample_interval": spec.sample_interval}))
            p_cli = cli.popen(*agent, "client", json.dumps({
                **common, "starts": starts, "response_bytes": spec.response_bytes}))
            p_fl = None
            if spec.flood_rate > 0 and spec.flood_duration > 0:
                p_fl = cli.popen(*agent, "flood", json.dumps({
                    **common, "rate": spec.flood_rate, "duration": spec.flood_duration,
                    "start": spec.flood_start, "seed": spec.seed}))
            outs = {}
            for name, p in (("server", p_srv), ("client", p_cli), ("flood", p_fl),
                            ("sampler", p_smp)):
                if p is None:
                    continue
                try:
                    out, err = p.communicate(timeout=spec.duration + 120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    raise KernelRunError(f"the kernel's {name} agent did not finish within "
                                         f"{spec.duration + 120:.0f} s") from None
                if p.returncode != 0:
                    last = (err.strip().splitlines()[-1] if err.strip()
                            else f"exit {p.returncode}")
                    raise KernelRunError(f"the kernel's {name} agent failed: {last}")
                outs[name] = json.loads(out.strip().splitlines()[-1])
        steal1 = cpu_times(cpus[0])
        after = (srv.netstat(), cli.netstat())
        peak_ss = srv.run("ss", "-lnt")
    srv_c = {k: v - before[0].get(k, 0) for k, v in after[0].items()}
    cli_c = {k: v - before[1].get(k, 0) for k, v in after[1].items()}
    for k in ("Tcp.CurrEstab",):
        srv_c[k], cli_c[k] = after[0].get(k, 0), after[1].get(k, 0)
    # the agents share start_wall, so accept instants and client instants have one origin
    clients = [ClientResult(i, c["start"], port=c["port"], established=c["established"],
                            error=c["error"], syn_retrans=c["syn_retrans"],
                            closed=c.get("closed"), received=c.get("received", 0),
                            # the client read the end of the response when it closed
                            completed=c.get("closed") if spec.response_bytes else None)
               for i, c in enumerate(outs["client"]["clients"])]
    accepts_traced = trace.run is not None and traced_accepts(
        outs["server"], trace.run.accepts, outs["client"]["t0_ns"] / 1e9, trace.run.resent_on)
    _match_accepts(clients, outs["server"]["accepted"])
    if trace.run is not None:
        if trace.run.foreign_resets:
            raise KernelRunError(
                f"{trace.run.foreign_resets} TCP resets between other addresses were traced "
                f"during the run (other TCP traffic on this machine), and the drops by reason "
                f"are counted machine-wide, so the comparison would not be fair: run it again "
                f"on a quieter machine", disturbed=True)
        refuse_untraced(trace.run, len(clients))
        apply_trace(clients, trace.run, outs["client"]["t0_ns"] / 1e9)
    server_log = _server_log(outs["server"], clients,
                             None if relayed(spec) else spec.delay)
    # each connect's lateness against its instant: a few late ones are flagged (and named in
    # the per-client comparison); many make a run that follows the schedule unfair
    late_by = {i: c.start - planned for i, (c, planned) in enumerate(zip(clients, starts,
                                                                            strict=False))
               if c.start - planned > LATE_S}
    late = max([c.start - p for c, p in zip(clients, starts, strict=False)] + [0.0])
    steal = (steal1[0] - steal0[0]) / max(1, steal1[1] - steal0[1])
    refuse_unfair(len(late_by), len(clients), late, steal, replayed)
    reads = link.pop("reads", None)
    lags = None
    if reads is not None and trace.run is not None:
        lags = link_lags(reads, [trace.run.dev_queue.get(d, []) for d in link["devices"]],
                         [trace.run.dev_rx.get(d, []) for d in link["devices"]], spec.delay,
                         outs["client"]["t0_ns"] / 1e9)
    samples = [tuple(s) for s in outs["sampler"]["samples"]]
    uptime0 = uptime_for(outs["client"]["t0_ns"], ref)
    if trace.run is not None:
        uptime0 = traced_uptime0(uptime0, trace.run, outs["client"]["t0_ns"] / 1e9)
    peak = max(samples, key=lambda s: s[1] + s[2], default=(0.0, 0, 0))
    if pcap is not None:
        retime(pcap, start_mono)  # the run's instants: 0 is when the clients' schedule began
    return ScenarioResult(spec=spec, clients=clients, samples=samples,
                          server_counters=srv_c, client_counters=cli_c, peak_ss=peak_ss,
                          peak_time=peak[0], peak_proc="", dmesg="",
                          flood_sent=outs.get("flood", {}).get("sent", 0),
                          agent_late={"client": late,
                                      "server": outs["server"].get("max_late", 0.0),
                                      **({"relay": link["worst_late_ms"] / 1000}
                                         if "worst_late_ms" in link else {})},
                          agent_steal=steal,
                          agent_cpus={**{n: o["cpus"] for n, o in outs.items()},
                                      **({"trace": trace.ran_on} if trace.ran_on else {})},
                          relay=link or None, link_lags=lags,
                          late_clients=late_by,
                          server_log=server_log, accepts_traced=accepts_traced,
                          traced_drops=None if trace.run is None else dict(trace.run.drops),
                          traced_drop_sites=None if trace.run is None else _sites(trace.run),
                          traced_drop_first=None if trace.run is None
                          else dict(trace.run.first_drops),
                          traced_resets=None if trace.run is None else list(trace.run.resets),
                          traced_after_close=0 if trace.run is None else trace.run.after_close,
                          traced_acks_in_close=0 if trace.run is None
                          else trace.run.acks_in_close,
                          uptime0=uptime0)


LINK_LAG_MATCH_S = 0.005  # a packet is read at most this long after its batch's instant
# and taken in by the kernel at most this long after the relay began to write it
LINK_RX_MATCH_S = 0.005


def link_lags(reads: list[list[Any]], queued: list[list[tuple[float, int]]],
              received: list[list[tuple[float, int]]], delay: float, t0: float
              ) -> list[tuple[int, int, int, int, int, float, float]]:
    """Each TCP packet the relay delivered (`reads`: kernel_relay's list, in the order it
    read them): (saddr, sport, daddr, dport, index within the flow, lag, sent), where `sent`
    is when the kernel queued it on the relay's device (`queued`, per device: the traced
    net:net_dev_queue instants and lengths), in seconds from `t0`, and `lag` how much later
    than `delay` after that the kernel at the other end took it in (`received`, per device:
    the traced netif_receive_skb of each packet the relay wrote there), or else the relay
    began to write it. A device hands packets over in the order they were queued, and the
    relay writes each way in the order it read, so the reads pair off in order, by length,
    with one device's queueings and the other's receptions; a read with no traced queueing
    (before the trace began) is timed from its read instead.
    The relay reads a packet 30-75 us after the kernel queued it (median and 90th
    percentile on a lossy-link run; up to 2 ms on a busy machine) and writes it a few
    microseconds to milliseconds after its instant: a packet's fate at the other end (a
    delayed ACK's tick, a full accept queue) can turn on that. The write() runs the
    receiving host's TCP on the packet, its answer included, so the instant it returns is
    late by all of that (the replay's RTTs came 50 us long, median, on lossy-link); the
    instant the kernel took the packet in is when that host saw it."""
    at = [0] * len(queued)
    rx_at = [0] * len(received)
    out: list[tuple[int, int, int, int, int, float, float]] = []
    for rec in reads:
        side, length, read_at = int(rec[0]), int(rec[1]), float(rec[2])
        events, j, sent = queued[side], at[side], read_at
        while j < len(events):
            ts, n = events[j]
            if n == length and ts <= read_at + LINK_LAG_MATCH_S:
                sent, j = ts, j + 1  # this read's queueing
                break
            if ts >= read_at:
                break  # queued after this read began: this read was not traced
            j += 1  # queued earlier and never read as such (the relay's reads began later)
        at[side] = j
        if len(rec) != 9 or rec[3] is None:
            continue  # lost, or not delivered before the run ended
        written, arrived = float(rec[3]), float(rec[3])
        to = 1 - side
        if to < len(received):
            taken, k = received[to], rx_at[to]
            while k < len(taken):
                ts, n = taken[k]
                if ts > written + LINK_RX_MATCH_S:
                    break  # not traced (the trace began later, or lost it)
                k += 1
                if n == length and ts >= written:
                    arrived = ts  # this write's reception
                    break
            rx_at[to] = k
        lag = arrived - sent - delay
        if lag > 0.0:
            out.append((int(rec[4]), int(rec[5]), int(rec[6]), int(rec[7]), int(rec[8]),
                        round(lag, 7), round(sent - t0, 7)))
    return out


def _sites(run: TracedRun) -> dict[str, dict[str, int]]:
    """The traced drops by reason, then by the kernel function that freed them."""
    out: dict[str, dict[str, int]] = {}
    for (reason, site), n in run.drop_sites.most_common():
        out.setdefault(reason, {})[site] = n
    return out


def replay_spec(spec: ScenarioSpec, kres: ScenarioResult) -> ScenarioSpec:
    """The simulation of `spec` that replays the kernel run `kres`: the same jiffies phase
    (timer-wheel buckets line up), the kernel clients' connect instants and how long each took
    to close after the server's FIN, the kernel server's accept instants with their service
    ends, the order in which the kernel resent SYNs and SYN-ACKs due on one tick, and when
    each client took its SYN-ACK (over the veth); each client connects from the
    kernel client's port. A client connects when the kernel's SYN went out (traced:
    `syn_out_at`, its queueing on the veth or its timer's arming), else when its agent
    called connect(). Over the relay, each packet is as late on the simulation's link as on
    the kernel's (`link_lags`); over the veth, where a tick's timer softirq came between a
    connect()'s SYN and its client taking the SYN-ACK, which came first (`connects_first`),
    and when the other end took each resent SYN and SYN-ACK and each handshake's ACK in
    (`resent_rx`, `ack_rx`)."""
    return dataclasses.replace(
        spec, uptime0=kres.uptime0, replay_starts=replay_starts(kres.clients),
        replay_accepts=list(kres.server_log),
        replay_close_after=[_close_after(c, bool(kres.relay)) for c in kres.clients],
        replay_ports=[c.port for c in kres.clients],
        replay_link_lags=kres.link_lags,
        replay_fin_ack=[None if c.traced is None else c.traced.fin_ack_at
                        for c in kres.clients],
        replay_fin_ack_held=[_fin_ack_held(c) for c in kres.clients],
        replay_ack_in_release=[c.traced is not None and c.traced.ack_in_release
                               for c in kres.clients],
        replay_resent=[([], []) if c.traced is None else
                       (c.traced.syn_resent_at, c.traced.synack_resent_at)
                       for c in kres.clients],
        replay_resent_rx=resent_rx(kres),
        replay_ack_rx=ack_rx(kres),
        # over the veth only: the relay's lags already place each packet (and a packet held
        # apart from its flow would shift the flow's packet indices its loss is keyed by)
        replay_established=None if kres.relay else
        [None if c.traced is None else c.established for c in kres.clients],
        replay_connects_first=None if kres.relay else connects_first(kres.clients))


def resent_rx(kres: ScenarioResult) -> list[tuple[list[float | None], list[float | None]]] | None:
    """Per client, when the kernel run's server took each resent SYN in and the client each
    resent SYN-ACK (traced over the veth; None: no run's resend was followed)."""
    out = [([], []) if c.traced is None else (c.traced.syn_resent_rx, c.traced.synack_resent_rx)
           for c in kres.clients]
    followed = any(x is not None for syns, synacks in out for x in (*syns, *synacks))
    return out if followed and not kres.relay else None


def ack_rx(kres: ScenarioResult) -> list[tuple[float, float] | None] | None:
    """Per client, when the ACK its kernel run's client sent as it was established was
    queued and when the server took it in (traced over the veth; None: none was
    followed)."""
    out = [None if c.traced is None else c.traced.ack_rx for c in kres.clients]
    return out if any(x is not None for x in out) and not kres.relay else None


# How long a kernel run of `--target both` lasts after the simulation's clients settled
# (kernel_window), and how close to its end a kernel client may still be connecting (cut_short)
WINDOW_MARGIN_S = 10.0
QUIET_S = 5.0


def kernel_window(spec: ScenarioSpec, res: ScenarioResult) -> float:
    """How long a kernel run of `spec` need last, from `res`, the simulation of its own model:
    whole seconds from the instant every client had connected or failed, every accepted one
    was accepted and the listener's queues were empty, plus WINDOW_MARGIN_S (at most the
    scenario's duration; all of it while a client is still connecting at the end). The
    presets run for 40-60 s, most of it idle after their last client (burst's queues empty
    from 5.3 s of 60, capped-backlog's from 3.0 s, lossy-link's last connection at 6.5 s,
    slow-accept's queues empty from 20.8 s of 40), and the kernel side runs in real time;
    a syn-flood's requests fill the SYN queue until its end."""
    busy = [t for t, synq, acceptq in res.samples if synq or acceptq]
    settled = [0.0]
    for c in res.clients:
        if c.established is None and not c.error:
            return spec.duration  # still connecting at the end
        settled += [t for t in (c.established, c.accepted) if t is not None]
    last = max(settled + busy)
    return float(min(spec.duration, math.ceil(last + WINDOW_MARGIN_S)))


def cut_short(duration: float, kres: ScenarioResult) -> list[int]:
    """The kernel run's clients (first ten) that its end may have cut short: still connecting,
    or established within QUIET_S of it."""
    late = [c.index for c in kres.clients
            if (c.established is None and not c.error)
            or (c.established is not None and c.established > duration - QUIET_S)]
    return late[:10]


def replay_starts(clients: list[ClientResult]) -> list[float]:
    """Each client's connect instant for the replay: when the kernel sent its SYN where the
    trace says (kernel_trace: the SYN's timer armed, the listener has the SYN then), else the
    agent's instant, read before connect() (5-180 us earlier). The simulation starts the
    clients in index order, as the agent did: never before the one before."""
    out: list[float] = []
    for c in clients:
        t = c.traced.syn_out_at if c.traced is not None and c.traced.syn_out_at is not None \
            else c.start
        out.append(max(t, out[-1]) if out else t)
    return out


# a tick's timer softirq sends its resends within tens of microseconds (60 us at most seen
# on slow-accept); ticks are 4 ms apart
SOFTIRQ_SPAN_S = 0.0005


def connects_first(clients: list[ClientResult]) -> list[tuple[float, float]]:
    """The ticks of a kernel run whose timer softirq resent SYNs or SYN-ACKs after a client's
    connect() had sent its SYN (traced: `syn_out_at`) and before that client took the SYN-ACK
    (`established`, within HOLD_MAX_S), where that client took it ahead of the packets those
    resends set off: a client whose resent SYN was answered on that tick was established only
    after it. Each as (the softirq's first resend, the instant the connect's client took its
    SYN-ACK).

    The answer to a connect()'s SYN waits for the client socket that connect() holds
    (lock_sock). On the agents' CPU, where the timer softirq runs too, the connect can take
    it before that softirq's packets have been through NET_RX (slow-accept: client 1230
    established 34 us after its SYN, 29 us after the softirq's first resend and ahead of the
    client whose SYN it resent, while the ACKs to the SYN-ACKs it resent met the queue its
    handshake had filled; 5 such ticks in 22 runs) or after them (13 ticks: the connect
    established 61-250 us after its SYN, behind every client of the softirq's resent SYNs),
    as the softirq handed NET_RX to ksoftirqd or ran it itself."""
    resent: list[tuple[float, int, bool]] = []  # (instant, client, a SYN)
    for c in clients:
        if c.traced is not None:
            resent += [(at, c.index, True) for at in c.traced.syn_resent_at]
            resent += [(at, c.index, False) for at in c.traced.synack_resent_at]
    resent.sort()
    times = [at for at, _, _ in resent]
    by_index = {c.index: c for c in clients}
    out: list[tuple[float, float]] = []
    for c in clients:
        sent = c.traced.syn_out_at if c.traced is not None else None
        took = c.established
        if sent is None or took is None or not 0.0 < took - sent <= HOLD_MAX_S:
            continue
        k = bisect.bisect_right(times, sent)
        if k == len(times) or times[k] >= took:
            continue
        first = times[k]
        after = []  # when the clients of that softirq's answered SYNs were established
        for at, index, syn in resent[k:]:
            if at >= first + SOFTIRQ_SPAN_S:
                break
            est = by_index[index].established
            if syn and est is not None and 0.0 < est - at <= HOLD_MAX_S:
                after.append(est)
        if after and min(after) > took:
            out.append((first, took))
    return out


def _close_after(c: ClientResult, relayed_run: bool) -> float | None:
    """How long the kernel client took to close after the server's FIN reached it (traced:
    CLOSE_WAIT to LAST_ACK), else after that FIN left the server (FIN_WAIT1); None untraced.
    Over the relay, to when that close() armed its FIN's timer (traced), tens of
    microseconds after its LAST_ACK, where a tick can come between: the jiffies it read set
    when the FIN goes again, and the replay's FIN reaches the server when the kernel's did
    wherever it leaves within Link.lags' reach (REPLAY_SAME_S)."""
    tr = c.traced
    if c.closed is None or tr is None:
        return None
    fin = tr.fin_seen if tr.fin_seen is not None else tr.served_until
    closed = tr.fin_timer_at if relayed_run and tr.fin_timer_at is not None else c.closed
    return None if fin is None else max(0.0, closed - fin)


def _fin_ack_held(c: ClientResult) -> bool:
    """Whether the kernel client armed its delayed ACK of the server's FIN (traced) and
    closed without that ACK having gone out alone: its FIN carried it. The timer had not
    fired, or fired with the client's close() holding the socket (tcp_delack_timer defers to
    release_sock, which finds the ACK sent with the FIN)."""
    tr = c.traced
    return (tr is not None and tr.fin_ack_armed is not None and c.closed is not None
            and tr.fin_ack_alone is False)


ACCEPT_TRACE_MAX_S = 0.1  # a traced accept4() further than this from the agent's reading: not its


def traced_accepts(server: dict[str, Any],
                   accepts: dict[int, list[tuple[float, float, int, float | None]]],
                   t0: float, resent_on: list[tuple[float, int]] | None = None) -> bool:
    """Put the instant the kernel saw each of the server agent's accept() calls that took a
    connection (traced: sys_enter_accept4, CLOCK_MONOTONIC) in place of the agent's own
    reading before the call, when the trace has them all: the same number, in order, each
    within ACCEPT_TRACE_MAX_S of the agent's reading. The call follows the reading by a few
    microseconds (1-7 us, 99th percentile, 151 us at most on a slow-accept run), but a
    preempted agent falls between them: on a busy machine its readings before and after an
    accept() were up to 29 ms apart, and the replay would have dequeued that early. Whether
    it did.

    Where a tick's timer softirq resent a SYN or SYN-ACK (`resent_on`) on the call's CPU
    between its entry and its return (sys_exit_accept4), the interrupt came inside the call:
    the accept took its connection off the queue only after the softirq, and the packets its
    resends set off, had run (softirq_inside), so the instant is the return. (slow-accept: in
    3 of 10 kernel runs, each once; the replay had dequeued ahead of the softirq and 1,984 and
    1,992 of 2,000 clients agreed, 2,000 from the return.)

    Where the trace saw the call take its connection off the queue (`dequeued`:
    kernel_trace.dequeue, from the free of its request), that instant is the accept's,
    wherever an interrupt came: 5 us after the entry as a rule, but a call can be slow
    before it too. (A tick's softirq 36 us into an accept4() that had dequeued at 5 us: the
    return put the accept after the resends' answers, and 1,954 of 2,000 clients agreed,
    2,000 from the dequeue.)"""
    mine = accepts.get(int(server.get("pid", -1)), [])
    acc = server["accepted"]
    if not acc or len(mine) != len(acc):
        return False
    if any(not -ACCEPT_TRACE_MAX_S < a[0] - (entered - t0) <= ACCEPT_TRACE_MAX_S
           for a, (entered, _, _, _) in zip(acc, mine, strict=True)):
        return False
    inside = softirq_inside(resent_on or [])
    for a, (entered, returned, cpu, dequeued) in zip(acc, mine, strict=True):
        if dequeued is not None and entered <= dequeued <= returned:
            a[0] = dequeued - t0
        else:
            a[0] = (returned if inside(entered, returned, cpu) else entered) - t0
    return True


def softirq_inside(resent_on: list[tuple[float, int]]) -> Callable[[float, float, int], bool]:
    """`inside(start, end, cpu)`: whether a SYN or SYN-ACK was resent (by a tick's timer
    softirq) on `cpu` strictly between `start` and `end`."""
    by_cpu: dict[int, list[float]] = {}
    for at, cpu in sorted(resent_on):
        by_cpu.setdefault(cpu, []).append(at)

    def inside(start: float, end: float, cpu: int) -> bool:
        times = by_cpu.get(cpu, [])
        i = bisect.bisect_right(times, start)
        return i < len(times) and times[i] < end
    return inside


def _match_accepts(clients: list[ClientResult], accepted: list[list[Any]]) -> None:
    """Give each accept record (instant, peer port, SYN-ACK retransmissions) to its client: the
    last one to use that port before the accept (the port alone can name two clients of one
    run)."""
    by_port = owners(clients)
    for t, port, retrans in accepted:
        owner = owner_at(by_port, port, t)
        if owner is not None and owner.accepted is None:
            owner.accepted, owner.synack_retrans = t, retrans


def _server_log(server: dict[str, Any], clients: list[ClientResult],
                veth: float | None = None) -> list[tuple[float, float]]:
    """(accept instant, service end) of each accepted connection, in accept order. The end is
    the instant the kernel sent the server's FIN (traced), else the agent's record of that
    close (the first for the peer's port after the accept: a port comes back), else, for a
    service still running at the end of the run, the last instant seen.

    Over a veth (`veth`: its delay) the end is when that FIN reached the client (traced:
    CLOSE_WAIT) less the delay, where that is later: the client's kernel took the FIN
    29-50 us after the server's sent it (medians of four slow-accept runs; 70-113 us at the
    99th percentile, up to 2.2 ms), where the veth's delay is 5.
    Whether a tick falls between the FIN's arrival and the client's close decides whether
    the client's delayed ACK goes out alone (then the server frees the client's FIN as
    NOT_SPECIFIED, else as QUEUE_PURGE): replayed from the FIN's sending, the simulation
    had a FIN arrive before a tick the kernel's came after for 30-40 clients of 2,000
    (NOT_SPECIFIED 198, 159, 161, 185 against the kernel's 160, 142, 143, 156 on four
    slow-accept runs; 178, 146, 148, 163 from the arrival). Over the relay the link's own
    lags carry it (link_lags)."""
    served: dict[float, float] = {}
    for c in clients:
        tr = c.traced
        if c.accepted is None or tr is None or tr.served_until is None:
            continue
        arrived = (tr.fin_seen - veth if veth is not None and tr.fin_seen is not None
                   else tr.served_until)
        served[c.accepted] = max(tr.served_until, arrived)
    closes: dict[int, list[float]] = {}
    for t, port in sorted(server.get("closed", [])):
        closes.setdefault(port, []).append(t)
    last = max([t for t, _ in server.get("closed", [])] +
               [t for t, _, _ in server["accepted"]] + [0.0])
    out = []
    for t, port, _ in server["accepted"]:
        end = served.get(t)
        if end is None:
            end = next((c for c in closes.get(port, []) if c >= t), last)
        out.append((t, end))
    return out


# drops of the kernel's test network, not of either host's TCP: the SYN-ACKs to a flood's
# spoofed sources leave the server towards a gateway that never answers, and the client
# namespace, on the same veth, discards those frames addressed to another MAC (ip_rcv_core:
# OTHERHOST); in the simulation they leave the world
TESTBED_DROPS = frozenset({"OTHERHOST"})

LATE_S = 0.005  # a connect started later than this after its instant is "late"
LATE_SHARE = 0.01  # more late connects than this share: the run is not a fair measurement
STEAL_SHARE = 0.05  # the agents' CPU stolen by the hypervisor for more of the run: not fair
# (a small scenario, such as a validation variant, tolerates none: one late connect there
# changes which SYN meets a full queue)


def refuse_unfair(late_connects: int, clients: int, worst_late: float, steal: float,
                  replayed: bool) -> None:
    """Raise KernelRunError (`disturbed`) for a kernel run that cannot be compared fairly:
    the host stole more than STEAL_SHARE of the agents' CPU (the kernel's own timers and
    softirqs waited with them, which no replay follows), or, for a run meant to follow the
    scenario's schedule (--target kernel, --no-replay: not `replayed`), more than LATE_SHARE
    of its connects started over LATE_S late. A replay starts each client at the kernel's own
    instant, late or not, so late connects leave it fair (seen on a machine whose agents'
    CPU was held 20-30 ms at a time: 122-175 of 2,000 connects late, 1,992-1,998 clients
    agreeing on three runs of five)."""
    if not replayed and late_connects > LATE_SHARE * clients:  # under 100: none may be late
        raise KernelRunError(f"the kernel's client agent started {late_connects} of {clients} "
                             f"connects more than {LATE_S * 1000:.0f} ms late (at worst "
                             f"{worst_late * 1000:.1f} ms: the machine was busy; the host "
                             f"stole {steal:.1%} of the agents' CPU), so the run did not "
                             f"follow the scenario's schedule: run it again, a smaller "
                             f"scenario (fewer clients, a lower rate), or --target both, "
                             f"whose replay starts each client when the kernel's did",
                             disturbed=True)
    if steal > STEAL_SHARE:
        raise KernelRunError(f"the hypervisor held back the agents' CPU for {steal:.0%} of "
                             f"the run (steal time; {late_connects} connects more than "
                             f"{LATE_S * 1000:.0f} ms late), so the comparison would not be "
                             f"fair: run it again on a quieter machine", disturbed=True)


def refuse_untraced(run: TracedRun, clients: int) -> None:
    """Raise KernelRunError (`disturbed`) for a run whose trace is not whole: the ring buffer
    overwrote events before the reader took them (a busy machine), or more connect()s from
    the client's address to the server's port were traced than the run made (another run
    on this machine: the tracepoints are machine-wide). Either would replay other instants
    than the kernel's (a client's connect from its agent's clock: 1,944-1,972 of 2,000
    slow-accept clients agreeing)."""
    if run.lost:
        raise KernelRunError(f"the kernel's trace lost {run.lost} events (its reader fell "
                             f"behind: the machine was busy), so the replay would not follow "
                             f"the kernel: run it again", disturbed=True)
    if len(run.connects) > clients:
        raise KernelRunError(f"{len(run.connects)} connects to the server were traced for "
                             f"{clients} clients (another run on this machine?), so the "
                             f"replay would not follow the kernel: run it again on a quieter "
                             f"machine", disturbed=True)


class KernelRunError(RuntimeError):
    """The kernel run could not be made or measured fairly (one line for the user);
    `disturbed`: the machine was busy or had other TCP traffic, so running it again may do."""

    def __init__(self, message: str, disturbed: bool = False) -> None:
        super().__init__(message)
        self.disturbed = disturbed


def times_close(sim: float, kernel: float) -> bool:
    """A simulated time against the kernel's: within 5%, or 10 ms for short ones (the
    kernel's timers tick in 4 ms jiffies)."""
    return abs(sim - kernel) <= max(0.05 * kernel, 0.010)


def client_differences(sim: list[ClientResult], kern: list[ClientResult],
                       limit: int = 10, late: dict[int, float] | None = None,
                       ) -> tuple[int, list[dict[str, Any]]]:
    """Clients by index (the same arrival instants on both sides) compared: the number that
    agree (same SYN and SYN-ACK retransmissions, both accepted or neither, connect times
    within 10 ms or 5%) and the first `limit` that do not, each with both sides' facts and
    what differs (`late`: clients whose kernel connect started late, by how much, named in
    the reason)."""
    agree = 0
    diffs: list[dict[str, Any]] = []
    late = late or {}
    for a, b in zip(sim, kern, strict=False):
        why = []
        if a.syn_retrans != b.syn_retrans:
            # a SYN met a full queue (or was lost) on one side only
            why.append(f"SYNs sent {a.syn_retrans + 1} vs {b.syn_retrans + 1}")
        if a.synack_retrans != b.synack_retrans:
            # a final ACK met a full accept queue (or was lost) on one side only
            why.append(f"SYN-ACKs resent {a.synack_retrans} vs {b.synack_retrans}")
        if (a.accepted is None) != (b.accepted is None):
            side = "kernel" if a.accepted is None else "simulation"
            why.append(f"accepted in the {side} only")
        la, lb = a.latency, b.latency
        if (la is None) != (lb is None):
            why.append("connected on one side only")
        elif la is not None and lb is not None and not times_close(la, lb):
            why.append(f"connect {la * 1000:.1f} vs {lb * 1000:.1f} ms")
        if why and a.index in late:
            why.append(f"kernel connect started {late[a.index] * 1000:.1f} ms late")
        if not why:
            agree += 1
        elif len(diffs) < limit:
            diffs.append({"client": a.index, "start_s": round(a.start, 4),
                          "sim": _client_facts(a), "kernel": _client_facts(b),
                          "why": "; ".join(why)})
    return agree, diffs


def _client_facts(c: ClientResult) -> dict[str, Any]:
    return {"syn_retrans": c.syn_retrans, "synack_retrans": c.synack_retrans,
            "accepted": c.accepted is not None,
            "connect_ms": None if c.latency is None else round(c.latency * 1000, 1),
            "outcome": c.outcome}


def compare(sim: dict[str, Any], kern: dict[str, Any],
            counters: tuple[str, ...]) -> list[tuple[str, Any, Any, bool]]:
    """Rows (what, simulation, kernel, agrees). Counters must be equal; latency percentiles
    within 5%, or 10 ms for sub-second values: the kernel's timer granularity (4 ms jiffies)
    plus softirq queueing of a SYN flood on a 2-core machine, which the simulation, whose
    packet processing takes no time, does not have."""
    rows = []
    for side in ("server", "client"):
        for k in counters:
            a, b = sim["counters"][side].get(k, 0), kern["counters"][side].get(k, 0)
            rows.append((f"{side} {k}", a, b, a == b))
    traced = kern.get("drops", {}).get("both")
    if traced is not None:
        # the kernel's drops come from its tracepoint for both namespaces together
        ours = Counter(sim["drops"]["server"]) + Counter(sim["drops"]["client"])
        for reason in dict.fromkeys([*ours, *traced]):
            if reason in TESTBED_DROPS:
                continue
            a, b = ours.get(reason, 0), traced.get(reason, 0)
            rows.append((f"drops {reason}", a, b, a == b))
    for p in ("p50", "p90", "p99"):
        a, b = sim["latency_s"][p], kern["latency_s"][p]
        ok = a is not None and b is not None and times_close(a, b)
        rows.append((f"latency {p}", a, b, ok))
    if "response" in sim and "response" in kern:
        # a transfer's losses and how they were repaired, and the time to a whole response
        a, b = sim["response"]["complete"], kern["response"]["complete"]
        rows.append(("whole responses read", a, b, a == b))
        for side in ("server", "client"):
            for k, a in sim["recovery"][side].items():
                if k in counters:
                    continue
                b = kern["recovery"][side].get(k, 0)
                rows.append((f"{side} {k}", a, b, a == b))
        for p in ("p50", "p90", "p99"):
            a, b = sim["response"]["time_s"][p], kern["response"]["time_s"][p]
            ok = a is not None and b is not None and times_close(a, b)
            rows.append((f"response time {p}", a, b, ok))
    return rows


__all__ = ["Any", "KernelRunError", "client_differences", "compare", "cut_short",
           "kernel_window", "replay_spec", "replay_starts",
           "run_on_kernel", "two_hosts"]
