"""The pacing rate and the TSO packet size it sets (tcp_update_pacing_rate, tcp_tso_autosize,
tcp_tso_segs).

Without fq and without a congestion control that asks for pacing, Linux does not pace TCP, but
it still computes sk_pacing_rate on every ACK and sizes TSO packets from it: about a millisecond
of the rate, plus a share of the GSO limit that shrinks as the minimum RTT grows, at least
net.ipv4.tcp_min_tso_segs segments. On 6.18 with the usual RTTs (tens of ms) that is 2
segments per packet (checked: a 100 KB write at cwnd 10 leaves as five 2000-byte packets).
"""

from __future__ import annotations

from typing import Final

from .sock import TcpSock

# sk_gso_max_size as sk_setup_caps leaves it for a 64 KiB device: 65536 less MAX_TCP_HEADER
# (320 on x86_64) and one
GSO_MAX_SIZE: Final = 65536 - 320 - 1
PACING_SHIFT: Final = 10  # sk_pacing_shift: about 1 ms of the rate per TSO packet
UNLIMITED: Final = (1 << 64) - 1  # ~0UL: no rate computed yet


def pacing_rate(sk: TcpSock) -> int:
    """tcp_update_pacing_rate, in bytes per second: mss * max(cwnd, packets_out) / srtt, times
    tcp_pacing_ss_ratio % while cwnd is under half of ssthresh, else tcp_pacing_ca_ratio %.
    The kernel sets it once the handshake gave an RTT and again on each ACK; before any RTT
    sample it is ~0 (unlimited)."""
    if sk.srtt <= 0:
        return UNLIMITED
    sysctl = sk.ns.sysctl
    ratio = sysctl.tcp_pacing_ss_ratio if sk.cwnd < sk.ssthresh // 2 else sysctl.tcp_pacing_ca_ratio
    srtt_us8 = max(int(sk.srtt * 1e6) << 3, 1)  # tp->srtt_us is kept shifted by 3
    # two products of small factors (compiled, a factor of 2**30 or more multiplies slowly)
    rate = (sk.mss_cache * ratio) * (((1_000_000 // 100) << 3) * max(sk.cwnd, len(sk.rtx_queue)))
    return rate // srtt_us8


def tso_segs(sk: TcpSock, mss: int) -> int:
    """tcp_tso_segs / tcp_tso_autosize: how many segments one TSO packet may carry."""
    sysctl = sk.ns.sysctl
    nbytes = pacing_rate(sk) >> PACING_SHIFT
    if sk.min_rtt >= 0:
        r = int(sk.min_rtt * 1e6) >> sysctl.tcp_tso_rtt_log
        if r < 32:  # BITS_PER_TYPE(sk_gso_max_size)
            nbytes += GSO_MAX_SIZE >> r
    nbytes = min(nbytes, GSO_MAX_SIZE)
    return max(nbytes // max(mss, 1), sysctl.tcp_min_tso_segs)
