"""Initial sequence numbers and timestamp offsets: net/core/secure_seq.c (6.18.17+).

secure_tcp_seq_and_ts_off() hashes the 4-tuple once with siphash_3u32 under net_secret; the low
32 bits (plus CLOCK_REALTIME ns >> 6) are the ISN, the high 32 bits the TS offset (only when
tcp_timestamps == 1). The kernel feeds the network-order bit patterns of addresses and ports; we
feed our integer values. The secrets are random, so only the structure of the inputs matters.
"""

from __future__ import annotations

from typing import Final

from ..siphash import siphash_3u32, siphash_4u32
from ..wire.seq import MASK as M32


def secure_tcp_seq_and_ts_off(secret: bytes, saddr: int, daddr: int, sport: int, dport: int,
                              realtime_ns: int, tcp_timestamps: int) -> tuple[int, int]:
    """(isn, ts_off) for a flow seen from the local side (saddr/sport local)."""
    h = siphash_3u32(secret, saddr, daddr, ((sport << 16) | dport) & M32)
    isn = ((h & M32) + (realtime_ns >> 6)) & M32  # seq_scale(): 64 ns ticks
    ts_off = (h >> 32) if tcp_timestamps == 1 else 0
    return isn, ts_off


# The offset of the last connect() from each source address: (secret, daddr, dport, seed,
# offset). It is the same for every connect() to one destination from one address for 10 s,
# and a busy client asks for it thousands of times (a pure function: the entry is reused only
# when every input is equal). One entry per source address (a namespace has a few).
_LAST_OFFSET: Final[dict[int, tuple[bytes, int, int, int, int]]] = {}


def secure_ipv4_port_ephemeral(secret: bytes, saddr: int, daddr: int, dport: int,
                               jiffies: int, hz: int) -> int:
    """The u64 port offset of __inet_hash_connect; the time seed changes every 10 s."""
    seed = (jiffies // (10 * hz)) & M32
    last = _LAST_OFFSET.get(saddr)
    if (last is not None and last[1] == daddr and last[2] == dport and last[3] == seed
            and last[0] == secret):
        return last[4]
    offset = siphash_4u32(secret, saddr, daddr, dport, seed)
    _LAST_OFFSET[saddr] = (secret, daddr, dport, seed, offset)
    return offset
