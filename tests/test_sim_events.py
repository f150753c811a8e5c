"""The World's event queue (sim/events.py) against heapq on (when, seq) tuples, which it
replaced: the same events in the same order for any mix of pushes (onto the heap, or
`push_in_order`'s FIFO, in order or not) and pops, ties at one instant in the order they were
pushed."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from tuxtcp.sim.events import EventQueue

# a push at one of a few instants (ties are the point), by push() or push_in_order() (True),
# or a pop
OPS = st.lists(st.one_of(st.tuples(st.sampled_from([0.0, 0.001, 0.5, 0.5000001, 2.0, 1e9]),
                                   st.booleans()),
                         st.none()), max_size=300)


def _against_heapq(ops: list[tuple[float, bool] | None], release: list[bool]) -> None:
    """Pushes and pops (each popped event released where `release` says, as the World does
    once it has read one: a later push reuses it) give heapq's order on (when, seq)."""
    q = EventQueue()
    ref: list[tuple[float, int]] = []
    got, want = [], []
    for n, op in enumerate(ops):
        if op is None:
            if ref:
                ev = q.pop()
                got.append((ev.when, ev.obj))
                want.append(heapq.heappop(ref))
                if n < len(release) and release[n]:
                    q.release(ev)
                    assert ev.host is None and ev.obj is None  # lets go of what it held
        else:
            when, in_order = op
            (q.push_in_order if in_order else q.push)(when, 0, "host", n)
            heapq.heappush(ref, (when, n))
        assert len(q) == len(ref)
        if ref:
            assert q.first_when() == ref[0][0]
    while ref:
        ev = q.pop()
        got.append((ev.when, ev.obj))
        want.append(heapq.heappop(ref))
    assert got == want and len(q) == 0


@given(OPS)
def test_the_same_order_as_heapq_on_when_and_seq(ops: list[tuple[float, bool] | None]) -> None:
    _against_heapq(ops, [])


@given(OPS, st.lists(st.booleans(), max_size=300))
def test_released_events_are_reused_without_changing_the_order(
        ops: list[tuple[float, bool] | None], release: list[bool]) -> None:
    _against_heapq(ops, release)


def test_an_event_carries_its_kind_host_and_object_and_clear_empties() -> None:
    q = EventQueue()
    q.push(1.0, 2, "host", "fn")
    q.push(1.0, 0, None, "pkt")
    first = q.pop()
    assert (first.when, first.kind, first.host, first.obj) == (1.0, 2, "host", "fn")
    assert first.seq < q.pop().seq
    q.push(3.0, 1, None, None)
    q.clear()
    assert len(q) == 0


def test_a_push_after_a_release_reuses_that_event() -> None:
    q = EventQueue()
    q.push(1.0, 0, "a", "pkt")
    ev = q.pop()
    q.release(ev)
    q.push(2.0, 2, "b", "fn")
    again = q.pop()
    assert again is ev and (again.when, again.kind, again.host, again.obj) == (2.0, 2, "b", "fn")


def test_events_in_time_order_stay_off_the_heap_and_come_out_in_order() -> None:
    """A link's packets (in order) go to the FIFO, one that comes earlier than the FIFO's
    last to the heap; pops interleave both by (when, seq)."""
    q = EventQueue()
    for i in range(600):  # past the FIFO's compaction (256 popped)
        q.push_in_order(1.0 + i * 0.001, 0, None, ("pkt", i))
    q.push(1.0005, 1, None, "timer")
    q.push_in_order(1.0002, 0, None, "early")  # before the FIFO's last: onto the heap
    assert len(q._items) == 2 and len(q) == 602
    got = [q.pop().obj for _ in range(602)]
    assert got[:4] == [("pkt", 0), "early", "timer", ("pkt", 1)]
    assert got[4:] == [("pkt", i) for i in range(2, 600)] and q.empty()
