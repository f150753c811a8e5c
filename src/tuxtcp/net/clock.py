"""The clocks of one namespace: jiffies on the HZ=250 timer wheel, tcp_clock_ms, CLOCK_REALTIME.

The engine never reads a clock: every entry point takes `now` (seconds since the driver
started). A Clock turns that into the kernel's clocks, from the uptime and the wall-clock time
the namespace had at the driver's time 0, and says when a timer armed at `now` really fires.
"""

from __future__ import annotations

from typing import Final

from .sysctl import HZ

# 64-bit INITIAL_JIFFIES: (unsigned long)(unsigned int)(-300*HZ)
INITIAL_JIFFIES: Final = (-300 * HZ) & 0xFFFFFFFF


def usecs_to_jiffies(us: int) -> int:
    """usecs_to_jiffies at HZ=250: rounded up (4,000 us a jiffy; ceil(us / 4000) for any sign,
    without a product)."""
    return (us + 1_000_000 // HZ - 1) // (1_000_000 // HZ)


def round_int(x: float) -> int:
    """round(x) of a float, half to even as Python's round: the hot paths turn times into
    microseconds and jiffies millions of times a run, and compiled code calls the builtin
    through the module namespace and a bound __round__ (about 4% of a slow-accept run).
    x - int(x) is exact in binary floating point, so the result is round's to the bit."""
    n = int(x)
    f = x - n
    if f > 0.5 or (f == 0.5 and n & 1):
        return n + 1
    if f < -0.5 or (f == -0.5 and n & 1):
        return n - 1
    return n


class Clock:
    def __init__(self, uptime0: float, realtime0_ns: int, timer_model: str = "wheel") -> None:
        if timer_model not in ("wheel", "exact"):
            raise ValueError("timer_model is 'wheel' (the kernel's HZ=250 timer wheel) or "
                             "'exact' (deadlines to the nanosecond)")
        self.uptime0 = uptime0
        self.realtime0_ns = realtime0_ns
        self.timer_model = timer_model
        self.exact = timer_model == "exact"

    def jiffies(self, now: float) -> int:
        return INITIAL_JIFFIES + int((self.uptime0 + now) * HZ)

    def uptime(self, now: float) -> float:
        return self.uptime0 + now

    def tcp_clock_ms(self, now: float) -> int:
        """tcp_clock_ms(): CLOCK_MONOTONIC in ms (TSval before the per-flow offset)."""
        return int((self.uptime0 + now) * 1000)

    def realtime_ns(self, now: float) -> int:
        return self.realtime0_ns + int(now * 1e9)

    def cookie_time(self, now: float) -> int:
        """tcp_cookie_time(): jiffies64 / (60*HZ), a minute counter."""
        return (self.jiffies(now) // (60 * HZ)) & 0xFFFFFFFF

    def expiry(self, now: float, timeout: float) -> float:
        """timer->expires for a timer armed at `now` for `timeout` seconds: jiffies +
        msecs_to_jiffies(timeout), what /proc/net/tcp and inet_diag report as the time left
        (the wheel may fire it later: fire_time)."""
        if self.exact:
            return now + timeout
        expires = self.jiffies(now) + max(0, _ceil(timeout * HZ))
        return (expires - INITIAL_JIFFIES) / HZ - self.uptime0

    def fire_time(self, now: float, timeout: float) -> float:
        """When a timer armed at `now` for `timeout` seconds fires.

        'exact': now + timeout. 'wheel' (default): the kernel's timer wheel at HZ=250
        (kernel/time/timer.c:calc_wheel_index/calc_index): the expiry in jiffies is rounded up
        to the granularity of its wheel level (1, 8, 64, 512 ... jiffies) plus one bucket, so a
        1 s SYN timer fires 1.000-1.032 s later and timers armed close together fire together.
        """
        if self.exact:
            return now + timeout
        clk = self.jiffies(now)
        # msecs_to_jiffies rounds up; a timer due now (delta 0) fires at the next tick
        delta = max(0, _ceil(timeout * HZ))
        expires = clk + delta
        shift = 3 * _level(delta)
        bucket = ((expires >> shift) + 1) << shift
        return (bucket - INITIAL_JIFFIES) / HZ - self.uptime0

    def place(self, now: float, timeout: float) -> tuple[float, int, float]:
        """(fire_time, wheel_level, expiry) of a timer armed at `now` for `timeout` seconds,
        the jiffies computed once (mod_timer's path: arm and schedule take all three)."""
        if self.exact:
            return now + timeout, 0, now + timeout
        clk = self.jiffies(now)
        delta = max(0, _ceil(timeout * HZ))
        expires = clk + delta
        lvl = _level(delta)
        shift = 3 * lvl
        bucket = ((expires >> shift) + 1) << shift
        up0 = self.uptime0
        return ((bucket - INITIAL_JIFFIES) / HZ - up0, lvl,
                (expires - INITIAL_JIFFIES) / HZ - up0)

    def wheel_level(self, timeout: float) -> int:
        """The timer wheel level a timer armed for `timeout` seconds is queued at (0 for the
        'exact' model): the order among timers firing on the same tick depends on it."""
        if self.exact:
            return 0
        return _level(max(0, _ceil(timeout * HZ)))


def _ceil(x: float) -> int:
    """math.ceil of a finite float (msecs_to_jiffies rounds up), without a float floor
    division (its fmod) or a call through the math module when compiled."""
    n = int(x)
    return n + 1 if n < x else n


def _level(delta: int) -> int:
    """calc_wheel_index: level n holds deltas from LVL_START(n) = 63 << 3(n-1) jiffies."""
    lvl = 0
    while lvl < 8 and delta >= (63 << (3 * lvl)):
        lvl += 1
    return lvl
