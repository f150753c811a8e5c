"""Plots (matplotlib is an optional extra: pip install 'tuxtcp[plot]')."""

from __future__ import annotations

from typing import Any

from ..sim.scenario import ScenarioResult


def _plt() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise SystemExit("--plot needs matplotlib: pip install 'tuxtcp[plot]'") from exc
    return plt


def activity_window(samples: list[tuple[float, int, int]],
                    duration: float) -> tuple[float, float]:
    """The stretch of the run where a queue held anything, with a margin of a tenth of it on
    each side (at least one sample interval); the whole run when nothing ever queued or when
    the activity spans most of it."""
    busy = [t for t, synq, accq in samples if synq or accq]
    if not busy:
        return 0.0, duration
    lo, hi = busy[0], busy[-1]
    step = samples[1][0] - samples[0][0] if len(samples) > 1 else 0.05
    margin = max((hi - lo) * 0.1, step)
    lo, hi = max(0.0, lo - margin), min(duration, hi + margin)
    if hi - lo > 0.8 * duration:
        return 0.0, duration
    return lo, hi


def geometric(values: list[Any]) -> int | None:
    """The log base for an axis whose values grow by a steady factor (8, 64, 512: 8; 1, 2, 4,
    8: 2), None when they do not (a linear axis reads them better)."""
    try:
        xs = sorted({float(v) for v in values})
    except (TypeError, ValueError):
        return None
    if len(xs) < 3 or xs[0] <= 0 or xs[-1] / xs[0] < 8:
        return None
    ratios = [b / a for a, b in zip(xs, xs[1:], strict=False)]
    if max(ratios) > 1.25 * min(ratios):
        return None
    r = sum(ratios) / len(ratios)
    for base in (2, 4, 8, 10):
        if abs(r - base) / base < 0.1:
            return base
    return 10


def plot_run(res: ScenarioResult, path: str) -> None:
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = [s[0] for s in res.samples]
    ax1.step(t, [s[1] for s in res.samples], where="post", label="SYN queue (requests)")
    ax1.step(t, [s[2] for s in res.samples], where="post", label="accept queue")
    ax1.axhline(min(res.spec.backlog, int(res.spec.sysctls.get("net.core.somaxconn", 4096)))
                + 1, color="grey", ls="--", lw=0.8, label="backlog+1")
    lo, hi = activity_window(res.samples, res.spec.duration)
    ax1.set_xlim(lo, hi)  # where the queues held anything
    ax1.set_xlabel("virtual time (s)" + ("" if (lo, hi) == (0.0, res.spec.duration)
                                         else f", {lo:g}-{hi:g} of {res.spec.duration:g}"))
    ax1.set_ylabel("entries")
    ax1.set_title(f"{res.spec.name}: queue occupancy")
    ax1.legend()
    lat = sorted(c.latency for c in res.clients if c.latency is not None)
    if lat:
        ax2.plot([v * 1000 for v in lat], [(i + 1) / len(lat) for i in range(len(lat))])
    ax2.set_xscale("symlog", linthresh=10)
    ax2.set_xlabel("connect latency (ms)")
    ax2.set_ylabel("fraction of connected clients")
    ax2.set_title("latency CDF")
    ax2.grid(True, which="both", lw=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_sweep(rows: list[dict[str, Any]], axes: list[str], path: str) -> None:
    plt = _plt()
    x = axes[0]
    series = sorted({tuple(r[a] for a in axes[1:]) for r in rows})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for key in series:
        pts = sorted((r for r in rows if tuple(r[a] for a in axes[1:]) == key),
                     key=lambda r: r[x])
        label = ", ".join(f"{a}={v}" for a, v in zip(axes[1:], key, strict=True)) or "all"
        ax1.plot([r[x] for r in pts], [(r["p99_ms"] or 0) for r in pts], marker="o",
                 label=label)
        ax2.plot([r[x] for r in pts], [r["ListenDrops"] for r in pts], marker="o", label=label)
    ax1.set_xlabel(x)
    ax1.set_ylabel("p99 connect latency (ms)")
    ax1.set_yscale("symlog", linthresh=10)
    ax2.set_xlabel(x)
    ax2.set_ylabel("ListenDrops")
    base = geometric([r[x] for r in rows])
    ticks = sorted({float(r[x]) for r in rows}) if base else []
    for ax in (ax1, ax2):
        ax.grid(True, lw=0.3)
        if base:  # a geometric grid (backlog 8, 64, 512) on a log axis, ticked at its values
            ax.set_xscale("log", base=base)
            ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
