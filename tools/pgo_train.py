"""The workload `make setup` runs on the instrumented build (TUXTCP_PGO=generate, setup.py) so
that GCC can optimise the compiled libraries for the way the simulation runs: where branches go,
which calls are hot enough to inline, which code is cold.

It is the simulation's own work, deterministic and small (about ten seconds instrumented):
slow-accept's connection churn (the 1M-attempt benchmark's shape: a SYN queue, an accept queue
that overflows, SYN cookies, TIME_WAIT), every built-in preset at its own size (lossy-link's
retransmissions and tail loss probes among them), the socket views a run samples, and bulk
transfers with and without loss for the byte stream, SACK and recovery. Code it does not reach
is taken as cold (setup.py's _optimised says what that costs).

    python tools/pgo_train.py        # exits non-zero if a run does not do what it should
"""

from __future__ import annotations

import random
import socket
import sys

import tuxtcp
from tuxtcp.sim.scenario import run_scenario
from tuxtcp.simulate.presets import PRESETS, build_spec

# slow-accept at the 1M benchmark's rate and queue, for this many virtual seconds
CHURN_SECONDS = 3.0
CHURN_RATE = 10_000.0
# bulk transfers: bytes, one-way delay (s), loss
TRANSFERS = ((8 << 20, 0.001, 0.0), (8 << 20, 0.005, 0.01))
MAX_TRANSFER_STEPS = 100_000  # 5 ms steps: a bound on each transfer's loop


def churn() -> int:
    spec = build_spec("slow-accept", None, [
        f"clients={int(CHURN_RATE * CHURN_SECONDS)}", f"rate={CHURN_RATE}", "backlog=128",
        "service_time=0.0001", f"duration={CHURN_SECONDS + 5}", "client_addresses=64",
        "sample_interval=0.5"])
    res = run_scenario(spec)
    return len([c for c in res.clients if c.established is not None])


def presets() -> int:
    done = 0
    for name in PRESETS:
        res = run_scenario(build_spec(name, None, []))
        done += len([c for c in res.clients if c.established is not None])
    return done


def transfer(size: int, delay: float, loss: float) -> int:
    """One bulk transfer client -> server; the bytes the server read."""
    w = tuxtcp.World(seed=1)
    srv = w.host("srv", "198.18.0.1")
    cli = w.host("cli", "198.18.0.2")
    w.link(srv, cli, delay=delay, loss=loss)
    ls = srv.socket()
    ls.bind(("0.0.0.0", 80))
    ls.listen(5)
    c = cli.socket()
    c.connect(("198.18.0.1", 80))
    conn, _ = ls.accept()
    c.setblocking(False)
    data = memoryview(random.Random(1).randbytes(size))
    sent = got = 0
    for _ in range(MAX_TRANSFER_STEPS):
        if got >= size:
            break
        while sent < size:
            try:
                sent += c.send(data[sent:sent + (1 << 20)])
            except BlockingIOError:
                break
        while True:
            try:
                got += len(conn.recv(1 << 22, socket.MSG_DONTWAIT))
            except BlockingIOError:
                break
        w.run(0.005)
    c.close()
    conn.close()
    w.run(1.0)
    return got


def main() -> int:
    problems = []
    established = churn()
    if established < CHURN_RATE * CHURN_SECONDS * 0.9:
        problems.append(f"slow-accept: only {established} clients connected")
    if presets() == 0:
        problems.append("the presets connected no client")
    for size, delay, loss in TRANSFERS:
        got = transfer(size, delay, loss)
        if got != size:
            problems.append(f"transfer (loss {loss}): {got} of {size} bytes")
    for p in problems:
        print(f"pgo_train: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
