"""Per-namespace sysctls: typed fields to read, /proc/sys names to write, Linux validation.

`ns.sysctl.tcp_syncookies` reads a field (sysctl_fields.py, generated from the table in
sysctl_specs.py). `ns.sysctl["net.ipv4.tcp_syncookies"] = 0` validates as the kernel does (a
refused write raises OSError(EINVAL) as write(2) does) and then sets the field.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, MutableMapping
from typing import Final

from .sysctl_fields import SysctlFields
from .sysctl_specs import HZ, INT_MAX, INT_MIN, SPECS, SysctlSpec, Value, attr_name

__all__ = ["HZ", "INT_MAX", "INT_MIN", "SPECS", "SysctlSpec", "Sysctls", "Value"]

# /proc/sys name -> field
ATTRS: Final[dict[str, str]] = {name: attr_name(name) for name in SPECS}


def _einval(name: str, value: object) -> OSError:
    return OSError(errno.EINVAL, f"{os.strerror(errno.EINVAL)}: {name}={value!r}")


class Sysctls(SysctlFields):
    """The /proc/sys view of one namespace. Read the typed fields (`sysctl.somaxconn`); write by
    name (`sysctl["net.core.somaxconn"] = 16`), which validates, sets the field and tells the
    watchers (assigning a field directly skips both). Unknown names raise KeyError (ENOENT in
    /proc). A mutable mapping (registered as collections.abc.MutableMapping); a plain class so
    the compiled engine reads the fields natively."""

    def __init__(self) -> None:
        super().__init__()
        self._watchers: list[Callable[[str, Value], None]] = []

    def __getitem__(self, name: str) -> Value:
        value: Value = getattr(self, ATTRS[name])
        return value

    def get_int(self, name: str) -> int:
        """An integer sysctl by name: the slower compatibility path of `sysctl.<field>`."""
        value: int = getattr(self, ATTRS[name])
        return value

    def __setitem__(self, name: str, value: object) -> None:
        spec = SPECS.get(name)
        if spec is None:
            raise KeyError(name)
        parsed = self._parse(spec, value)
        self._validate(spec, parsed)
        setattr(self, ATTRS[name], parsed)
        for w in self._watchers:
            w(name, parsed)

    def __delitem__(self, name: str) -> None:
        raise TypeError("sysctls cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(SPECS)

    def __len__(self) -> int:
        return len(SPECS)

    def __contains__(self, name: object) -> bool:
        return name in SPECS

    def get(self, name: str, default: Value | None = None) -> Value | None:
        attr = ATTRS.get(name)
        if attr is None:
            return default
        value: Value = getattr(self, attr)
        return value

    def keys(self) -> list[str]:
        return list(SPECS)

    def values(self) -> list[Value]:
        return [getattr(self, attr) for attr in ATTRS.values()]

    def items(self) -> list[tuple[str, Value]]:
        return [(name, getattr(self, attr)) for name, attr in ATTRS.items()]

    def update(self, other: dict[str, object] | None = None, **kw: object) -> None:
        for k, v in {**(other or {}), **kw}.items():
            self[k] = v

    def watch(self, fn: Callable[[str, Value], None]) -> None:
        self._watchers.append(fn)

    def _parse(self, spec: SysctlSpec, value: object) -> Value:
        if spec.choices:
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if not isinstance(value, str):
                raise _einval(spec.name, value)
            # proc_dostring: the text up to the first newline; an empty write changes nothing
            text = value.split("\n", 1)[0]
            return text if text else self[spec.name]
        if isinstance(value, str):
            parts = value.split()
            try:
                nums = [int(p) for p in parts]
            except ValueError:
                raise _einval(spec.name, value) from None
            if spec.pair:
                if len(nums) != 2:
                    raise _einval(spec.name, value)
                return (nums[0], nums[1])
            if spec.triple:
                # proc_doulongvec_minmax: up to three values, the missing ones unchanged
                if not 1 <= len(nums) <= 3:
                    raise _einval(spec.name, value)
                old = self[spec.name]
                assert isinstance(old, tuple)
                return tuple(nums) + tuple(old[len(nums):])
            if len(nums) != 1:
                raise _einval(spec.name, value)
            return nums[0]
        if spec.triple:
            if (not isinstance(value, (tuple, list)) or len(value) != 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
                raise _einval(spec.name, value)
            return (int(value[0]), int(value[1]), int(value[2]))
        if spec.pair:
            if (not isinstance(value, (tuple, list)) or len(value) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
                raise _einval(spec.name, value)
            return (int(value[0]), int(value[1]))
        if not isinstance(value, int) or isinstance(value, bool):
            raise _einval(spec.name, value)
        return value

    def _validate(self, spec: SysctlSpec, value: Value) -> None:
        if spec.readonly:
            raise PermissionError(errno.EACCES, f"{os.strerror(errno.EACCES)}: {spec.name}")
        if spec.choices:
            if value not in spec.choices:
                # tcp_set_default_congestion_control: no algorithm of that name
                raise OSError(errno.ENOENT, f"{os.strerror(errno.ENOENT)}: {spec.name}={value!r}")
            return
        if spec.triple:
            assert isinstance(value, tuple)
            if not all(spec.lo <= v <= spec.hi for v in value):
                raise _einval(spec.name, value)
            return
        if isinstance(value, tuple):
            low, high = value
            # ipv4_local_port_range: low <= high, both in 1..65535, low >= unprivileged start
            if not (spec.lo <= low <= high <= spec.hi) or low < self.ip_unprivileged_port_start:
                raise _einval(spec.name, value)
            return
        assert isinstance(value, int)
        if not spec.lo <= value <= spec.hi:
            raise _einval(spec.name, value)
        # ipv4_privileged_ports: must not exceed the local port range's low end
        if spec.name == "net.ipv4.ip_unprivileged_port_start" \
                and value > self.ip_local_port_range[0]:
            raise _einval(spec.name, value)

    def render(self, name: str) -> str:
        """The text `cat /proc/sys/...` prints."""
        v = self[name]
        return "\t".join(map(str, v)) if isinstance(v, tuple) else str(v)


MutableMapping.register(Sysctls)
