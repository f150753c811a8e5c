"""Built-in scenarios, and loading/overriding them from TOML or key=value pairs."""

from __future__ import annotations

import dataclasses
import tomllib
from typing import Any

from ..sim.scenario import ScenarioSpec

PRESETS: dict[str, dict[str, Any]] = {
    # accept loop slower than arrivals: the accept queue fills and SYNs are dropped
    "slow-accept": dict(clients=2000, arrival="poisson", rate=150.0, backlog=32, workers=1,
                        service_time=0.0075, duration=40.0),
    # N clients at once against a small backlog; the server accepts only after 2 s
    "burst": dict(clients=40, arrival="burst", burst_spacing=0.01, backlog=8, workers=1,
                  service_time=0.05, accept_start=2.0, duration=60.0),
    # spoofed SYN flood next to legitimate clients
    "syn-flood": dict(clients=200, arrival="poisson", rate=100.0, backlog=128, workers=4,
                      service_time=0.004, flood_rate=10000.0, flood_duration=5.0,
                      duration=40.0, sysctls={"net.ipv4.tcp_syncookies": 1}),
    # the application asks for listen(1024) but somaxconn is 64
    "capped-backlog": dict(clients=600, arrival="poisson", rate=300.0, backlog=1024, workers=1,
                           service_time=0.004, duration=60.0,
                           sysctls={"net.core.somaxconn": 64}),
    # a lossy link: SYNs and SYN-ACKs get lost
    "lossy-link": dict(clients=300, arrival="poisson", rate=50.0, backlog=128, workers=2,
                       service_time=0.002, loss=0.05, delay=0.02, duration=60.0),
}

# Small deterministic variants used to check the simulation against the host kernel
# (tests/test_kernel_validation.py): accept and SYN instants are kept apart so the kernel's
# timer slack cannot reorder them; the kernel's veth has ~5 us of delay (command.py).
VALIDATION: dict[str, list[str]] = {
    "burst": ["clients=20", "burst_spacing=0.01", "backlog=4", "workers=64",
              "service_time=0", "accept_start=2.5", "duration=6", "delay=0.000005"],
    "slow-accept": ["clients=10", "arrival=burst", "burst_spacing=0.01", "backlog=2",
                    "workers=1", "service_time=0.5", "accept_start=0.3", "duration=9",
                    "delay=0.000005"],
    "syn-flood": ["clients=20", "arrival=burst", "burst_spacing=0.1", "first_arrival=0.05",
                  "backlog=16", "workers=4", "service_time=0", "flood_rate=2000",
                  "flood_duration=2.0", "duration=2.6", "delay=0.000005"],
}

DESCRIPTIONS = {
    "slow-accept": "accept() slower than arrivals",
    "burst": "a burst of clients against a small backlog",
    "syn-flood": "spoofed SYN flood plus legitimate clients",
    "capped-backlog": "listen(1024) silently capped by net.core.somaxconn=64",
    "lossy-link": "5% loss on a 40 ms RTT link",
}

_FIELDS = {f.name: f for f in dataclasses.fields(ScenarioSpec)}


def _coerce(name: str, value: Any) -> Any:
    f = _FIELDS.get(name)
    if f is None:
        raise ValueError(f"unknown scenario parameter {name!r}; known: {', '.join(_FIELDS)}")
    if not isinstance(value, str):
        return value
    if f.type in ("int", int):
        return int(value)
    if f.type in ("float", float):
        return float(value)
    return value


def build_spec(name: str | None = None, toml_text: str | None = None,
               overrides: list[str] | None = None) -> ScenarioSpec:
    """A preset, then a TOML document ([scenario] table or top level; [sysctl] table), then
    KEY=VALUE overrides (sysctl names with dots go to sysctls)."""
    params: dict[str, Any] = {}
    sysctls: dict[str, Any] = {}
    if name:
        if name not in PRESETS:
            raise ValueError(f"unknown scenario {name!r}; built in: {', '.join(PRESETS)}")
        preset = dict(PRESETS[name])
        sysctls.update(preset.pop("sysctls", {}))
        params.update(preset)
        params["name"] = name
    if toml_text:
        doc = tomllib.loads(toml_text)
        table = doc.get("scenario", doc)
        base = table.get("preset")
        if base and not name:
            return build_spec(base, toml_text=_without_preset(toml_text), overrides=overrides)
        for k, v in table.items():
            if k in ("sysctl", "sysctls", "preset"):
                continue
            params[k] = _coerce(k, v)
        sysctls.update(doc.get("sysctl", {}))
        sysctls.update(table.get("sysctls", {}))
        sysctls.update(table.get("sysctl", {}))
    for item in overrides or []:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not KEY=VALUE")
        k, v = item.split("=", 1)
        k = k.strip()
        if k.startswith("net."):
            sysctls[k] = v.strip()
        else:
            params[k.replace("-", "_")] = _coerce(k.replace("-", "_"), v.strip())
    params["sysctls"] = _flatten_sysctls(sysctls)
    return ScenarioSpec(**params)


def _without_preset(text: str) -> str:
    return "\n".join(line for line in text.splitlines()
                     if not line.strip().startswith("preset"))


def _flatten_sysctls(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten_sysctls(v, key))
        else:
            out[key] = int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v
    return out
