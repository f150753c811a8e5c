"""The long run of the stateful fuzzer (`make fuzz`): tests/test_fuzz_states.py's fuzzers, case
after case, each case a fresh connection in one of the states (or a request sock and its
listener) and a seed of its own, until the segment budget is spent. Every segment is checked
against the invariants the test states; the first failure stops the run with the state and seed
that replay it.

    python fuzz/run_states.py --segments 10000000 --jobs 2
    python fuzz/run_states.py --replay fin_wait2:1234 --per-case 5000
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import states as S  # noqa: E402
import test_fuzz_states as F  # noqa: E402

CASES = [*F.STATES, "syn_recv"]


def run_case(case: str, seed: int, per_case: int) -> None:
    if case == "syn_recv":
        F.RequestFuzzer(S.syn_recv(), seed=seed).run(per_case)
        return
    c = F.STATES[case]()
    c.take()
    F.Fuzzer(c, seed=seed).run(per_case)


def worker(args: tuple[int, int, int, int]) -> tuple[int, str | None]:
    """Cases first .. first+count-1 (round robin over CASES, seed = the case number)."""
    first, count, per_case, _ = args
    done = 0
    for k in range(first, first + count):
        case = CASES[k % len(CASES)]
        try:
            run_case(case, k, per_case)
        except Exception:  # a failure: report how to replay it
            return done, f"{case}:{k}\n{traceback.format_exc()}"
        done += per_case
    return done, None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--per-case", type=int, default=5000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--replay", help="CASE:SEED of a failure to run again")
    a = ap.parse_args()
    if a.replay:
        case, seed = a.replay.split(":")
        run_case(case, int(seed), a.per_case)
        print("replayed without failure")
        return 0
    cases = -(-a.segments // a.per_case)
    chunk = 20  # cases per task: progress is reported per task
    tasks = [(a.first_seed + i, min(chunk, cases - i), a.per_case, 0)
             for i in range(0, cases, chunk)]
    t0 = time.monotonic()
    done = 0
    with multiprocessing.Pool(a.jobs) as pool:
        for n, failure in pool.imap_unordered(worker, tasks):
            done += n
            if failure is not None:
                print(f"FAILED after {done:,} segments; replay with --replay {failure}")
                pool.terminate()
                return 1
            el = time.monotonic() - t0
            print(f"{done:,} segments, {el:.0f} s, {done / el:,.0f} segments/s", flush=True)
    el = time.monotonic() - t0
    print(f"done: {done:,} segments in {cases:,} cases ({len(CASES)} states round robin), "
          f"no failure, {el:.0f} s wall with {a.jobs} jobs ({done / el:,.0f} segments/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
