"""`tuxtcp simulate sweep`: a grid of scenarios run in worker processes on this machine, or on
a Dask cluster (`--scheduler tcp://HOST:8786`, the `dask` extra) when the grid is too large
for one machine. Every point is seeded, so where it runs does not change its row."""

from __future__ import annotations

import csv
import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..sim.scenario import run_scenario
from .presets import build_spec
from .report import summarize


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """["backlog=8,64,512", "net.ipv4.tcp_syncookies=0,1"] -> {name: [values]}."""
    grid: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"grid axis {item!r} is not NAME=V1,V2,...")
        k, vals = item.split("=", 1)
        grid[k.strip()] = [v.strip() for v in vals.split(",") if v.strip()]
    return grid


def _point(args: tuple[str | None, str | None, list[str]]) -> dict[str, Any]:
    name, toml_text, overrides = args
    spec = build_spec(name, toml_text, overrides)
    s = summarize(run_scenario(spec))
    lat = s["latency_s"]
    row: dict[str, Any] = {o.split("=", 1)[0]: _num(o.split("=", 1)[1]) for o in overrides}
    row.update({
        "connected": s["connected"], "clients": s["clients"],
        "p50_ms": None if lat["p50"] is None else round(lat["p50"] * 1000, 3),
        "p99_ms": None if lat["p99"] is None else round(lat["p99"] * 1000, 3),
        "ListenDrops": s["counters"]["server"]["TcpExt.ListenDrops"],
        "ListenOverflows": s["counters"]["server"]["TcpExt.ListenOverflows"],
        "SyncookiesSent": s["counters"]["server"]["TcpExt.SyncookiesSent"],
    })
    return row


def _num(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


class SweepError(RuntimeError):
    """The sweep could not run where it was sent (one line for the user)."""


def run_sweep(name: str | None, toml_text: str | None, base_overrides: list[str],
              grid: dict[str, list[str]], jobs: int | None = None,
              scheduler: str | None = None,
              connect_timeout: float = 30.0) -> list[dict[str, Any]]:
    """One row per grid point, in grid order: in `jobs` local processes, or on the Dask
    cluster whose scheduler is at `scheduler` (its workers need tuxtcp installed; waiting
    `connect_timeout` seconds at most to reach it)."""
    axes = list(grid)
    points = [base_overrides + [f"{a}={v}" for a, v in zip(axes, combo, strict=True)]
              for combo in itertools.product(*(grid[a] for a in axes))]
    jobs = jobs or os.cpu_count() or 1
    work = [(name, toml_text, p) for p in points]
    if scheduler is not None:
        return _on_dask(work, scheduler, connect_timeout)
    if jobs == 1:
        return [_point(w) for w in work]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_point, work))


def _on_dask(work: list[tuple[str | None, str | None, list[str]]], scheduler: str,
             connect_timeout: float) -> list[dict[str, Any]]:
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--scheduler needs dask.distributed: pip install 'tuxtcp[dask]'") \
            from None
    try:
        client = Client(scheduler, timeout=connect_timeout)
    except OSError as e:
        raise SweepError(f"no Dask scheduler at {scheduler}: {e}") from None
    with client:
        # pure=False: equal arguments are still separate runs (they are seeded alike anyway)
        futures = client.map(_point, work, pure=False)
        rows: list[dict[str, Any]] = client.gather(futures)
    return rows


def write_csv(rows: list[dict[str, Any]], path: str) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
