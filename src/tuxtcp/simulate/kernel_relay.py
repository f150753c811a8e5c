"""The kernel target's link when a scenario asks for delay or loss: this kernel has no netem (and
no act_gact or nft here), so a userspace relay stands in for the wire.

`python -m tuxtcp.simulate.kernel_relay CONFIG` (root) creates two TUN devices, moves one into
each namespace, prints "ready" and relays IPv4 between them until its stdin closes (or
`max_s` passes), then prints one JSON line of what it did. The namespaces route the other
host's addresses through their device; the caller gives them addresses and brings them up.

With "pcap" in its config it records every IPv4 packet it reads (the lost ones too) at the
instant it read it, in CLOCK_MONOTONIC seconds.

Its JSON line also lists every packet it read, in order (`reads`, up to MAX_READS): the
device (0 the server's, 1 the client's), the length, the instant it read it and, for a TCP
packet it delivered, the instant it began to write it to the other device and the packet's
flow and index within the flow. With the instants the kernel queued each packet on one
device and took it in from the other (tracefs: net:net_dev_queue, net:netif_receive_skb)
these give each delivered packet's lag beyond `delay`, which a replay gives the simulation's
link (`simulate/kernel.py`, link_lags).

Between the two hosts each packet arrives `delay` seconds after the relay read it, unless
`link/flowloss.py` loses it: the same function of (seed, source, destination, index within the
flow) the simulation's link uses, so where both sides send the same packets on a flow, both
lose the same ones. As in the simulation, spoofed SYNs (a flood from sources that are not the
client's) skip the link, and what the server sends to those sources goes nowhere.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import select
import subprocess
import sys
import time
from typing import Any, Final

from ..link.flowloss import FlowLoss
from ..link.tun import Tun
from ..sim.scenario import ScenarioSpec
from ..wire.ipv4 import ip_to_int
from ..wire.pcap import PcapTap

RELAY_MIN_DELAY: Final = 0.001  # a scenario delay from here up is relayed; below, a veth's 5 us
SPIN_S: Final = 0.0003  # closer than this to a due instant, poll without sleeping
READS_PER_WAKE: Final = 256  # datagrams read from one device before looking at the clock
MAX_QUEUED: Final = 100_000  # packets in flight on the relay at most (then tail drop)
# packets listed in `reads` at most (then `reads_cut`: later packets keep no lag): about
# 35,000 clients of a lossy-link-like scenario (about 7 packets each), 270 bytes an entry:
# under 70 MB in this process
MAX_READS: Final = 250_000


def relayed(spec: ScenarioSpec) -> bool:
    """Whether the kernel run of `spec` needs the relay (loss, or a delay a veth without netem
    cannot give) rather than a veth pair."""
    return spec.loss > 0 or spec.delay >= RELAY_MIN_DELAY


class Relay:
    """The relay's decisions, apart from its devices (tests drive it with datagrams)."""

    def __init__(self, server_addrs: list[str], client_addrs: list[str], delay: float,
                 loss: float, seed: int) -> None:
        self.server = {ip_to_int(a) for a in server_addrs}
        self.client = {ip_to_int(a) for a in client_addrs}
        self.delay = delay
        self.flows = FlowLoss(seed, loss)
        self.stats = {"forwarded": 0, "lost": 0, "spoofed": 0, "discarded": 0, "overflow": 0}
        # the TCP flow (saddr, sport, daddr, dport) and index within it of the packet decide()
        # last delivered across the link (None: not TCP, or not across the link)
        self.last: tuple[int, int, int, int, int] | None = None

    def decide(self, datagram: bytes, from_client: bool) -> float | None:
        """How long after it was read `datagram` is delivered to the other side (None: it is
        not: lost, or nobody there owns its destination)."""
        self.last = None
        if len(datagram) < 20 or datagram[0] >> 4 != 4:
            self.stats["discarded"] += 1  # not IPv4 (a router solicitation, ...)
            return None
        src = int.from_bytes(datagram[12:16], "big")
        dst = int.from_bytes(datagram[16:20], "big")
        here, there = (self.client, self.server) if from_client else (self.server, self.client)
        if dst not in there:
            self.stats["discarded"] += 1  # to a spoofed source: the gateway never answers
            return None
        if src not in here:
            self.stats["spoofed"] += 1  # injected in the simulation: no link to cross
            return 0.0
        ihl = (datagram[0] & 0x0F) * 4
        sport = dport = 0
        if datagram[9] == 6 and len(datagram) >= ihl + 4:  # TCP: its ports name the flow
            sport = int.from_bytes(datagram[ihl:ihl + 2], "big")
            dport = int.from_bytes(datagram[ihl + 2:ihl + 4], "big")
        n = self.flows.take(src, sport, dst, dport)
        if n < 0:
            self.stats["lost"] += 1
            return None
        self.stats["forwarded"] += 1
        if datagram[9] == 6:
            self.last = (src, sport, dst, dport, n)
        return self.delay


def serve(cfg: dict[str, Any]) -> dict[str, Any]:
    relay = Relay(cfg["server_addrs"], cfg["client_addrs"], float(cfg["delay"]),
                  float(cfg["loss"]), int(cfg["seed"]))
    srv, cli = Tun(cfg["server_dev"]), Tun(cfg["client_dev"])
    try:
        for tun, ns in ((srv, cfg["server_ns"]), (cli, cfg["client_ns"])):
            subprocess.run(["ip", "link", "set", tun.name, "netns", ns], check=True,
                           capture_output=True, timeout=30)
        # the wire comes first: a real-time thread (it sleeps in select() between packets;
        # the kernel keeps 5% of each second for others) ahead of the agents (nice -10), on
        # the CPUs they leave (on theirs, a real-time thread would preempt them)
        if cfg.get("cpus"):
            os.sched_setaffinity(0, cfg["cpus"])
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        tap = PcapTap(cfg["pcap"]) if cfg.get("pcap") else None
        print("ready", flush=True)
        try:
            return _relay(relay, srv, cli, float(cfg.get("max_s", 3600.0)), tap)
        finally:
            if tap is not None:
                tap.close()
    finally:
        srv.close()
        cli.close()


def _relay(relay: Relay, srv: Tun, cli: Tun, max_s: float,
           tap: PcapTap | None = None) -> dict[str, Any]:
    # (due, order, device fd, datagram, its entry in `reads` or None)
    queue: list[tuple[float, int, int, bytes, list[Any] | None]] = []
    reads: list[list[Any]] = []  # [device, length, read at (, written at, flow..., index)]
    order = 0
    worst = 0.0
    late = 0  # packets delivered more than a millisecond after their instant
    other = {srv.fd: cli.fd, cli.fd: srv.fd}
    stdin = sys.stdin.fileno()
    end = time.monotonic() + max_s
    while True:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            due, _, fd, data, rec = heapq.heappop(queue)
            worst = max(worst, now - due)
            late += now - due > 0.001
            try:
                os.write(fd, data)
            except OSError:
                relay.stats["discarded"] += 1  # the device went down: the run is ending
                rec = None
            if rec is not None:
                rec[3] = now  # as the write began (the write runs the host's TCP on it)
            now = time.monotonic()
        if now >= end:
            break
        wait = min(queue[0][0] - now, 0.5) if queue else 0.5
        ready, _, _ = select.select([srv.fd, cli.fd, stdin], [], [],
                                    0.0 if wait < SPIN_S else wait - SPIN_S)
        if stdin in ready:
            break  # the caller closed our stdin: the run is over
        for fd in ready:
            read_at = time.monotonic()
            for _ in range(READS_PER_WAKE):
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if tap is not None and data and data[0] >> 4 == 4:
                    tap.write(read_at, data)
                after = relay.decide(data, from_client=fd == cli.fd)
                entry: list[Any] | None = None
                if len(reads) < MAX_READS:
                    entry = [int(fd == cli.fd), len(data), read_at]
                    reads.append(entry)
                if after is None:
                    continue
                if len(queue) >= MAX_QUEUED:
                    relay.stats["overflow"] += 1
                    continue
                order += 1
                if entry is not None and relay.last is not None:
                    entry += [None, *relay.last]
                else:
                    entry = None
                heapq.heappush(queue, (read_at + after, order, other[fd], data, entry))
    return {**relay.stats, "in_flight": len(queue), "worst_late_ms": round(worst * 1000, 3),
            "late_over_1ms": late, "reads": reads, "reads_cut": len(reads) >= MAX_READS}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(serve(json.loads(args[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
