"""Timers as deadlines (no threads, no clock reads, no callbacks).

A timer is a deadline, a kind and the object it belongs to; the layer that owns the kinds (the
TCP engine's tcp/timer.py) fires due timers through one dispatcher that switches on the kind,
as the kernel's timer handlers switch on icsk_pending. Owners keep the Timer they armed and
cancel it by `timer.cancel()`. The driver asks `next_deadline()` and runs the timers due then.

Timers with the same deadline share a bucket, fired in the kernel's order (`firing_order`: the
last armed first, within the highest wheel level first). Under the kernel's timer wheel
(Clock.fire_time) deadlines are quantised to wheel buckets, so thousands of timers share a
handful of deadlines (all TIME_WAIT timers armed in the same 2 s fall in one level-3 bucket) and
the heap holds distinct deadlines only. Each bucket counts its live timers, so a bucket whose
timers were all cancelled never causes a wakeup.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class Bucket:
    """The timers due at one deadline, in arming order (they fire in `firing_order`)."""

    __slots__ = ("when", "timers", "live")

    def __init__(self, when: float) -> None:
        self.when = when
        self.timers: list[Timer] = []
        self.live = 0


class Timer:
    """A deadline, a kind and an owner. `pending` is the kernel's timer_pending().

    Two ways to use one, as the kernel has both: `Deadlines.arm` makes a new Timer per arming
    (the socket keeps it and cancels it); an object that *is* a timer (a request sock embeds
    rsk_timer, a timewait sock tw_timer) subclasses Timer and is re-armed in place with
    `Deadlines.schedule`, so arming allocates nothing. A re-armed or cancelled embedded timer
    leaves a stale entry in its old bucket; the bucket skips entries whose timer now lives
    elsewhere or is no longer pending, and drops them when it empties or is compacted."""

    __slots__ = ("when", "expires", "kind", "owner", "pending", "level", "_bucket")

    def __init__(self, when: float, kind: int, owner: object, bucket: Bucket | None,
                 level: int = 0) -> None:
        self.when = when  # when it fires (the timer wheel's bucket)
        self.expires = when  # timer->expires, what the views report (NetNamespace.arm sets it)
        self.kind = kind
        self.owner = owner
        self.pending = bucket is not None
        self.level = level  # the timer wheel level it was queued at (Clock.wheel_level)
        self._bucket = bucket

    def cancel(self) -> None:
        """del_timer: not pending any more (twice is harmless)."""
        if self.pending:
            self.pending = False
            # let go of the owner at once: a cancelled timer waits in its bucket until the
            # deadline (60 s for TIME_WAIT-length timers) and must not keep its socket alive
            self.owner = None
            b = self._bucket
            assert b is not None
            b.live -= 1
            if not b.live:
                b.timers.clear()
            elif len(b.timers) > 64 and b.live * 2 <= len(b.timers):
                b.timers = [t for t in b.timers if t.pending and t._bucket is b]  # compact

    def due_in(self, b: Bucket) -> bool:
        """Whether this entry of bucket `b` is live (not cancelled, not re-armed elsewhere)."""
        return self.pending and self._bucket is b

    def __repr__(self) -> str:
        return f"Timer(at {self.when:.6f}, kind {self.kind})"


def _level(t: Timer) -> int:
    return t.level


def firing_order(timers: list[Timer]) -> list[Timer]:
    """The entries of one bucket (in arming order) in the order the kernel fires them.
    enqueue_timer puts a timer at the head of its wheel slot's list (hlist_add_head) and
    expire_timers takes the list from its head, so the last armed fires first; when slots of
    several levels fall due on the same tick, __run_timers expires the highest level first
    (`while (levels--) expire_timers(base, heads + levels)`). Seen on 6.18: eight SYNs sent
    1 ms apart are retransmitted in reverse order (tests/test_timer_order.py)."""
    if len(timers) < 2:
        return timers
    order = timers[::-1]
    first = order[0].level
    for t in order:
        if t.level != first:
            order.sort(key=_level, reverse=True)  # stable: the last armed first within a level
            break
    return order


class Deadlines:
    def __init__(self) -> None:
        self._buckets: dict[float, Bucket] = {}
        self._keys: list[float] = []  # heap of the buckets' deadlines
        # set by arm(): only an arm can bring the next deadline forward, so a driver that
        # already knows a deadline need not ask again until this is set
        self.armed = False

    def arm(self, when: float, kind: int, owner: object, level: int = 0) -> Timer:
        b = self._buckets.get(when)
        if b is None:
            b = self._buckets[when] = Bucket(when)
            heapq.heappush(self._keys, when)
        t = Timer(when, kind, owner, b, level)
        self.armed = True
        b.timers.append(t)
        b.live += 1
        return t

    def schedule(self, t: Timer, when: float, level: int = 0) -> None:
        """mod_timer on an embedded timer: (re)arm `t` in place for `when`. Pending already for
        that very deadline: nothing changes (mod_timer's shortcut), so it keeps its place."""
        old = t._bucket
        if t.pending:
            if t.when == when:
                return
            t.cancel()
        b = self._buckets.get(when)
        if b is None:
            b = self._buckets[when] = Bucket(when)
            heapq.heappush(self._keys, when)
        elif old is b and t in b.timers:
            b.timers.remove(t)  # its stale entry: re-armed for the same deadline, it is the
            # newest entry (the head of the kernel's list: it fires first)
        t.when = when
        t.level = level
        t.pending = True
        t._bucket = b
        self.armed = True
        b.timers.append(t)
        b.live += 1

    def next_deadline(self) -> float | None:
        keys = self._keys
        buckets = self._buckets
        while keys:
            # the heap's own float object, returned and looked up as it is (a float-typed
            # local would be unboxed and boxed again for each, compiled)
            when: Any = keys[0]
            if buckets[when].live:
                return when
            heapq.heappop(keys)  # every timer in it was cancelled
            buckets.pop(when).timers.clear()  # (timers point at their bucket: no cycle left)
        return None

    def pop_due(self, now: float) -> Bucket | None:
        """Take the earliest bucket due at or before `now` out of the store (None: none due).
        The caller fires its live entries (Timer.due_in) in `firing_order`, each made not
        pending first."""
        keys = self._keys
        if keys and keys[0] <= now:
            return self._buckets.pop(heapq.heappop(keys))
        return None

    def run(self, now: float, fire: Callable[[Timer], None]) -> int:
        """Fire every live timer due at or before `now` through `fire`, in deadline order
        (within a deadline, in `firing_order`). Returns the count. A timer armed while firing,
        for a deadline that is already due, gets a new bucket and fires in this call too.
        (The engine runs the same loop natively in tcp/timer.py:run_timers.)"""
        fired = 0
        while True:
            b = self.pop_due(now)
            if b is None:
                return fired
            for t in firing_order(b.timers):
                if t.due_in(b):
                    t.pending = False
                    b.live -= 1
                    fire(t)
                    fired += 1
            b.timers.clear()

    def __len__(self) -> int:
        return sum(b.live for b in self._buckets.values())
