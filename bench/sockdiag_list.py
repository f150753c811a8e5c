"""Listing a namespace's TCP sockets on the host kernel, side by side in one run: tuxtcp's
sock_diag reader (host/sockdiag.py) and its ss renderer, pyroute2's DiagSocket, psutil's
net_connections, and iproute2's ss. Root only.

    python bench/sockdiag_list.py [--sockets 50000] [--runs 5]

A namespace of its own gets loopback connections (both ends: `--sockets` sockets in all, plus
a listener for each process holding them); each reader then lists them `--runs` times
inside the namespace and the median is printed, as one JSON object:
- in-process calls (ms): tuxtcp records (full; brief: what a plain listing reads), the
  `ss -tan` text as `tuxtcp ss` makes it (brief records + text), pyroute2, psutil;
- whole processes (ms, from start to exit): `ss -tan` and `tuxtcp ss -tan` (the installed
  console script), each piped to nowhere;
- one Prometheus scrape of `tuxtcp exporter`'s registry (wall and CPU ms, bytes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from tuxtcp.host import netns as hn

HOLDER = r'''
import resource, socket, sys, time
n, port = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
l = socket.socket(); l.bind(("127.0.0.1", port)); l.listen(4096)
keep = []
for i in range(n // 2):
    c = socket.create_connection(("127.0.0.1", port))
    a, _ = l.accept()
    keep += [c, a]
print("ready", flush=True)
time.sleep(3600)
'''

TIMER = r'''
import json, statistics, subprocess, sys, time
runs = int(sys.argv[1])
out = {}
def med(f):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter(); n = f(); ts.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(ts), 1), n
from tuxtcp.host.sockdiag import host_records
from tuxtcp.host.ss_command import host_ss
from tuxtcp.observe.ss import parse_args
opts = parse_args("-tan")
out["tuxtcp_records_ms"], out["tuxtcp_records"] = med(lambda: len(host_records(memory=False)))
out["tuxtcp_brief_records_ms"], _ = med(lambda: len(host_records(brief=True)))
out["tuxtcp_ss_text_ms"], _ = med(lambda: len(host_ss(None, opts)))
from pyroute2.netlink.diag import DiagSocket
import socket
def pr2():
    with DiagSocket() as ds:
        ds.bind()
        return len(ds.get_sock_stats(family=socket.AF_INET, protocol=socket.IPPROTO_TCP))
out["pyroute2_ms"], out["pyroute2_records"] = med(pr2)
import psutil
out["psutil_ms"], out["psutil_records"] = med(lambda: len(psutil.net_connections("tcp4")))
def proc(cmd):
    def f():
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        return 0
    return f
out["ss_process_ms"], _ = med(proc(["ss", "-tan"]))
import os
script = os.path.join(os.path.dirname(sys.executable), "tuxtcp")  # the console script
out["tuxtcp_ss_process_ms"], _ = med(proc([script, "ss", "-tan"]))
from prometheus_client import generate_latest
from tuxtcp.host.exporter import registry
reg = registry([None])
out["exporter_scrape_ms"], out["exporter_scrape_bytes"] = med(lambda: len(generate_latest(reg)))
c0 = time.process_time(); generate_latest(reg); out["exporter_scrape_cpu_ms"] = round(
    (time.process_time() - c0) * 1000, 1)
print(json.dumps(out))
'''


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sockets", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    why = hn.available()
    if why:
        print(f"sockdiag_list: {why}", file=sys.stderr)
        return 1
    holders: list[subprocess.Popen[str]] = []
    with hn.loopback_ns() as ns:
        try:
            # a process may hold only so many descriptors (RLIMIT_NOFILE's hard limit, which
            # this machine does not let root raise): the sockets are spread over holders
            per = max(2, (resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 100) // 2 * 2)
            left = args.sockets
            port = 5000
            while left > 0:
                n = min(per, left)
                h = ns.popen(sys.executable, "-c", HOLDER, str(n), str(port))
                holders.append(h)
                assert h.stdout is not None
                if h.stdout.readline().strip() != "ready":
                    raise SystemExit("a socket holder did not come up")
                left -= n
                port += 1
            r = subprocess.run(["ip", "netns", "exec", ns.name, sys.executable, "-c", TIMER,
                                str(args.runs)], capture_output=True, text=True, check=True,
                               timeout=1800)
        finally:
            for h in holders:
                h.kill()
                h.wait()
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["sockets"] = args.sockets + len(holders)
    result["psutil_over_tuxtcp"] = round(result["psutil_ms"] / result["tuxtcp_records_ms"], 1)
    result["tuxtcp_process_over_ss_process"] = round(
        result["tuxtcp_ss_process_ms"] / result["ss_process_ms"], 2)
    result["pyroute2_over_tuxtcp"] = round(result["pyroute2_ms"] / result["tuxtcp_records_ms"],
                                           1)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
