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

The heap holds the buckets themselves, ordered by their deadline with native float compares,
so the next deadline is read off its top; the dict by deadline is only asked when a timer is
armed, and not even then when the bucket the last timer of the same wheel level went to has
the same deadline (timers armed a few milliseconds apart at one level share a bucket). In the
compiled build each dict access boxes its float key and hashes and compares it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final


class Bucket:
    """The timers due at one deadline, in arming order (they fire in `firing_order`)."""

    __slots__ = ("when", "key", "timers", "live", "stored")

    def __init__(self, when: float, key: object) -> None:
        self.when = when
        self.key = key  # `when` as the store's dict holds it (deleted by the same object)
        self.timers: list[Timer] = []
        self.live = 0
        self.stored = True  # in the store (False once taken out: due, or every timer gone)


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


# wheel levels (Clock.wheel_level: 0-8) each with the bucket its last timer went to
_LEVELS: Final = 9


class Deadlines:
    def __init__(self) -> None:
        # by deadline (keys typed as objects: a float boxed once serves the lookup and the
        # insert)
        self._buckets: dict[object, Bucket] = {}
        self._heap: list[Bucket] = []  # the stored buckets, earliest deadline on top
        self._recent: list[Bucket | None] = [None] * _LEVELS
        # set by arm(): only an arm can bring the next deadline forward, so a driver that
        # already knows a deadline need not ask again until this is set
        self.armed = False

    def _bucket(self, when: float, level: int) -> Bucket:
        """The stored bucket for deadline `when`, made if there is none."""
        cached = 0 <= level < _LEVELS
        b = self._recent[level] if cached else None
        if b is not None and b.stored and b.when == when:
            return b
        key: object = when  # (boxed once, for both the lookup and the insert)
        found = self._buckets.get(key)
        if found is None:
            found = Bucket(when, key)
            self._buckets[key] = found
            self._sift_up(found)
        if cached:
            self._recent[level] = found
        return found

    def arm(self, when: float, kind: int, owner: object, level: int = 0) -> Timer:
        b = self._bucket(when, level)
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
        b = self._bucket(when, level)
        if old is b and t in b.timers:
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
        heap = self._heap
        while heap:
            b = heap[0]
            if b.live:
                return b.when
            self._take_top().timers.clear()  # every timer in it was cancelled (timers point
            # at their bucket: no cycle left)
        return None

    def pop_due(self, now: float) -> Bucket | None:
        """Take the earliest bucket due at or before `now` out of the store (None: none due).
        The caller fires its live entries (Timer.due_in) in `firing_order`, each made not
        pending first."""
        heap = self._heap
        if heap and heap[0].when <= now:
            return self._take_top()
        return None

    def _take_top(self) -> Bucket:
        # (the sift of sim/events.py's event heap, over buckets: one heap shared by both, of a
        # common base class, was tried: compiled, each read of an entry then checks its
        # subclass, 900 instructions more a simulated connection)
        heap = self._heap
        top = heap[0]
        last = heap.pop()
        n = len(heap)
        if n:
            i = 0
            while True:  # down from the root with the last leaf, past the earlier child
                child = 2 * i + 1
                if child >= n:
                    break
                c = heap[child]
                if child + 1 < n:
                    r = heap[child + 1]
                    if r.when < c.when:
                        child += 1
                        c = r
                if not c.when < last.when:
                    break
                heap[i] = c
                i = child
            heap[i] = last
        top.stored = False
        del self._buckets[top.key]
        return top

    def _sift_up(self, b: Bucket) -> None:
        heap = self._heap
        heap.append(b)
        i = len(heap) - 1
        while i > 0:
            parent = (i - 1) >> 1
            p = heap[parent]
            if not b.when < p.when:
                break
            heap[i] = p
            i = parent
        heap[i] = b

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
