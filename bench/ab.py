"""Before/after workloads that use only the public API, so the same file runs on two builds of
tuxtcp side by side (an older commit's venv and this one's): each prints one JSON line.

    python bench/ab.py slow-accept [S]  # the 1M-attempt slow-accept run (10k/s for S=100 s)
    python bench/ab.py cookies [N]      # engine only: N=200k cookie SYN-ACKs
    python bench/ab.py handshakes       # 20k full connections through the socket API
    python bench/ab.py memory           # bytes per half-open request / per idle connection end
    python bench/ab.py handshakes --trace   # the same with a subscriber on every tracepoint
    python bench/ab.py transfer [MiB] [loss]  # one bulk transfer (100 MiB, lossless)
    python bench/ab.py flood [CONNS] [SEGS]   # peers ignoring the window (bench/flood.py)

Memory is measured with tracemalloc started before any object of the measured set exists
(the client sockets and both ends of each connection count), after a full collection.

Instruction counts (repeatable on a noisy machine): run a workload at two sizes under
`valgrind --tool=callgrind` and divide the difference by the difference in work, so the
interpreter's start-up cancels out (see bench/RESULTS.md).
"""

from __future__ import annotations

import gc
import json
import sys
import time
import tracemalloc
from typing import Any

import tuxtcp
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment


def slow_accept(seconds: float = 100.0, rate: float = 10_000.0) -> dict[str, Any]:
    """`slow-accept` at `rate` arrivals/s for `seconds` virtual seconds: one accept loop at
    100 us per connection (exactly the mean arrival rate), so Poisson bursts overflow
    listen(128) and dropped SYNs are retried. attempts = SYNs the clients sent."""
    from tuxtcp.sim.scenario import ScenarioRun
    from tuxtcp.simulate.presets import build_spec

    spec = build_spec("slow-accept", None, [f"clients={int(rate * seconds)}", f"rate={rate}",
                                            "backlog=128", "service_time=0.0001",
                                            f"duration={seconds + 5}", "client_addresses=64",
                                            "sample_interval=1.0"])
    t0 = time.perf_counter()
    res = ScenarioRun(spec).run(steps=1)
    wall = time.perf_counter() - t0
    attempts = res.client_counters["Tcp.ActiveOpens"] + res.client_counters["Tcp.RetransSegs"]
    return {"wall_s": wall, "attempts": attempts,
            "ListenOverflows": res.server_counters["TcpExt.ListenOverflows"]}


_KEEP: list[object] = []  # listeners stay open for the run


def _server(backlog: int) -> tuple[tuxtcp.World, tuxtcp.Host]:
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    srv.sysctl["net.core.somaxconn"] = 1 << 20
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(backlog)
    _KEEP.append(ls)
    return w, srv


def _syns(n: int, base: str) -> list[Packet]:
    dst = ip_to_int("198.18.0.1")
    b = ip_to_int(base)
    return [Packet(b | (i & 0x7FFF), dst,
                   TcpSegment(1024 + (i % 60000), 80, i * 7919, 0, SYN, 64240, mss=1460,
                              wscale=7, sack_perm=True, tsval=i, tsecr=0))
            for i in range(n)]


def cookies(n: int = 200_000) -> dict[str, Any]:
    w, srv = _server(4096)
    srv.sysctl["net.ipv4.tcp_syncookies"] = 2
    ns = srv.ns
    pkts = _syns(n, "198.19.128.0")
    t0 = time.perf_counter()
    for p in pkts:
        ns.deliver(p, 1.0)
        if len(ns.outbox) > 4096:
            ns.outbox.clear()
    wall = time.perf_counter() - t0
    assert srv.counters["SyncookiesSent"] == n
    return {"wall_s": round(wall, 3), "syn_per_s": round(n / wall)}


def handshakes(n: int = 20_000, trace: bool = False, seed: int = 1) -> dict[str, Any]:
    """n full connections (connect -> accept -> close on both ends) in the simulation; the
    server closes first, so TIME_WAIT piles up on the server."""
    w = tuxtcp.World(seed=seed)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=0.0001)
    seen = [0]
    if trace:
        def count(ev: object) -> None:
            seen[0] += 1

        srv.trace(count)
        cli.trace(count)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(4096)
    t0 = time.perf_counter()
    for _ in range(n):
        c = cli.socket()
        c.connect(("198.18.0.1", 80))
        conn, _ = ls.accept()
        conn.close()
        w.run(0.0005)
        c.close()
    w.run(0.01)
    wall = time.perf_counter() - t0
    assert srv.counters["PassiveOpens"] == n and cli.counters["ActiveOpens"] == n
    return {"wall_s": wall, "conn_per_s": round(n / wall), "events": seen[0]}


def memory_per_request(n: int = 5000) -> float:
    """Bytes per half-open request: SYNs from distinct sources into the SYN queue (no
    cookies), traced from before the first SYN."""
    w, srv = _server(n + 10)
    srv.sysctl["net.ipv4.tcp_syncookies"] = 0
    srv.sysctl["net.ipv4.tcp_max_syn_backlog"] = 10 * n
    ns = srv.ns
    pkts = _syns(n, "198.19.0.0")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for p in pkts:
        ns.deliver(p, 1.0)
        ns.outbox.clear()
    gc.collect()
    per_req = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    return per_req


def memory_per_connection_end(n: int = 2000) -> float:
    """Bytes per idle established connection end: tracing starts before any socket of the
    measured set exists (client sockets included), after the delayed ACKs; both ends count."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(4096)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    clients = []
    for _ in range(n):
        c = cli.socket()
        c.setblocking(False)
        c.connect_ex(("198.18.0.1", 80))
        clients.append(c)
    w.run(0.1)
    accepted = [ls.accept()[0] for _ in range(n)]
    w.run(1.0)
    gc.collect()
    per_end = (tracemalloc.get_traced_memory()[0] - before) / (2 * n)
    tracemalloc.stop()
    assert len(accepted) == n
    return per_end


def memory() -> dict[str, Any]:
    return {"bytes_per_request": round(memory_per_request()),
            "bytes_per_connection_end": round(memory_per_connection_end())}


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "handshakes"
    nums = [float(a) for a in argv[1:] if not a.startswith("-")]
    if what == "slow-accept":
        out = slow_accept(*nums[:1])
    elif what == "cookies":
        out = cookies(*[int(x) for x in nums[:1]])
    elif what == "handshakes":
        out = handshakes(trace="--trace" in argv)
    elif what == "memory":
        out = memory()
    elif what == "transfer":
        from workloads import goodput  # the same bulk transfer as make bench's goodput

        out = dict(goodput(int((nums[0] if nums else 100) * (1 << 20)),
                           nums[1] if len(nums) > 1 else 0.0))
    elif what == "flood":
        from flood import flood

        out = flood(*[int(x) for x in nums[:2]])
    else:
        print(__doc__)
        return 2
    out["what"] = what
    out["tuxtcp"] = tuxtcp.__file__
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
