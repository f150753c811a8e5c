"""Initial sequence numbers and timestamp offsets: net/core/secure_seq.c (6.18.17+).

secure_tcp_seq_and_ts_off() hashes the 4-tuple once with siphash_3u32 under net_secret; the low
32 bits (plus CLOCK_REALTIME ns >> 6) are the ISN, the high 32 bits the TS offset (only when
tcp_timestamps == 1). The kernel feeds the network-order bit patterns of addresses and ports; we
feed our integer values. The secrets are random, so only the structure of the inputs matters.
"""

from __future__ import annotations

import functools

from ..siphash import siphash_3u32, siphash_4u32
from ..wire.seq import MASK as M32


def secure_tcp_seq_and_ts_off(secret: bytes, saddr: int, daddr: int, sport: int, dport: int,
                              realtime_ns: int, tcp_timestamps: int) -> tuple[int, int]:
    """(isn, ts_off) for a flow seen from the local side (saddr/sport local)."""
    h = siphash_3u32(secret, saddr, daddr, ((sport << 16) | dport) & M32)
    isn = ((h & M32) + (realtime_ns >> 6)) & M32  # seq_scale(): 64 ns ticks
    ts_off = (h >> 32) if tcp_timestamps == 1 else 0
    return isn, ts_off


def secure_ipv4_port_ephemeral(secret: bytes, saddr: int, daddr: int, dport: int,
                               jiffies: int, hz: int) -> int:
    """The u64 port offset of __inet_hash_connect; the time seed changes every 10 s."""
    return _port_offset(secret, saddr, daddr, dport, (jiffies // (10 * hz)) & M32)


@functools.lru_cache(maxsize=4096)
def _port_offset(secret: bytes, saddr: int, daddr: int, dport: int, seed: int) -> int:
    # the same for every connect() to one destination from one address for 10 s: a busy
    # client asks for it thousands of times, so it is remembered (a pure function)
    return siphash_4u32(secret, saddr, daddr, dport, seed)
