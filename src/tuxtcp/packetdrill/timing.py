"""Script time as packetdrill keeps it (run.c): when each event is due, and the tolerance an
event's actual time is checked against. Microseconds throughout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .script import ABSOLUTE, ABSOLUTE_RANGE, ANY, RELATIVE_RANGE, Timing

TOLERANCE_USECS: Final = 4000
TOLERANCE_PERCENT: Final = 12.5


class ScriptError(Exception):
    """A script that fails: `path:line: message`, as packetdrill prints it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Due:
    """An event's scheduled time (and the end of its range), after relative times are
    resolved (adjust_relative_event_times)."""

    start: int
    end: int | None
    kind: str
    offset: int  # what a relative time was added to


def resolve(t: Timing, anchor: int) -> Due:
    """`anchor` is the previous event's scheduled time when it and this one are both inbound
    packets, else the time the previous event actually finished."""
    if t.kind == ABSOLUTE:
        return Due(t.usecs, None, t.kind, 0)
    if t.kind == ABSOLUTE_RANGE:
        return Due(t.usecs, t.end_usecs, t.kind, 0)
    if t.kind == ANY:
        return Due(anchor, None, t.kind, anchor)
    end = None if t.end_usecs is None else t.end_usecs + anchor
    return Due(t.usecs + anchor, end, t.kind, anchor)


def tolerance(due_start: int, last_due_start: int | None, usecs: int = TOLERANCE_USECS,
              percent: float = TOLERANCE_PERCENT) -> int:
    """The larger of tolerance_usecs and tolerance_percent of the scheduled gap since the
    previous event."""
    if last_due_start is None:
        return usecs
    return max(usecs, int(percent / 100 * (due_start - last_due_start)))


def verify_time(due: Due, actual: int, tol: int, what: str) -> str | None:
    """verify_time: None when `actual` is within tolerance, else packetdrill's message."""
    if due.kind == ANY:
        return None
    if due.end is None:
        if due.start - tol <= actual <= due.start + tol:
            return None
        return (f"timing error: expected {what} at {due.start / 1e6:.6f} sec but happened at "
                f"{actual / 1e6:.6f} sec; tolerance {tol / 1e6:.6f} sec")
    if due.start - tol <= actual <= due.end + tol:
        return None
    if due.kind == RELATIVE_RANGE:
        return (f"timing error: expected {what} in relative time range "
                f"+{(due.start - due.offset) / 1e6:.6f}~+{(due.end - due.offset) / 1e6:.6f} sec "
                f"but happened at {(actual - due.offset) / 1e6:+.6f} sec")
    return (f"timing error: expected {what} in time range {due.start / 1e6:.6f}~"
            f"{due.end / 1e6:.6f} sec but happened at {actual / 1e6:.6f} sec")
