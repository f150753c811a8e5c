"""Reno against CUBIC (Linux's default) on the simulated link, side by side in one run:
virtual-time throughput of one 100 MiB transfer over 1 Gbit/s with a 10 ms RTT (lossless and
with 0.01% loss) and over the 1 ms link with 1% loss, plus the wall time each took.

    python bench/cc_compare.py            # prints a Markdown table
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import gigabit_throughput, goodput  # noqa: E402

SIZE = 100 << 20


def main() -> None:
    rows = []
    for cc in ("reno", "cubic"):
        g0 = gigabit_throughput(SIZE, cc=cc)
        g1 = gigabit_throughput(SIZE, cc=cc, loss=0.0001)
        lossy = goodput(SIZE, 0.01, cc=cc)
        rows.append((cc, g0, g1, lossy))
    print("| congestion control | 1 Gbit/s, 10 ms RTT: Mbit/s (virtual s, wall s) "
          "| same, 0.01% loss | 1 ms link, 1% loss: MB/s virtual (retransmissions, wall s) |")
    print("|---|---|---|---|")
    for cc, g0, g1, lossy in rows:
        print(f"| {cc} | {g0['Mbit_per_s']:.0f} ({g0['virtual_s']:.2f}, {g0['wall_s']:.2f}) "
              f"| {g1['Mbit_per_s']:.0f} ({g1['virtual_s']:.2f}, {g1['wall_s']:.2f}) "
              f"| {lossy['virtual_MB_per_s']:.1f} ({lossy['retrans']:.0f}, "
              f"{lossy['wall_s']:.2f}) |")


if __name__ == "__main__":
    main()
