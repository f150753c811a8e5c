"""SYN cookies, IPv4 encoding: net/ipv4/syncookies.c and include/net/tcp.h.

Orientation: saddr/sport are the client (the SYN's and the third ACK's source), daddr/dport the
listener. `keys` are the namespace's two SipHash keys (syncookie_secret[2]).
"""

from __future__ import annotations

from typing import Final

from ..siphash import siphash_4u32
from ..wire.seq import MASK as M32

COOKIEBITS: Final = 24
COOKIEMASK: Final = (1 << COOKIEBITS) - 1
MAX_SYNCOOKIE_AGE: Final = 2
MSSTAB: Final = (536, 1300, 1440, 1460)
TSBITS: Final = 6
TSMASK: Final = (1 << TSBITS) - 1
TS_OPT_WSCALE_MASK: Final = 0xF
TS_OPT_SACK: Final = 1 << 4
TS_OPT_ECN: Final = 1 << 5
TCP_SYNCOOKIE_PERIOD_S: Final = 60
TCP_SYNCOOKIE_VALID_S: Final = 120


def cookie_hash(key: bytes, saddr: int, daddr: int, sport: int, dport: int, count: int) -> int:
    """syncookies.c:cookie_hash, truncated to u32."""
    return siphash_4u32(key, saddr, daddr, ((sport << 16) | dport) & M32, count & M32) & M32


def secure_tcp_syn_cookie(keys: tuple[bytes, bytes], saddr: int, daddr: int, sport: int,
                          dport: int, sseq: int, count: int, data: int) -> int:
    """syncookies.c:secure_tcp_syn_cookie. `data` is the MSS index (< 4)."""
    return (cookie_hash(keys[0], saddr, daddr, sport, dport, 0) + sseq + (count << COOKIEBITS)
            + ((cookie_hash(keys[1], saddr, daddr, sport, dport, count) + data) & COOKIEMASK)
            ) & M32


def check_tcp_syn_cookie(keys: tuple[bytes, bytes], cookie: int, saddr: int, daddr: int,
                         sport: int, dport: int, sseq: int, count: int) -> int:
    """syncookies.c:check_tcp_syn_cookie: the 24-bit data, or a value >= 4 when invalid."""
    cookie = (cookie - (cookie_hash(keys[0], saddr, daddr, sport, dport, 0) + sseq)) & M32
    diff = (count - (cookie >> COOKIEBITS)) & (M32 >> COOKIEBITS)
    if diff >= MAX_SYNCOOKIE_AGE:
        return 0xFFFFFFFF
    return (cookie - cookie_hash(keys[1], saddr, daddr, sport, dport, count - diff)) & COOKIEMASK


def mss_index(mss: int) -> int:
    """__cookie_v4_init_sequence: the largest table entry <= mss (index 0 below 536)."""
    for i in (3, 2, 1):
        if mss >= MSSTAB[i]:
            return i
    return 0


def cookie_v4_init_sequence(keys: tuple[bytes, bytes], saddr: int, daddr: int, sport: int,
                            dport: int, seq: int, mss: int, count: int) -> tuple[int, int]:
    """(cookie ISN, the MSS the cookie will restore)."""
    idx = mss_index(mss)
    return secure_tcp_syn_cookie(keys, saddr, daddr, sport, dport, seq, count, idx), MSSTAB[idx]


def cookie_v4_check(keys: tuple[bytes, bytes], saddr: int, daddr: int, sport: int, dport: int,
                    ack_seq: int, seq: int, count: int) -> int:
    """__cookie_v4_check on a third ACK: the restored MSS, or 0 for an invalid cookie."""
    cookie = (ack_seq - 1) & M32
    data = check_tcp_syn_cookie(keys, cookie, saddr, daddr, sport, dport, (seq - 1) & M32,
                                count)
    return MSSTAB[data] if data < len(MSSTAB) else 0


def cookie_init_timestamp(now_ms: int, wscale_ok: bool, snd_wscale: int, sack_ok: bool,
                          ecn_ok: bool) -> int:
    """syncookies.c:cookie_init_timestamp: TSval (before ts_off) with options in the low 6 bits."""
    options = snd_wscale if wscale_ok else TS_OPT_WSCALE_MASK
    if sack_ok:
        options |= TS_OPT_SACK
    if ecn_ok:
        options |= TS_OPT_ECN
    ts = ((now_ms >> TSBITS) << TSBITS) | options
    if ts > now_ms:
        ts -= 1 << TSBITS
    return ts & M32


class CookieOptions:
    """What cookie_timestamp_decode restores from the ACK's TSecr."""

    __slots__ = ("tstamp_ok", "sack_ok", "wscale_ok", "snd_wscale", "ecn_ok")

    def __init__(self) -> None:
        self.tstamp_ok = False
        self.sack_ok = False
        self.wscale_ok = False
        self.snd_wscale = 0
        self.ecn_ok = False


def cookie_timestamp_decode(saw_tstamp: bool, options: int, sysctl_timestamps: int,
                            sysctl_sack: int, sysctl_window_scaling: int) -> CookieOptions | None:
    """syncookies.c:cookie_timestamp_decode (+ the ECN bit). None means the ACK must fail."""
    out = CookieOptions()
    if not saw_tstamp:  # tcp_clear_options: no TS, SACK or WS
        return out
    if not sysctl_timestamps:
        return None
    out.tstamp_ok = True
    out.sack_ok = bool(options & TS_OPT_SACK)
    if out.sack_ok and not sysctl_sack:
        return None
    out.ecn_ok = bool(options & TS_OPT_ECN)
    if (options & TS_OPT_WSCALE_MASK) == TS_OPT_WSCALE_MASK:
        return out
    out.wscale_ok = True
    out.snd_wscale = options & TS_OPT_WSCALE_MASK
    return out if sysctl_window_scaling else None
