"""The order a kernel run's NET_RX took the veth's packets in, for its replay.

Over a veth every packet goes through one CPU's backlog (enqueue_to_backlog), and the
kernel run's agents send them all from one CPU: NET_RX takes them in the order they were
queued, when it runs. A tick's timer softirq queues its resends, and NET_RX takes them in
once it has finished, or later in ksoftirqd, so the agents' connect()s and accept()s can come
first. The trace gives some packets the instant NET_RX took them in (kernel_trace); the
others go in behind the packets the kernel queued before them.
"""

from __future__ import annotations

from typing import Final

# a packet behind another arrives this much after it
BACKLOG_EPS_S: Final = 1e-8


class RxBacklog:
    """When each packet of a replayed veth arrives: `arrival(now, arrives, traced)`."""

    def __init__(self, hold_max: float, queued_max: float) -> None:
        self.hold_max = hold_max  # how long after the kernel queued it NET_RX may take it in
        # how far from the replay's sending the kernel's queueing may be: a tick (a resend
        # on the same jiffy, whose timer softirq the kernel ran late in it)
        self.queued_max = queued_max
        # (the kernel's queueing, the arrival) of the packets held until their own instants
        self._held: list[tuple[float, float]] = []
        self._behind = 0.0  # the last arrival of a packet that waited behind them

    def arrival(self, now: float, arrives: float,
                traced: tuple[float, float] | None) -> float:
        """When a packet sent at `now`, which the link would deliver at `arrives`, reaches
        its peer. `traced`: when the kernel run queued it and when NET_RX took it in, if the
        trace followed it. One with its own instant arrives then, if the kernel queued it
        within `queued_max` of `now` and took it in within `hold_max` of that, even sooner
        than `arrives` (NET_RX took a handshake's ACK in 1 us after its queueing, just ahead
        of an accept()): the order NET_RX took it in, even ahead of packets sent before it
        here (an ACK that a tick's softirq held back in the connect() it interrupted went in
        behind that softirq's resends). One without arrives behind the held packets the
        kernel queued before it was sent, and behind the packets sent before it that waited
        for them."""
        at = arrives
        if (traced is not None and abs(traced[0] - now) <= self.queued_max
                and traced[1] - traced[0] <= self.hold_max):
            at = max(now, traced[1])
            self._held.append((traced[0], at))
        elif self._held or self._behind >= at:
            self._held = [(q, a) for q, a in self._held if a >= now]
            ahead = [a for q, a in self._held if q <= now and a >= at]
            if ahead:
                at = max(ahead) + BACKLOG_EPS_S
            if self._behind >= at:
                at = self._behind + BACKLOG_EPS_S
            if at > arrives:
                self._behind = at
        return at
