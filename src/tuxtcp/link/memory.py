"""An in-memory point-to-point link with seeded delay, loss, reordering and duplication."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class LinkParams:
    delay: float = 0.0005
    loss: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    jitter: float = 0.0
    reorder_delay: float = 0.002


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

    def __post_init__(self) -> None:
        self.rng = random.Random(f"link:{self.seed}:{self.a}:{self.b}")

    def arrivals(self, now: float) -> list[float]:
        """Arrival times for one packet sent at `now` (empty when lost)."""
        p = self.params
        rng = self.rng
        self.sent += 1
        if p.loss and rng.random() < p.loss:
            self.dropped += 1
            return []
        t = now + p.delay
        if p.jitter:
            t += rng.random() * p.jitter
        if p.reorder and rng.random() < p.reorder:
            t += p.reorder_delay
        out = [t]
        if p.duplicate and rng.random() < p.duplicate:
            out.append(t + p.delay * 0.1)
        return out
