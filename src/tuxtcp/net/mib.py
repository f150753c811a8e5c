"""MIB counters of one namespace, under the kernel's /proc names.

`mib.tcp_ext.ListenDrops += 1` is the hot-path form: one typed int field per counter (the
generated classes of mib_fields.py). The mapping view accepts "TcpExt.ListenDrops" or, where a
name is unique across groups, just "ListenDrops"; `mib.bump("TcpExt", name)` counts a name known
only at run time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from .mib_fields import GROUP_ATTRS, MibGroups
from .mib_group import CounterGroup
from .mib_names import GROUPS


def _owner_index() -> dict[str, list[str]]:
    idx: dict[str, list[str]] = {}
    for group, names in GROUPS.items():
        for n in names:
            idx.setdefault(n, []).append(group)
    return idx


_OWNERS: Final = _owner_index()
# ("Group.Name", group, name) for every counter, in /proc order
_KEYS: Final = [(f"{g}.{n}", g, n) for g, names in GROUPS.items() for n in names]


class Mib(MibGroups):
    """A read-only mapping (registered as collections.abc.Mapping) of every counter; a plain
    class rather than a Mapping subclass so the compiled engine reads `mib.tcp.InSegs`
    natively. Groups: `mib.tcp_ext`, `mib.ip_ext`, `mib.ip`, `mib.tcp`, ... (mib_fields.py)."""

    def __init__(self) -> None:
        super().__init__()
        self._by_group: dict[str, CounterGroup] = {
            g: getattr(self, a) for g, a in GROUP_ATTRS.items()}

    def group(self, name: str) -> CounterGroup:
        """The counters of one group by its /proc name ("TcpExt"); KeyError if there is none."""
        return self._by_group[name]

    def bump(self, group: str, name: str, n: int = 1) -> None:
        """Add n to a counter named at run time (a ParseError's list); KeyError if unknown."""
        self._by_group[group][name] += n

    def _resolve(self, key: str) -> tuple[str, str]:
        if "." in key:
            group, name = key.split(".", 1)
            if group in self._by_group and name in self._by_group[group]:
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
        value: int = getattr(self._by_group[g], n)
        return value

    def __iter__(self) -> Iterator[str]:
        for key, _, _ in _KEYS:
            yield key

    def __len__(self) -> int:
        return len(_KEYS)

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
        by_group = self._by_group
        return [getattr(by_group[g], n) for _, g, n in _KEYS]

    def items(self) -> list[tuple[str, int]]:
        return list(self.snapshot().items())

    def snapshot(self) -> dict[str, int]:
        by_group = self._by_group
        return {key: getattr(by_group[g], n) for key, g, n in _KEYS}

    def delta(self, before: Mapping[str, int]) -> dict[str, int]:
        """Counters that changed since `before` (a snapshot), as {"Group.Name": change}."""
        now = self.snapshot()
        return {k: v - before.get(k, 0) for k, v in now.items() if v != before.get(k, 0)}

    def render_two_line(self, groups: tuple[str, ...]) -> str:
        """The kernel's two-line-per-group format of /proc/net/netstat and /proc/net/snmp."""
        out = []
        for g in groups:
            counters = self._by_group[g]
            out.append(f"{g}: " + " ".join(counters.NAMES))
            out.append(f"{g}: " + " ".join(str(v) for v in counters.values()))
        return "\n".join(out) + "\n"


Mapping.register(Mib)
