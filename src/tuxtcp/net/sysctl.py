"""Per-namespace sysctls, keyed by their /proc/sys name, with Linux 6.12+ defaults and validation.

Ranges were read off the kernel this project is checked against (writes that /proc/sys accepted
and refused in a fresh netns); a refused write raises OSError(EINVAL) as write(2) does there.
tcp_max_syn_backlog and tcp_max_tw_buckets scale with RAM in the kernel (ehash size); we take the
values a fresh netns showed on the reference machine (2048 and 131072) so runs do not depend on
the host.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Final

INT_MAX: Final = 2**31 - 1
INT_MIN: Final = -(2**31)
HZ: Final = 250

Value = int | tuple[int, int]


@dataclass(frozen=True)
class SysctlSpec:
    name: str
    default: Value
    lo: int = INT_MIN
    hi: int = INT_MAX
    pair: bool = False
    doc: str = ""


_SPECS: tuple[SysctlSpec, ...] = (
    SysctlSpec("net.core.somaxconn", 4096, 0, INT_MAX, doc="listen() backlog cap (SOMAXCONN)"),
    SysctlSpec("net.ipv4.tcp_max_syn_backlog", 2048, doc="only the 3/4 rule with cookies off"),
    SysctlSpec("net.ipv4.tcp_syncookies", 1, 0, 255,
               doc="0 never, 1 on SYN-queue overflow, 2 always"),
    SysctlSpec("net.ipv4.tcp_synack_retries", 5, 0, 255),
    SysctlSpec("net.ipv4.tcp_syn_retries", 6, 1, 127),
    SysctlSpec("net.ipv4.tcp_syn_linear_timeouts", 4, 0, 127),
    SysctlSpec("net.ipv4.tcp_abort_on_overflow", 0, 0, 255),
    SysctlSpec("net.ipv4.ip_local_port_range", (32768, 60999), 1, 65535, pair=True),
    SysctlSpec("net.ipv4.ip_unprivileged_port_start", 1024, 0, 65535),
    SysctlSpec("net.ipv4.ip_nonlocal_bind", 0, 0, 255),
    SysctlSpec("net.ipv4.tcp_timestamps", 1, 0, 255, doc="1 random offset per flow, 2 no offset"),
    SysctlSpec("net.ipv4.tcp_sack", 1, 0, 255),
    SysctlSpec("net.ipv4.tcp_window_scaling", 1, 0, 255),
    SysctlSpec("net.ipv4.tcp_fin_timeout", 60, INT_MIN // HZ, INT_MAX // HZ),
    SysctlSpec("net.ipv4.tcp_tw_reuse", 2, 0, 2, doc="2 = loopback only"),
    SysctlSpec("net.ipv4.tcp_ecn", 2, 0, 2),
    SysctlSpec("net.ipv4.tcp_rfc1337", 0, 0, 255),
    SysctlSpec("net.ipv4.tcp_max_tw_buckets", 131072),
    SysctlSpec("net.ipv4.tcp_invalid_ratelimit", 500, 0, INT_MAX, doc="ms"),
    SysctlSpec("net.ipv4.tcp_challenge_ack_limit", INT_MAX),
    SysctlSpec("net.ipv4.tcp_migrate_req", 0, 0, 1),
    SysctlSpec("net.ipv4.ip_autobind_reuse", 0, 0, 1),
    SysctlSpec("net.ipv4.tcp_fastopen", 1),
    SysctlSpec("net.ipv4.tcp_orphan_retries", 0, 0, 255),
    SysctlSpec("net.ipv4.tcp_retries2", 15, 0, 255),
    SysctlSpec("net.ipv4.tcp_rmem", 131072, doc="default receive buffer (middle value)"),
    SysctlSpec("net.ipv4.tcp_wmem", 16384, doc="default send buffer (middle value)"),
)
SPECS: dict[str, SysctlSpec] = {s.name: s for s in _SPECS}


def _einval(name: str, value: object) -> OSError:
    return OSError(errno.EINVAL, f"{os.strerror(errno.EINVAL)}: {name}={value!r}")


class Sysctls:
    """The /proc/sys view of one namespace. Unknown names raise KeyError (ENOENT in /proc).
    A mutable mapping (registered as collections.abc.MutableMapping); a plain class so the
    compiled engine reads it natively."""

    def __init__(self) -> None:
        self._values: dict[str, Value] = {s.name: s.default for s in _SPECS}
        self._watchers: list[Callable[[str, Value], None]] = []

    def __getitem__(self, name: str) -> Value:
        return self._values[name]

    def get_int(self, name: str) -> int:
        """An integer sysctl (hot path: no type check; pairs are read with [])."""
        return self._values[name]  # type: ignore[return-value]

    def __setitem__(self, name: str, value: object) -> None:
        spec = SPECS.get(name)
        if spec is None:
            raise KeyError(name)
        parsed = self._parse(spec, value)
        self._validate(spec, parsed)
        self._values[name] = parsed
        for w in self._watchers:
            w(name, parsed)

    def __delitem__(self, name: str) -> None:
        raise TypeError("sysctls cannot be deleted")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def get(self, name: str, default: Value | None = None) -> Value | None:
        return self._values.get(name, default)

    def keys(self) -> list[str]:
        return list(self._values)

    def values(self) -> list[Value]:
        return list(self._values.values())

    def items(self) -> list[tuple[str, Value]]:
        return list(self._values.items())

    def update(self, other: dict[str, object] | None = None, **kw: object) -> None:
        for k, v in {**(other or {}), **kw}.items():
            self[k] = v

    def watch(self, fn: Callable[[str, Value], None]) -> None:
        self._watchers.append(fn)

    @staticmethod
    def _parse(spec: SysctlSpec, value: object) -> Value:
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
            if len(nums) != 1:
                raise _einval(spec.name, value)
            return nums[0]
        if spec.pair:
            if (not isinstance(value, (tuple, list)) or len(value) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
                raise _einval(spec.name, value)
            return (int(value[0]), int(value[1]))
        if not isinstance(value, int) or isinstance(value, bool):
            raise _einval(spec.name, value)
        return value

    def _validate(self, spec: SysctlSpec, value: Value) -> None:
        if isinstance(value, tuple):
            low, high = value
            # ipv4_local_port_range: low <= high, both in 1..65535, low >= unprivileged start
            unpriv = self.get_int("net.ipv4.ip_unprivileged_port_start")
            if not (spec.lo <= low <= high <= spec.hi) or low < unpriv:
                raise _einval(spec.name, value)
            return
        if not spec.lo <= value <= spec.hi:
            raise _einval(spec.name, value)
        if spec.name == "net.ipv4.ip_unprivileged_port_start":
            # ipv4_privileged_ports: must not exceed the local port range's low end
            port_range = self._values["net.ipv4.ip_local_port_range"]
            assert isinstance(port_range, tuple)
            if value > port_range[0]:
                raise _einval(spec.name, value)

    def render(self, name: str) -> str:
        """The text `cat /proc/sys/...` prints."""
        v = self._values[name]
        return f"{v[0]}\t{v[1]}" if isinstance(v, tuple) else str(v)


MutableMapping.register(Sysctls)
