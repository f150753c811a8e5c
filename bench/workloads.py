"""Workloads shared by the benchmarks (also runnable alone: python bench/workloads.py)."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import ab
import tuxtcp
from tuxtcp.tcp.engine import Namespace
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import SYN, TcpSegment


def sim_handshakes(n: int, seed: int = 1) -> float:
    """n full connections in the simulation (bench/ab.py:handshakes). Returns wall seconds."""
    return float(ab.handshakes(n, seed=seed)["wall_s"])


def kernel_handshakes(n: int) -> float:
    """The same loop against the host kernel on loopback, in this process."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4096)
    addr = ls.getsockname()
    t0 = time.perf_counter()
    for _ in range(n):
        c = socket.socket()
        c.connect(addr)
        conn, _ = ls.accept()
        conn.close()
        c.close()
    dt = time.perf_counter() - t0
    ls.close()
    return dt


def cookie_synacks(n: int) -> float:
    """Engine only: n SYNs from distinct spoofed sources answered with cookie SYN-ACKs
    (tcp_syncookies=2), no link cost. Returns wall seconds."""
    ns = Namespace("srv", ["198.18.0.1"], seed=1)
    ns.sysctl["net.ipv4.tcp_syncookies"] = 2
    from tests_support import listen_on

    listen_on(ns, 80)
    dst = ip_to_int("198.18.0.1")
    base = ip_to_int("198.19.128.0")
    pkts = [Packet(base | (i & 0x7FFF), dst,
                   TcpSegment(1024 + (i % 60000), 80, i * 7919, 0, SYN, 64240, mss=1460,
                              wscale=7, sack_perm=True, tsval=i, tsecr=0))
            for i in range(n)]
    t0 = time.perf_counter()
    for p in pkts:
        ns.deliver(p, 1.0)
        if len(ns.outbox) > 4096:
            ns.outbox.clear()
    dt = time.perf_counter() - t0
    assert ns.mib["SyncookiesSent"] == n
    return dt


def memory_per_request(n: int = 5000) -> float:
    return ab.memory_per_request(n)


def memory_per_connection(n: int = 2000) -> float:
    return ab.memory_per_connection_end(n)


if __name__ == "__main__":
    for n in (10_000,):
        print(f"sim {n}: {n / sim_handshakes(n):.0f}/s  kernel: {n / kernel_handshakes(n):.0f}/s")
    print(f"cookies: {200000 / cookie_synacks(200000):.0f} SYN/s")
    print(f"request: {memory_per_request():.0f} B, conn: {memory_per_connection():.0f} B")


def flood_success(cookies: int, flood_rate: float = 10_000.0) -> dict[str, float]:
    """Legitimate clients (100/s Poisson) against a server that can accept 1,000 conn/s
    (4 workers x 4 ms), while a spoofed flood runs at 10x that capacity for 5 s."""
    from tuxtcp.sim.scenario import ScenarioSpec, run_scenario

    spec = ScenarioSpec(clients=500, rate=100, backlog=128, workers=4, service_time=0.004,
                        flood_rate=flood_rate, flood_duration=5.0, duration=40.0,
                        sysctls={"net.ipv4.tcp_syncookies": cookies})
    res = run_scenario(spec)
    during = [c for c in res.clients if c.start < 5.0]
    fast = [c for c in during if c.latency is not None and c.syn_retrans == 0]
    lat = sorted(c.latency for c in during if c.latency is not None)
    return {
        "clients_during_flood": len(during),
        "first_try_success_pct": 100.0 * len(fast) / max(1, len(during)),
        "eventual_success_pct": 100.0 * len(lat) / max(1, len(during)),
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
        "flood_syns": res.flood_sent,
    }


def slow_accept_attempts(rate: float = 10_000.0, seconds: float = 100.0) -> tuple[float, int]:
    """bench/ab.py:slow_accept. Returns (wall seconds, connection attempts)."""
    r = ab.slow_accept(seconds, rate)
    return float(r["wall_s"]), int(r["attempts"])


SWEEP_GRID = {"backlog": ["4", "16", "64", "256"], "service_time": ["0.004", "0.006", "0.008"],
              "net.ipv4.tcp_syncookies": ["0", "1"], "net.ipv4.tcp_abort_on_overflow": ["0", "1"]}


def sweep_wall(jobs: int) -> float:
    """48 grid points of slow-accept (1,000 clients each) on `jobs` worker processes, timed in
    a fresh interpreter (so 1 and 2 jobs start from the same clean process)."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); import workloads as w; "
            "from tuxtcp.simulate.sweep import run_sweep; t0 = time.perf_counter(); "
            "rows = run_sweep('slow-accept', None, ['clients=1000', 'duration=20'], "
            "w.SWEEP_GRID, int(sys.argv[2])); assert len(rows) == 48; "
            "print(time.perf_counter() - t0)")
    return float(_fresh(sys.executable, code, str(jobs)))


def _fresh(python: str | Path, code: str, *args: str) -> str:
    """Run `code` in a new interpreter with bench/ importable; its stdout."""
    import subprocess

    return subprocess.run([str(python), "-c", code, str(Path(__file__).parent), *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def _bulk(size: int, delay: float, loss: float = 0.0, rate: float = 0.0,
          step: float = 0.005, cc: str = "cubic",
          ) -> tuple[float, float, tuxtcp.Host, tuxtcp.Host, object]:
    """One bulk transfer cli -> srv with congestion control `cc` on both; returns (wall s,
    virtual s, srv, cli, client socket)."""
    import random as _random

    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=delay, loss=loss, rate=rate)
    for host in (srv, cli):
        if "net.ipv4.tcp_congestion_control" in host.sysctl:  # (older builds: Reno only)
            host.sysctl["net.ipv4.tcp_congestion_control"] = cc
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(5)
    c = cli.socket()
    c.connect(("198.18.0.1", 80))
    conn, _ = ls.accept()
    c.setblocking(False)
    data = _random.Random(1).randbytes(size)
    view = memoryview(data)
    sent = got = 0
    v0, t0 = w.clock, time.perf_counter()
    while got < size:
        while sent < size:
            try:
                sent += c.send(view[sent:sent + (1 << 20)])
            except BlockingIOError:
                break
        while True:
            try:
                piece = conn.recv(1 << 22, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            got += len(piece)
        w.run(step)
    return time.perf_counter() - t0, w.clock - v0, srv, cli, c


def goodput(size: int = 100 << 20, loss: float = 0.0, cc: str = "cubic") -> dict[str, float]:
    """One bulk transfer through a simulated link (1 ms one way): wall time, virtual time,
    and MB of payload processed per wall second."""
    wall, virt, _, cli, _ = _bulk(size, 0.001, loss=loss, cc=cc)
    return {"wall_s": wall, "virtual_s": virt, "MB_per_wall_s": size / 1e6 / wall,
            "virtual_MB_per_s": size / 1e6 / virt, "retrans": cli.counters["Tcp.RetransSegs"]}


def gigabit_throughput(size: int = 100 << 20, cc: str = "cubic",
                       loss: float = 0.0) -> dict[str, float]:
    """Virtual-time throughput of one connection over a 1 Gbit/s link with 10 ms RTT."""
    wall, virt, _, _, c = _bulk(size, 0.005, rate=1e9, step=0.001, cc=cc, loss=loss)
    return {"virtual_s": virt, "Mbit_per_s": size * 8 / virt / 1e6, "wall_s": wall,
            "final_cwnd": c.sk.cwnd}  # type: ignore[attr-defined]


PURE_PYTHON = Path(__file__).resolve().parent.parent / ".venv-pure" / "bin" / "python"


def slow_accept_pure_vs_compiled(seconds: float = 5.0) -> dict[str, float]:
    """The same slow-accept run (10k arrivals/s for `seconds`), each in a fresh interpreter:
    this one (.venv: the compiled build) and the plain-Python install of .venv-pure."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import tuxtcp.tcp.demux as m; "
            "from workloads import slow_accept_attempts as f; w, a = f(10000.0, "
            "float(sys.argv[2])); print(w, a, int(m.__file__.endswith('.so')))")
    c_wall, c_attempts, compiled = _fresh(sys.executable, code, str(seconds)).split()
    p_wall, p_attempts, p_compiled = _fresh(PURE_PYTHON, code, str(seconds)).split()
    assert c_attempts == p_attempts  # the same seeded run
    assert p_compiled == "0"
    return {"compiled": float(compiled), "attempts": float(c_attempts),
            "compiled_s": float(c_wall), "pure_s": float(p_wall),
            "speedup": float(p_wall) / float(c_wall)}
