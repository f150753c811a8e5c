"""MIB counters of one namespace, under the kernel's /proc names.

`mib.tcp_ext["ListenDrops"] += 1` is the hot-path form (one dict per group). The mapping view
accepts "TcpExt.ListenDrops" or, where a name is unique across groups, just "ListenDrops".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from .mib_names import FIXED_VALUES, GROUPS


def _owner_index() -> dict[str, list[str]]:
    idx: dict[str, list[str]] = {}
    for group, names in GROUPS.items():
        for n in names:
            idx.setdefault(n, []).append(group)
    return idx


_OWNERS: Final = _owner_index()


class Mib:
    """A read-only mapping (registered as collections.abc.Mapping) of every counter; a plain
    class rather than a Mapping subclass so the compiled engine reads `mib.tcp` natively."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, int]] = {
            g: {n: FIXED_VALUES.get((g, n), 0) for n in names} for g, names in GROUPS.items()
        }
        self.ip = self.groups["Ip"]
        self.ip_ext = self.groups["IpExt"]
        self.tcp = self.groups["Tcp"]
        self.tcp_ext = self.groups["TcpExt"]

    def _resolve(self, key: str) -> tuple[str, str]:
        if "." in key:
            group, name = key.split(".", 1)
            if group in self.groups and name in self.groups[group]:
                return group, name
            raise KeyError(key)
        owners = _OWNERS.get(key)
        if not owners:
            raise KeyError(key)
        if len(owners) > 1:
            raise KeyError(f"{key} is ambiguous; say one of " +
                           ", ".join(f"{g}.{key}" for g in owners))
        return owners[0], key

    def __getitem__(self, key: str) -> int:
        g, n = self._resolve(key)
        return self.groups[g][n]

    def __iter__(self) -> Iterator[str]:
        for g, names in self.groups.items():
            for n in names:
                yield f"{g}.{n}"

    def __len__(self) -> int:
        return sum(len(v) for v in self.groups.values())

    def __contains__(self, key: object) -> bool:
        try:
            self._resolve(key)  # type: ignore[arg-type]
        except (KeyError, TypeError, AttributeError):
            return False
        return True

    def get(self, key: str, default: int | None = None) -> int | None:
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> list[str]:
        return list(self)

    def values(self) -> list[int]:
        return [v for names in self.groups.values() for v in names.values()]

    def items(self) -> list[tuple[str, int]]:
        return list(self.snapshot().items())

    def snapshot(self) -> dict[str, int]:
        return {f"{g}.{n}": v for g, names in self.groups.items() for n, v in names.items()}

    def delta(self, before: Mapping[str, int]) -> dict[str, int]:
        """Counters that changed since `before` (a snapshot), as {"Group.Name": change}."""
        now = self.snapshot()
        return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}

    def render_two_line(self, groups: tuple[str, ...]) -> str:
        """The kernel's two-line-per-group format of /proc/net/netstat and /proc/net/snmp."""
        out = []
        for g in groups:
            vals = self.groups[g]
            out.append(f"{g}: " + " ".join(vals))
            out.append(f"{g}: " + " ".join(str(v) for v in vals.values()))
        return "\n".join(out) + "\n"


Mapping.register(Mib)
