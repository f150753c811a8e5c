"""The shared packetdrill corpus on both targets in one run: wall time per target, passes per
category (the scripts that pass with the real packetdrill on Linux 6.18, Fast Open included).

    python bench/packetdrill_corpus.py [CORPUS_DIR]    # root: target kernel needs a namespace
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

from tuxtcp.packetdrill.command import DEFAULT_DEFINES, run_script


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "../shared/conformance/packetdrill")
    rows = [line.split("\t") for line in
            (root / "linux-6.18-results.tsv").read_text().splitlines()[1:]]
    goal = [(r[2], root / r[0].replace("/", "+") / r[1]) for r in rows if r[3] == "pass"]
    took = {"tuxtcp": 0.0, "kernel": 0.0}
    per: dict[str, dict[str, int]] = collections.defaultdict(collections.Counter)
    fast_open_only = 0
    for category, path in goal:
        per[category]["scripts"] += 1
        for target in ("tuxtcp", "kernel"):
            t0 = time.perf_counter()
            r = run_script(path, target, DEFAULT_DEFINES, [])
            took[target] += time.perf_counter() - t0
            per[category][target] += r.passed
            if target == "tuxtcp" and not r.passed and "Fast Open" in r.error:
                fast_open_only += 1
    print(json.dumps({"scripts": len(goal), "wall_s": took,
                      "ratio_kernel_to_tuxtcp": took["kernel"] / took["tuxtcp"],
                      "fail_on_tuxtcp_for_want_of_fast_open": fast_open_only,
                      "per_category": {k: dict(v) for k, v in sorted(per.items())}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
