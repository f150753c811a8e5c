"""The base class of the generated MIB counter groups (mib_fields.py): access by kernel name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Final

from .mib_names import GROUPS

_NAME_SETS: Final[dict[str, frozenset[str]]] = {g: frozenset(n) for g, n in GROUPS.items()}


class CounterGroup:
    """One MIB group, its counters typed int fields (`mib.tcp_ext.ListenDrops += 1`).

    `group["ListenDrops"]` reads and writes the same field by its kernel name, for names known
    only at run time; a name the group does not have raises KeyError."""

    GROUP: ClassVar[str] = ""
    NAMES: ClassVar[tuple[str, ...]] = ()  # the kernel's print order

    def __getitem__(self, name: str) -> int:
        if name not in _NAME_SETS[self.GROUP]:
            raise KeyError(name)
        value: int = getattr(self, name)
        return value

    def __setitem__(self, name: str, value: int) -> None:
        if name not in _NAME_SETS[self.GROUP]:
            raise KeyError(name)
        setattr(self, name, value)

    def __contains__(self, name: object) -> bool:
        return name in _NAME_SETS[self.GROUP]

    def __iter__(self) -> Iterator[str]:
        return iter(self.NAMES)

    def values(self) -> list[int]:
        return [getattr(self, n) for n in self.NAMES]

    def items(self) -> list[tuple[str, int]]:
        return [(n, getattr(self, n)) for n in self.NAMES]
