"""An in-memory point-to-point link with seeded delay, loss, reordering and duplication."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Final

from .flowloss import FlowLoss

# a replayed packet (Link.lags) sent within this of when its recorded one was arrives when
# that one did: the same step on both hosts, the simulation's taken in no time and the
# kernel's in microseconds (its answer to a packet leaves after that packet's processing),
# where a tick (4 ms) apart would be another step
REPLAY_SAME_S: Final = 0.001


@dataclass
class LinkParams:
    delay: float = 0.0005
    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0
    reorder_delay: float = 0.002
    rate: float = 0.0  # bits per second each way; 0 = no serialization delay
    queue: int = 1000  # packets the sender's queue holds before tail drop (txqueuelen)
    per_flow: bool = False  # loss decided per flow (link/flowloss.py), not from one stream


@dataclass
class Link:
    """Decides, per packet and direction, when (and how many times) it arrives."""

    a: str
    b: str
    params: LinkParams
    seed: int = 0
    rng: random.Random = field(init=False)
    sent: int = 0
    dropped: int = 0
    overflowed: int = 0
    busy_until: dict[str, float] = field(default_factory=dict)
    flow_loss: FlowLoss | None = field(init=False, default=None)
    # a replayed link's own lag: (saddr, sport, daddr, dport, index within the flow) -> (how
    # much later than `delay` that packet arrived on the recorded link, a kernel run's relay,
    # after it was sent; when it was sent there)
    lags: dict[tuple[int, int, int, int, int], tuple[float, float]] | None = None
    # with `lags`: the last arrival each way (by sender), as a relay delivers in order
    lagged_until: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"link:{self.seed}:{self.a}:{self.b}")
        # (assigned here either way: a compiled dataclass has no class-level default); the
        # lags are keyed by each packet's index in its flow, which the flow loss counts
        self.flow_loss = (FlowLoss(self.seed, self.params.loss)
                          if self.params.per_flow and (self.params.loss or self.lags)
                          else None)

    @property
    def plain(self) -> bool:
        """Whether every packet arrives once, `delay` after it is sent, drawing nothing from
        the link's random stream (what arrivals() then answers). Asked per packet: a test may
        change the params of a link in use."""
        p = self.params
        # (comparisons, not `or`: an `or` of floats yields a float, boxed when compiled)
        return (p.rate == 0.0 and p.loss == 0.0 and p.jitter == 0.0 and p.reorder == 0.0
                and p.duplicate == 0.0 and self.lags is None)

    def arrivals(self, now: float, size: int = 0, src: str = "",
                 flow: tuple[int, int, int, int] | None = None) -> list[float]:
        """Arrival times for one packet of `size` bytes sent at `now` by `src` (empty when
        lost). With a rate, packets wait their turn on the wire (FIFO, tail drop). `flow`
        (saddr, sport, daddr, dport) decides its loss on a per-flow link, and its lag on a
        replayed one (`lags`)."""
        p = self.params
        rng = self.rng
        self.sent += 1
        start = now
        if p.rate:
            tx = size * 8 / p.rate
            busy = self.busy_until.get(src, 0.0)
            if busy - now > p.queue * 1500 * 8 / p.rate:
                self.overflowed += 1
                return []  # the queue in front of the link is full
            start = max(now, busy) + tx
            self.busy_until[src] = start
        lag = 0.0
        if self.flow_loss is not None and flow is not None:
            n = self.flow_loss.take(*flow)
            if n < 0:
                self.dropped += 1
                return []
            if self.lags is not None:
                rec = self.lags.get((*flow, n))
                if rec is not None:
                    lag = rec[0]
                    if -REPLAY_SAME_S <= start - rec[1] <= REPLAY_SAME_S:
                        # sent when the recorded one was: it arrives when that one did
                        lag = max(0.0, rec[1] + rec[0] - start)
                # in order each way: the relay read this packet, and wrote it, after any
                # sent before it (whose own lag may have been the longer)
                lag = max(lag, self.lagged_until.get(src, 0.0) - start - p.delay)
                self.lagged_until[src] = start + p.delay + lag
        elif p.loss and rng.random() < p.loss:
            self.dropped += 1
            return []
        t = start + p.delay + lag
        if p.jitter:
            t += rng.random() * p.jitter
        if p.reorder and rng.random() < p.reorder:
            t += p.reorder_delay
        out = [t]
        if p.duplicate and rng.random() < p.duplicate:
            out.append(t + p.delay * 0.1)
        return out
