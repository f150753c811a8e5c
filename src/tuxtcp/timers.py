"""Timers as deadlines: a heap with lazy cancellation (no threads, no clock reads).

Owners keep the Timer they armed and cancel it by `timer.cancel()`; the heap drops dead entries
when they surface. The driver asks `next_deadline()` and calls `run(now)` at that time.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class Timer:
    __slots__ = ("when", "fn", "arg", "alive")

    def __init__(self, when: float, fn: Callable[[Any, float], None], arg: Any) -> None:
        self.when = when
        self.fn = fn
        self.arg = arg
        self.alive = True

    def cancel(self) -> None:
        self.alive = False

    def __repr__(self) -> str:
        return f"Timer(at {self.when:.6f}, {getattr(self.fn, '__name__', self.fn)})"


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0

    def arm(self, when: float, fn: Callable[[Any, float], None], arg: Any = None) -> Timer:
        t = Timer(when, fn, arg)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, t))
        return t

    def next_deadline(self) -> float | None:
        h = self._heap
        while h and not h[0][2].alive:
            heapq.heappop(h)
        return h[0][0] if h else None

    def run(self, now: float) -> int:
        """Fire every live timer due at or before `now`, in deadline order. Returns the count."""
        h = self._heap
        fired = 0
        while h and h[0][0] <= now:
            _, _, t = heapq.heappop(h)
            if t.alive:
                t.alive = False
                t.fn(t.arg, t.when)
                fired += 1
        return fired

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if t.alive)
