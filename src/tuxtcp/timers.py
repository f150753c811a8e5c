"""Timers as deadlines (no threads, no clock reads).

Owners keep the Timer they armed and cancel it by `timer.cancel()`. The driver asks
`next_deadline()` and calls `run(now)` at that time.

Timers with the same deadline share a bucket, fired first-armed first. Under the kernel's timer
wheel (Namespace.fire_time) deadlines are quantised to wheel buckets, so thousands of timers
share a handful of deadlines (all TIME_WAIT timers armed in the same 2 s fall in one level-3
bucket) and the heap holds distinct deadlines only. Each bucket counts its live timers, so a
bucket whose timers were all cancelled never causes a wakeup.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


def _cancelled(arg: Any, when: float) -> None:
    """What a cancelled timer would run (it never runs)."""


class _Bucket:
    __slots__ = ("when", "timers", "live")

    def __init__(self, when: float) -> None:
        self.when = when
        self.timers: list[Timer] = []
        self.live = 0


class Timer:
    __slots__ = ("when", "fn", "arg", "alive", "_bucket")

    def __init__(self, when: float, fn: Callable[[Any, float], None], arg: Any,
                 bucket: _Bucket) -> None:
        self.when = when
        self.fn = fn
        self.arg = arg
        self.alive = True
        self._bucket = bucket

    def cancel(self) -> None:
        if self.alive:
            self.alive = False
            # drop what the timer holds at once: a cancelled timer waits in its bucket until
            # the deadline (60 s for TIME_WAIT-length timers) and must not keep its socket
            self.fn = _cancelled
            self.arg = None
            b = self._bucket
            b.live -= 1
            if not b.live:
                b.timers.clear()
            elif len(b.timers) > 64 and b.live * 2 <= len(b.timers):
                b.timers = [t for t in b.timers if t.alive]  # half dead or more: compact

    def __repr__(self) -> str:
        return f"Timer(at {self.when:.6f}, {getattr(self.fn, '__name__', self.fn)})"


class Deadlines:
    def __init__(self) -> None:
        self._buckets: dict[float, _Bucket] = {}
        self._keys: list[float] = []  # heap of the buckets' deadlines
        # set by arm(): only an arm can bring the next deadline forward, so a driver that
        # already knows a deadline need not ask again until this is set
        self.armed = False

    def arm(self, when: float, fn: Callable[[Any, float], None], arg: Any = None) -> Timer:
        b = self._buckets.get(when)
        if b is None:
            b = self._buckets[when] = _Bucket(when)
            heapq.heappush(self._keys, when)
        t = Timer(when, fn, arg, b)
        self.armed = True
        b.timers.append(t)
        b.live += 1
        return t

    def next_deadline(self) -> float | None:
        keys = self._keys
        buckets = self._buckets
        while keys:
            when = keys[0]
            if buckets[when].live:
                return when
            heapq.heappop(keys)  # every timer in it was cancelled
            buckets.pop(when).timers.clear()  # (timers point at their bucket: no cycle left)
        return None

    def run(self, now: float) -> int:
        """Fire every live timer due at or before `now`, in deadline order (first armed first
        within a deadline). Returns the count. A timer armed while firing for a deadline that
        is already due gets a new bucket and fires in this call too."""
        keys = self._keys
        buckets = self._buckets
        fired = 0
        while keys and keys[0] <= now:
            b = buckets.pop(heapq.heappop(keys))
            for t in b.timers:
                if t.alive:
                    t.alive = False
                    b.live -= 1
                    t.fn(t.arg, t.when)
                    fired += 1
            b.timers.clear()
        return fired

    def __len__(self) -> int:
        return sum(b.live for b in self._buckets.values())
