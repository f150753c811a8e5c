"""`tuxtcp doctor --what-if CHANGE`: the simulator run on what the doctor observed, as it is
and with one change (`backlog=512`, `workers=4`, `service_time=0.002`, or any sysctl such as
`net.core.somaxconn=4096`), to predict connect latency and drops before they happen.

The model, from the doctor's report for one listener (the one that overflowed most, or the
one asked for):
- arrivals: Poisson at the rate of completed handshakes (Tcp PassiveOpens over the interval;
  SYNs that never got through are not in it, so the load is a lower bound);
- the server: one accept loop; when the accept queue was over its backlog in most samples the
  application was the bottleneck and its service time is the interval over the connections it
  accepted (PassiveOpens less the queue's growth); otherwise it kept up, and the service time
  is taken as half the mean gap between arrivals;
- listen()'s argument: the backlog as observed, except when it equals somaxconn: then the
  program's own argument is unknown (the kernel capped it) and is taken as 4096 (SOMAXCONN,
  what many servers pass; `backlog=N` says otherwise). The kernel's cap applies in the
  simulation as on the host, with the namespace's somaxconn and tcp_syncookies.
Both runs use the same seed, so the difference is the change's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Final

from ..observe.doctor import DoctorReport, ListenerView
from ..sim.scenario import ScenarioResult, ScenarioSpec, run_scenario

MAX_CLIENTS: Final = 20_000
ASSUMED_LISTEN_ARG: Final = 4096
SPEC_FIELDS: Final = {"backlog": int, "workers": int, "service_time": float}


class WhatIfError(ValueError):
    """A change the what-if cannot apply, or nothing to model."""


def parse_change(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise WhatIfError(f"a change is NAME=VALUE, not {text!r}")
    if name in SPEC_FIELDS:
        try:
            return name, SPEC_FIELDS[name](value)
        except ValueError:
            raise WhatIfError(f"{name} needs a number, not {value!r}") from None
    if "." not in name:
        raise WhatIfError(f"unknown setting {name!r} (backlog, workers, service_time or a "
                          f"sysctl such as net.core.somaxconn)")
    return name, int(value) if value.lstrip("-").isdigit() else value


def _target(report: DoctorReport, port: int | None) -> ListenerView:
    views = [lv for lv in report.listeners if port is None or lv.port == port]
    if not views:
        raise WhatIfError("no listener to model" + (f" on port {port}" if port else ""))
    return max(views, key=lambda lv: (lv.full_samples, lv.max_accept_queue))


def baseline_spec(report: DoctorReport, port: int | None = None,
                  rate: float | None = None) -> tuple[ScenarioSpec, str]:
    """The scenario that reproduces what the doctor saw, and how it was estimated (`rate`:
    the arrival rate when the operator knows it better than the counters)."""
    lv = _target(report, port)
    seconds = report.seconds
    opened = report.deltas.get("PassiveOpens", 0)
    if opened <= 0:
        raise WhatIfError("no connection was opened during the interval: nothing to model")
    arrivals = (f"arriving at {rate:.1f}/s (given)" if rate else
                f"arriving at {opened / seconds:.1f}/s (completed handshakes: a lower bound; "
                f"--rate gives the real one)")
    rate = rate or opened / seconds
    growth = max(0, lv.last_accept_queue - max(lv.first_accept_queue, 0))
    accepted = max(1, opened - growth)
    saturated = lv.full_samples * 2 >= max(1, lv.samples)
    if saturated:
        service = seconds / accepted
        how = (f"the accept queue was at its limit in {lv.full_samples} of {lv.samples} "
               f"samples: "
               f"the application accepted {accepted} in {seconds:.1f} s, one every "
               f"{service * 1000:.1f} ms")
    else:
        service = 0.5 / rate
        how = ("the application kept up with arrivals; its service time is taken as half "
               f"the gap between arrivals ({service * 1000:.2f} ms)")
    clients = max(1, min(MAX_CLIENTS, math.ceil(rate * seconds)))
    asked = lv.backlog
    if lv.backlog == report.somaxconn:
        asked = max(lv.backlog, ASSUMED_LISTEN_ARG)
        how += (f"; the backlog equals somaxconn, so listen()'s argument is taken as "
                f"{asked}")
    spec = ScenarioSpec(
        name=f"what-if {lv.name}", clients=clients, arrival="poisson", rate=rate,
        backlog=asked, workers=1, service_time=service,
        sysctls={"net.core.somaxconn": report.somaxconn,
                 "net.ipv4.tcp_syncookies": report.syncookies},
        duration=clients / rate + 30.0)
    return spec, f"{lv.name}: {clients} clients {arrivals}, backlog {lv.backlog}; {how}"


def changed_spec(spec: ScenarioSpec, changes: list[tuple[str, Any]]) -> ScenarioSpec:
    out = replace(spec, sysctls=dict(spec.sysctls))
    for name, value in changes:
        if name in SPEC_FIELDS:
            setattr(out, name, value)
        else:
            out.sysctls[name] = value
    return out


def _figures(res: ScenarioResult) -> dict[str, Any]:
    lat = sorted(c.latency for c in res.clients if c.latency is not None)

    def pct(p: float) -> float | None:
        if not lat:
            return None
        return lat[max(0, min(len(lat) - 1, math.ceil(len(lat) * p / 100) - 1))]

    sc = res.server_counters
    return {"clients": len(res.clients), "connected": len(lat),
            "p50_s": pct(50), "p90_s": pct(90), "p99_s": pct(99),
            "max_s": lat[-1] if lat else None,
            "with_syn_retransmissions": sum(1 for c in res.clients if c.syn_retrans),
            "ListenOverflows": sc.get("TcpExt.ListenOverflows", 0),
            "ListenDrops": sc.get("TcpExt.ListenDrops", 0),
            "TCPReqQFullDrop": sc.get("TcpExt.TCPReqQFullDrop", 0),
            "SyncookiesSent": sc.get("TcpExt.SyncookiesSent", 0),
            "drops": dict(res.server_drops)}


def what_if(report: DoctorReport, changes: list[str], port: int | None = None,
            rate: float | None = None) -> dict[str, Any]:
    """Run the observed load as it was and with `changes`; both sets of figures."""
    parsed = [parse_change(c) for c in changes]
    spec, how = baseline_spec(report, port, rate)
    try:
        after_spec = changed_spec(spec, parsed)
        before, after = run_scenario(spec), run_scenario(after_spec)
    except (KeyError, ValueError, TypeError) as e:
        raise WhatIfError(f"cannot apply {', '.join(changes)}: {e}") from None
    return {"model": how, "changes": changes, "before": _figures(before),
            "after": _figures(after)}


def render(result: dict[str, Any]) -> str:
    rows = [("connected", "connected"), ("p50_s", "connect p50"), ("p90_s", "connect p90"),
            ("p99_s", "connect p99"), ("max_s", "connect max"),
            ("with_syn_retransmissions", "clients that resent a SYN"),
            ("ListenOverflows", "ListenOverflows"), ("ListenDrops", "ListenDrops"),
            ("TCPReqQFullDrop", "TCPReqQFullDrop"), ("SyncookiesSent", "SyncookiesSent")]
    b, a = result["before"], result["after"]

    def cell(key: str, fig: dict[str, Any]) -> str:
        v = fig[key]
        if v is None:
            return "-"
        if key.endswith("_s"):
            return f"{v * 1000:.1f} ms"
        if key == "connected":
            return f"{v}/{fig['clients']}"
        return str(v)

    change = ", ".join(result["changes"])
    out = [f"what-if {change} (simulated: {result['model']})", "",
           f"{'':<28} {'as observed':>14} {change:>20}"]
    for key, label in rows:
        out.append(f"{label:<28} {cell(key, b):>14} {cell(key, a):>20}")
    return "\n".join(out) + "\n"
