"""Loss decided per flow: whether the n-th packet one way of a TCP flow is lost is a keyed hash
of (seed, source, destination, n), not a draw from one random stream shared by every flow.

Two runs that send the same packets on each flow lose the same ones, whatever order the flows'
packets interleave in: the simulation's link and the kernel target's userspace relay
(`simulate/kernel_relay.py`) both decide with it, so a lossy scenario can be compared with the
kernel client by client. One client's fate no longer depends on how many packets other
clients sent before it, either.
"""

from __future__ import annotations

from typing import Final

from ..siphash import siphash_u32s

_SCALE: Final = 1 << 64


def flow_key(seed: int) -> bytes:
    """The 128-bit SipHash key of a seed (the same on every machine and Python)."""
    return b"tuxtcp-flows" + (seed & 0xFFFFFFFF).to_bytes(4, "little")


class FlowLoss:
    """`lost(saddr, sport, daddr, dport)`: the fate of the next packet of that flow, one way
    (addresses as host-order ints). Remembers one counter per flow direction it has seen."""

    def __init__(self, seed: int, loss: float) -> None:
        if not 0.0 <= loss <= 1.0:
            raise ValueError(f"loss must be within 0..1, not {loss!r}")
        self._key = flow_key(seed)
        self._below = int(loss * _SCALE)  # lost when the hash is below this
        self._sent: dict[tuple[int, int, int, int], int] = {}

    def lost(self, saddr: int, sport: int, daddr: int, dport: int) -> bool:
        return self.take(saddr, sport, daddr, dport) < 0

    def take(self, saddr: int, sport: int, daddr: int, dport: int) -> int:
        """The next packet of that flow, one way: its index within the flow (from 0), or -1
        when it is lost."""
        flow = (saddr, sport, daddr, dport)
        n = self._sent.get(flow, 0)
        self._sent[flow] = n + 1
        if self._below and siphash_u32s(self._key, saddr, (sport << 16) | dport, daddr,
                                        n) < self._below:
            return -1
        return n
