"""Traffic generators for the World: spoofed SYN floods and client connection arrivals."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Final

from ..wire.ipv4 import Packet, ip_to_int
from ..wire.tcp import SYN, TcpSegment

if TYPE_CHECKING:
    from .world import World

FLOOD_NET: Final = ip_to_int("198.19.128.0")  # spoofed sources: 198.19.128.0/17, owned by nobody


class SynFlood:
    """SYNs from random spoofed sources that never answer, at a fixed rate."""

    def __init__(self, world: World, target: tuple[str, int], rate: float, duration: float,
                 start: float | None = None, seed: int = 0, timestamps: bool = True) -> None:
        self.world = world
        self.dst = ip_to_int(target[0])
        self.dport = target[1]
        self.interval = 1.0 / rate
        self.start = world.clock if start is None else start
        self.end = self.start + duration
        self.rng = random.Random(f"flood:{seed}:{world.seed}")
        self.timestamps = timestamps
        self.sent = 0
        world.call_at(self.start, self._tick)

    def _tick(self, now: float) -> None:
        # one SYN per call; the next call is scheduled at the next send time
        rng = self.rng
        src = FLOOD_NET | rng.getrandbits(15)
        seg = TcpSegment(rng.randrange(1024, 65536), self.dport, rng.getrandbits(32), 0, SYN,
                         64240, mss=1460, wscale=7, sack_perm=True,
                         tsval=rng.getrandbits(32) if self.timestamps else None, tsecr=0)
        self.world.inject(Packet(src, self.dst, seg, ip_id=rng.getrandbits(16)))
        self.sent += 1
        nxt = self.start + self.sent * self.interval
        if nxt < self.end:
            self.world.call_at(nxt, self._tick)
