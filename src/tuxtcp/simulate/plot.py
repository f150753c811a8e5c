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


def plot_run(res: ScenarioResult, path: str) -> None:
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = [s[0] for s in res.samples]
    ax1.step(t, [s[1] for s in res.samples], where="post", label="SYN queue (requests)")
    ax1.step(t, [s[2] for s in res.samples], where="post", label="accept queue")
    ax1.axhline(min(res.spec.backlog, int(res.spec.sysctls.get("net.core.somaxconn", 4096)))
                + 1, color="grey", ls="--", lw=0.8, label="backlog+1")
    ax1.set_xlabel("virtual time (s)")
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
    for ax in (ax1, ax2):
        ax.grid(True, lw=0.3)
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
