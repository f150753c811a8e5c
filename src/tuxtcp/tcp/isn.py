"""Initial sequence numbers and timestamp offsets: net/core/secure_seq.c (6.18.17+).

secure_tcp_seq_and_ts_off() hashes the 4-tuple once with siphash_3u32 under net_secret; the low
32 bits (plus CLOCK_REALTIME ns >> 6) are the ISN, the high 32 bits the TS offset (only when
tcp_timestamps == 1). The kernel feeds the network-order bit patterns of addresses and ports; we
feed our integer values. The secrets are random, so only the structure of the inputs matters.
"""

from __future__ import annotations

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
                               jiffies: int, hz: int,
                               memo: dict[int, tuple[int, int, int, int]] | None = None) -> int:
    """The u64 port offset of __inet_hash_connect; the time seed changes every 10 s. It is the
    same for every connect() to one destination from one address for those 10 s, and a busy
    client asks for it thousands of times: `memo`, the namespace's own (its secret never
    changes), keeps the last one per source address, (daddr, dport, seed, offset), reused only
    when every input is equal."""
    seed = (jiffies // (10 * hz)) & M32
    last = memo.get(saddr) if memo is not None else None
    if last is not None and last[0] == daddr and last[1] == dport and last[2] == seed:
        return last[3]
    offset = siphash_4u32(secret, saddr, daddr, dport, seed)
    if memo is not None:
        memo[saddr] = (daddr, dport, seed, offset)
    return offset
