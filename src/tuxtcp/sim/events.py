"""The World's event queue: events by (when, seq), in a binary min-heap and a FIFO.

seq numbers the pushes, so events due at the same instant run in the order they were made
and a run is the same on every build. The heap is written out here rather than kept as
tuples in heapq: in the compiled build each comparison is then two native float (and int)
compares, where heapq compared tuples item by item through the interpreter's rich
comparison (6% of a slow-accept run's instructions).

Most events are packets crossing a link of fixed delay, and those arrive in the order they
were sent: `push_in_order` appends such an event to a FIFO (no sifting) when it comes no
earlier than the FIFO's last, and `pop` takes the earlier of the FIFO's head and the heap's
top. Timers and scheduled calls stay on the heap, which is then a handful deep. The order
is the one a single heap gives.
"""

from __future__ import annotations

from typing import Any, Final


class Action:
    """Something scheduled with World.call_at: `run(now)` at its time. A plain function
    `fn(now)` does too; an Action's run is a direct call in the compiled build (a function
    kept as a callable is called through the interpreter's generic call, its `now` boxed)."""

    def run(self, now: float) -> None:
        raise NotImplementedError


class Event:
    """What happens at `when`: `kind` (the World's DELIVER, TIMER or CALL), for `host`,
    with `obj` (the packet, nothing, or the function to call)."""

    def __init__(self, when: float, seq: int, kind: int, host: Any, obj: Any) -> None:
        self.when = when
        self.seq = seq
        self.kind = kind
        self.host = host
        self.obj = obj


def _before(a: Event, b: Event) -> bool:
    return a.when < b.when or (a.when == b.when and a.seq < b.seq)


# how many events done with (release) the queue keeps to reuse
SPARE_EVENTS: Final = 256


class EventQueue:
    """Events in (when, seq) order: push, pop the first, peek at its time. An event given back
    with release() once its fields are read is reused by a later push (about eight events a
    simulated connection: each otherwise an allocation and a garbage-collected free)."""

    def __init__(self) -> None:
        self._items: list[Event] = []  # the heap
        self._fifo: list[Event] = []  # in (when, seq) order from _head on
        self._head = 0
        self._seq = 0
        self._spare: list[Event] = []

    def __len__(self) -> int:
        return len(self._items) + len(self._fifo) - self._head

    def empty(self) -> bool:
        """No event left (the World asks before each event: compiled, this is a direct call,
        where `not queue` goes through the interpreter's truth test and __len__)."""
        return not self._items and self._head == len(self._fifo)

    def _event(self, when: float, kind: int, host: Any, obj: Any) -> Event:
        self._seq += 1
        spare = self._spare
        if spare:
            ev = spare.pop()
            ev.when = when
            ev.seq = self._seq
            ev.kind = kind
            ev.host = host
            ev.obj = obj
            return ev
        return Event(when, self._seq, kind, host, obj)

    def push_in_order(self, when: float, kind: int, host: Any, obj: Any) -> None:
        """push(), for a caller whose events come in time order (a link of fixed delay): into
        the FIFO if it comes no earlier than the FIFO's last event, else onto the heap."""
        fifo = self._fifo
        if self._head < len(fifo) and when < fifo[-1].when:
            self.push(when, kind, host, obj)
            return
        fifo.append(self._event(when, kind, host, obj))

    def push(self, when: float, kind: int, host: Any, obj: Any) -> None:
        ev = self._event(when, kind, host, obj)
        items = self._items
        items.append(ev)
        i = len(items) - 1
        while i > 0:  # up from the new leaf while its parent comes later
            parent = (i - 1) >> 1
            p = items[parent]
            if not _before(ev, p):
                break
            items[i] = p
            i = parent
        items[i] = ev

    def first_when(self) -> float:
        """The time of the first event (the queue must not be empty)."""
        fifo, head, items = self._fifo, self._head, self._items
        if head < len(fifo) and (not items or _before(fifo[head], items[0])):
            return fifo[head].when
        return items[0].when

    def pop(self) -> Event:
        """Remove and return the first event (the queue must not be empty)."""
        fifo, head, items = self._fifo, self._head, self._items
        if head < len(fifo):
            ev = fifo[head]
            if not items or _before(ev, items[0]):
                head += 1
                if head == len(fifo):
                    fifo.clear()
                    head = 0
                elif head >= 256 and head * 2 >= len(fifo):
                    del fifo[:head]  # (the events before the head are popped)
                    head = 0
                self._head = head
                return ev
        return self._pop_heap()

    def _pop_heap(self) -> Event:
        items = self._items
        first = items[0]
        last = items.pop()
        n = len(items)
        if n:
            i = 0
            while True:  # down from the root with the last leaf, past the earlier child
                child = 2 * i + 1
                if child >= n:
                    break
                c = items[child]
                if child + 1 < n:
                    r = items[child + 1]
                    if _before(r, c):
                        child += 1
                        c = r
                if not _before(c, last):
                    break
                items[i] = c
                i = child
            items[i] = last
        return first

    def release(self, ev: Event) -> None:
        """`ev`, popped and read, is done with: keep it for a later push (its references
        dropped now)."""
        ev.host = None
        ev.obj = None
        if len(self._spare) < SPARE_EVENTS:
            self._spare.append(ev)

    def clear(self) -> None:
        self._items.clear()
        self._fifo.clear()
        self._head = 0
