"""The 48-point sweep of issue 14, three ways in one run: one local process, two local
processes, and a Dask LocalCluster of two worker processes (the `dask` extra). Prints one JSON
object: wall seconds for each, and whether the three gave the same rows.

    python bench/sweep_48.py [--clients 2000]

The grid: slow-accept (40 s) with `--clients` clients at 150/s, backlog 8, 64, 512 x accept
workers 1, 2, 4, 8 x service time 4, 8 ms x tcp_syncookies 0, 1 (3 x 4 x 2 x 2 = 48 points).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tuxtcp.simulate.sweep import run_sweep


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=2000)
    args = ap.parse_args(argv)
    grid = {"backlog": ["8", "64", "512"], "workers": ["1", "2", "4", "8"],
            "service_time": ["0.004", "0.008"], "net.ipv4.tcp_syncookies": ["0", "1"]}
    base = [f"clients={args.clients}"]
    out: dict[str, object] = {"points": 48, "clients": args.clients}
    t0 = time.perf_counter()
    one = run_sweep("slow-accept", None, base, grid, jobs=1)
    out["one_process_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    two = run_sweep("slow-accept", None, base, grid, jobs=2)
    out["two_processes_s"] = round(time.perf_counter() - t0, 2)
    from distributed import LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, host="127.0.0.1") as cluster:
        started = time.perf_counter() - t0
        dask = run_sweep("slow-accept", None, base, grid, scheduler=cluster.scheduler_address)
    out["dask_localcluster_2_workers_s"] = round(time.perf_counter() - t0, 2)
    out["dask_cluster_start_s"] = round(started, 2)
    out["same_rows"] = one == two == dask
    print(json.dumps(out))
    return 0 if out["same_rows"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
