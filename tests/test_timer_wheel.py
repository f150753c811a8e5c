"""The kernel's timer wheel (HZ=250): what exp1_backlog.py and exp8 saw on Linux 6.18."""

import errno
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import Harness
from states import syn_recv
from tuxtcp.net.clock import Clock, _ceil, round_int
from tuxtcp.net.sysctl import HZ


def test_syn_retransmits_land_on_8_jiffy_buckets_then_step_1024_ms() -> None:
    # exp1 A: >S@0.031 >S@1.043 >S@2.067 >S@3.091: the first retransmit is rounded up to a
    # 32 ms bucket (level 1 = 8 jiffies), later ones step by 256 jiffies = 1.024 s
    h = Harness(timer_model="wheel")
    s = h.socket()
    s.setblocking(False)
    assert s.connect_ex(("198.18.0.99", 9)) == errno.EINPROGRESS
    sent = [t for t, _ in h.advance(8.0)]
    first = sent[0]
    assert 1.0 < first <= 1.032 + 1e-9
    j = round((h.ns.uptime0 + first) * HZ)
    assert j % 8 == 0  # a level-1 bucket boundary
    steps = [round(b - a, 6) for a, b in zip(sent, sent[1:], strict=False)]
    # four 1 s RTOs (tcp_syn_linear_timeouts), then 2 s = 500 jiffies -> a 504-jiffy bucket
    assert steps == [1.024, 1.024, 1.024, 1.024, 2.016]


def test_timers_armed_close_together_fire_together() -> None:
    h = Harness(timer_model="wheel")
    socks = []
    for i in range(4):
        h.driver.clock = i * 0.01
        s = h.socket()
        s.setblocking(False)
        s.connect_ex(("198.18.0.99", 9 + i))
        socks.append(s)
    times = sorted({round(t, 6) for t, _ in h.advance(1.2)})
    assert len(times) <= 2  # 4 SYNs 10 ms apart: at most two 32 ms buckets


def test_synack_retransmits_1024_then_2016() -> None:
    # exp1 C: <SA@0.096 <SA@1.120 <SA@3.136
    h = Harness(timer_model="wheel")
    syn_recv(h)
    sent = [t for t, _ in h.advance(3.5)]
    assert len(sent) == 2
    assert 1.0 < sent[0] <= 1.032 + 1e-9 and round(sent[1] - sent[0], 6) == 2.016


def test_a_timer_due_now_fires_at_the_next_tick() -> None:
    # calc_wheel_index rounds a level-0 expiry up by one jiffy: expires = jiffies + 0 fires
    # when jiffies next advances (packetdrill's close-remote-fin-then-close.pkt on 6.18: the
    # ACK of a FIN delayed by an ato of 0 leaves within the 4 ms tolerance)
    h = Harness(timer_model="wheel")
    clock = h.ns.clock
    for now in (0.0101, 0.0119, 0.5):
        fire = clock.fire_time(now, 0.0)
        assert clock.jiffies(fire) == clock.jiffies(now) + 1
        assert 0 < fire - now <= 1 / HZ + 1e-9


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 2000.0), st.floats(0.0, 200.0), st.floats(0.0, 1000.0),
       st.sampled_from(["wheel", "exact"]))
def test_placing_a_timer_at_once_is_its_fire_time_level_and_expiry(
        up0: float, now: float, timeout: float, model: str) -> None:
    clock = Clock(up0, 0, model)
    assert clock.place(now, timeout) == (clock.fire_time(now, timeout),
                                         clock.wheel_level(timeout),
                                         clock.expiry(now, timeout))


@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False)
       | st.integers(-10**9, 10**9).map(lambda n: n / 2)  # every tie: half to even
       | st.integers(0, 10**7).map(lambda n: n * 1e-6 * 1_000_000))
def test_round_int_is_pythons_round(x: float) -> None:
    # the hot paths' microseconds and jiffies: the same integer as round(), ties to even
    assert round_int(x) == round(x)


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_the_jiffies_round_up_is_math_ceil(x: float) -> None:
    """Clock's round up of a timeout in jiffies (msecs_to_jiffies) is math.ceil's."""
    assert _ceil(x) == math.ceil(x)
