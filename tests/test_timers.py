"""Deadlines: the timer store behind every namespace (per-deadline buckets, lazy cancel)."""

import gc
import weakref

from hypothesis import given
from hypothesis import strategies as st

from tuxtcp.net.timers import Deadlines, Timer

CALL = 1  # the only kind here: the owner is a (function, argument) pair


def fire(t: Timer) -> None:
    fn, arg = t.owner  # type: ignore[misc]
    fn(arg, t.when)


class Store:
    """Deadlines with the test's dispatcher: arm(when, fn, arg) / run(now)."""

    def __init__(self) -> None:
        self.d = Deadlines()

    def arm(self, when: float, fn: object, arg: object = None) -> Timer:
        return self.d.arm(when, CALL, (fn, arg))

    def run(self, now: float) -> int:
        return self.d.run(now, fire)

    def next_deadline(self) -> float | None:
        return self.d.next_deadline()

    def __len__(self) -> int:
        return len(self.d)


class Owner:
    """Something a timer points at (a socket, in the engine)."""


def test_fire_in_deadline_order_last_armed_first() -> None:
    # the kernel's wheel slot is a list armed at its head and expired from its head
    d = Store()
    fired: list[str] = []
    for name, when in [("c", 2.0), ("a", 1.0), ("b", 1.0), ("d", 3.0)]:
        d.arm(when, lambda arg, t: fired.append(arg), name)
    assert d.next_deadline() == 1.0
    assert d.run(2.0) == 3
    assert fired == ["b", "a", "c"]
    assert d.next_deadline() == 3.0 and len(d) == 1


def test_same_tick_higher_wheel_level_fires_first() -> None:
    # __run_timers expires the slots collected on one tick from the highest level down
    d = Deadlines()
    fired: list[str] = []
    for name, level in [("l1-a", 1), ("l0-a", 0), ("l2", 2), ("l1-b", 1), ("l0-b", 0)]:
        d.arm(1.0, CALL, name, level)
    d.run(1.0, lambda t: fired.append(str(t.owner)))
    assert fired == ["l2", "l1-b", "l1-a", "l0-b", "l0-a"]


def test_cancelled_timer_never_fires_and_lets_go_of_its_owner() -> None:
    d = Store()
    owner = Owner()
    ref = weakref.ref(owner)
    fired: list[object] = []
    t = d.arm(60.0, lambda arg, when: fired.append(arg), owner)
    keep = d.arm(60.0, lambda arg, when: fired.append(arg), "other")
    t.cancel()
    t.cancel()  # twice is harmless
    del owner
    gc.collect()
    assert ref() is None  # the cancelled timer does not keep its socket for 60 s
    assert d.next_deadline() == 60.0 and len(d) == 1
    d.run(60.0)
    assert fired == ["other"] and not keep.pending


def test_a_bucket_with_only_cancelled_timers_causes_no_wakeup() -> None:
    d = Store()
    for i in range(100):
        d.arm(1.0, lambda arg, t: None, i).cancel()
    d.arm(5.0, lambda arg, t: None, None)
    assert d.next_deadline() == 5.0


def test_timer_armed_while_firing_for_a_due_deadline_fires_in_the_same_run() -> None:
    d = Store()
    fired: list[str] = []

    def first(arg: object, when: float) -> None:
        fired.append("first")
        d.arm(when, lambda a, t: fired.append("again"), None)

    d.arm(1.0, first, None)
    assert d.run(1.0) == 2
    assert fired == ["first", "again"] and d.next_deadline() is None


def test_compaction_keeps_every_live_timer_in_order() -> None:
    d = Store()
    fired: list[int] = []
    timers = [d.arm(7.0, lambda arg, t: fired.append(arg), i) for i in range(1000)]
    for i, t in enumerate(timers):
        if i % 3:
            t.cancel()  # two thirds cancelled: the bucket is compacted on the way
    assert len(d) == 334
    d.run(7.0)
    assert fired == list(range(999, -1, -3))


def test_cancel_during_run_of_the_same_bucket() -> None:
    d = Store()
    fired: list[int] = []
    later: list = []

    def cancel_rest(arg: object, when: float) -> None:
        fired.append(0)
        for t in later:
            t.cancel()

    later.extend(d.arm(1.0, lambda arg, t: fired.append(arg), i) for i in range(1, 5))
    d.arm(1.0, cancel_rest, None)  # armed last: fires first
    d.run(1.0)
    assert fired == [0]


NAMES: dict[int, str] = {}


def Embedded(name: str) -> Timer:  # noqa: N802 (reads as the class it stands for)
    """A timer armed in place, as a request sock (rsk_timer) or timewait sock is its own timer:
    made unarmed, then (re)armed with Deadlines.schedule. (A compiled class cannot be subclassed
    from Python, so the test names its timers in a side table.)"""
    t = Timer(0.0, CALL, None, None)
    NAMES[id(t)] = name
    return t


def _run_embedded(d: Deadlines, now: float) -> list[str]:
    fired: list[str] = []
    d.run(now, lambda t: fired.append(NAMES[id(t)]))
    return fired


def test_embedded_timer_rearmed_later_fires_once_at_its_new_deadline() -> None:
    d = Deadlines()
    a, b = Embedded("a"), Embedded("b")
    assert not a.pending
    d.schedule(a, 1.0)
    d.schedule(b, 1.0)
    d.schedule(a, 3.0)  # mod_timer to a later deadline: the 1.0 entry is stale
    assert a.pending and a.when == 3.0 and len(d) == 2
    assert _run_embedded(d, 2.0) == ["b"]
    assert d.next_deadline() == 3.0
    assert _run_embedded(d, 3.0) == ["a"] and not a.pending and len(d) == 0


def test_embedded_timer_rearmed_for_its_pending_deadline_keeps_its_place() -> None:
    d = Deadlines()
    a, b = Embedded("a"), Embedded("b")
    d.schedule(a, 1.0)
    d.schedule(b, 1.0)
    d.schedule(a, 1.0)  # mod_timer with the same expiry: nothing changes
    assert len(d) == 2 and _run_embedded(d, 1.0) == ["b", "a"]


def test_embedded_timer_cancelled_then_rearmed_for_the_same_deadline_is_newest() -> None:
    d = Deadlines()
    a, b = Embedded("a"), Embedded("b")
    d.schedule(a, 1.0)
    d.schedule(b, 1.0)
    a.cancel()
    d.schedule(a, 1.0)  # at the head of the kernel's list again: it fires first
    assert len(d) == 2 and _run_embedded(d, 1.0) == ["a", "b"]


def test_embedded_timer_cancelled_never_fires_and_rearms_after_firing() -> None:
    d = Deadlines()
    a = Embedded("a")
    d.schedule(a, 1.0)
    a.cancel()
    a.cancel()
    assert d.next_deadline() is None and _run_embedded(d, 5.0) == []
    d.schedule(a, 6.0)
    assert _run_embedded(d, 6.0) == ["a"]
    d.schedule(a, 7.0)  # re-armed after it fired
    assert _run_embedded(d, 7.0) == ["a"] and len(d) == 0


def test_stale_entries_of_rearmed_timers_are_compacted() -> None:
    d = Deadlines()
    ts = [Embedded(str(i)) for i in range(200)]
    for t in ts:
        d.schedule(t, 1.0)
    keep = Embedded("keep")
    d.schedule(keep, 1.0)
    for t in ts:
        d.schedule(t, 2.0)  # each leaves a stale entry in the 1.0 bucket
    bucket = keep._bucket  # white box: the stale entries are gone
    assert bucket is not None and len(bucket.timers) <= 2 * bucket.live + 64
    assert _run_embedded(d, 1.0) == ["keep"]
    assert len(_run_embedded(d, 2.0)) == 200


# arm at one of a few deadlines and wheel levels (shared buckets and the per-level shortcut are
# the point), cancel the n-th armed timer, ask for the next deadline, or run up to an instant
TIMER_OPS = st.lists(st.one_of(
    st.tuples(st.just("arm"), st.sampled_from([0.5, 1.0, 1.0 + 2 ** -20, 2.0, 60.0]),
              st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("next"), st.just(0.0), st.just(0)),
    st.tuples(st.just("run"), st.sampled_from([0.0, 0.9, 1.0, 2.0, 100.0]), st.just(0))),
    max_size=120)


@given(TIMER_OPS)
def test_against_a_list_of_pending_timers(ops: list[tuple[str, float, int]]) -> None:
    """Deadlines against the plainest model: a list of (deadline, level, arming order) of the
    pending timers. The next deadline is the earliest pending one; a run fires every timer
    due, by deadline, then the higher wheel level first, then the last armed first."""
    d = Deadlines()
    armed: list[Timer] = []
    pending: dict[int, tuple[float, int]] = {}  # arming order -> (deadline, level)
    fired: list[int] = []
    for op, x, level in ops:
        if op == "arm":
            pending[len(armed)] = (x, level)
            armed.append(d.arm(x, CALL, len(armed), level))
        elif op == "cancel" and armed:
            n = int(x) % len(armed)
            armed[n].cancel()
            pending.pop(n, None)
        elif op == "next":
            want = min((w for w, _ in pending.values()), default=None)
            assert d.next_deadline() == want
        elif op == "run":
            due = sorted((k for k, (w, _) in pending.items() if w <= x),
                         key=lambda k: (pending[k][0], -pending[k][1], -k))
            fired.clear()
            d.run(x, lambda t: fired.append(t.owner))  # type: ignore[arg-type]
            assert fired == due
            for k in due:
                del pending[k]
    assert len(d) == len(pending)
