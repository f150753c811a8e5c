"""CUBIC with HyStart, Linux's default congestion control (net/ipv4/tcp_cubic.c), in the
kernel's fixed-point arithmetic: the window follows W(t) = C(t - K)^3 + W_max with t in
1/1024 s units counted in jiffies (HZ=250), K from a table-seeded cube root, beta 717/1024,
fast convergence, the Reno-friendly window, and at most one cnt computation a jiffy.
HyStart (the ACK train and delay detections) ends slow start early once cwnd reaches
hystart_low_window. Module parameters are the kernel's defaults (fast_convergence=1,
beta=717, initial_ssthresh=0, bic_scale=41, tcp_friendliness=1, hystart=1, hystart_detect=3,
hystart_low_window=16, hystart_ack_delta_us=2000).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..net.clock import usecs_to_jiffies
from ..net.sysctl_specs import HZ
from ..wire.seq import MASK as M32
from ..wire.seq import after, seq_sub
from .cong import TCP_CA_LOSS, CaPriv, CongestionOps, cong_avoid_ai, slow_start
from .pacing import UNLIMITED, pacing_rate

if TYPE_CHECKING:
    from .sock import TcpSock

BETA_SCALE: Final = 1024  # BICTCP_BETA_SCALE
BICTCP_HZ: Final = 10  # t is kept in 1/1024 s
BETA: Final = 717
BIC_SCALE: Final = 41
FAST_CONVERGENCE: Final = True
TCP_FRIENDLINESS: Final = True
HYSTART: Final = True
HYSTART_ACK_TRAIN: Final = 1
HYSTART_DELAY: Final = 2
HYSTART_DETECT: Final = HYSTART_ACK_TRAIN | HYSTART_DELAY
HYSTART_LOW_WINDOW: Final = 16
HYSTART_ACK_DELTA_US: Final = 2000
HYSTART_MIN_SAMPLES: Final = 8
HYSTART_DELAY_MIN: Final = 4000  # us
HYSTART_DELAY_MAX: Final = 16000
GSO_LEGACY_MAX_SIZE: Final = 65536  # hystart_ack_delay's TSO/GRO cushion is sized on it

# cubictcp_register's precomputed factors (for an assumed RTT of 100 ms)
BETA_FRIENDLY: Final = 8 * (BETA_SCALE + BETA) // 3 // (BETA_SCALE - BETA)  # beta_scale: 15
CUBE_RTT_SCALE: Final = BIC_SCALE * 10  # 1024 * c / rtt
CUBE_FACTOR: Final = (1 << (10 + 3 * BICTCP_HZ)) // (BIC_SCALE * 10)

# cubic_root's seed: the most significant bits of cbrt(x << 18) for x in 0..63, as the kernel
# tabulates them (hand-refined there, so copied as data rather than recomputed)
_CBRT_SEED: Final = (
    0, 54, 54, 54, 118, 118, 118, 118, 123, 129, 134, 138, 143, 147, 151, 156,
    157, 161, 164, 168, 170, 173, 176, 179, 181, 185, 187, 190, 192, 194, 197, 199,
    200, 202, 204, 206, 209, 211, 213, 215, 217, 219, 221, 222, 224, 225, 227, 229,
    231, 232, 234, 236, 237, 239, 240, 242, 244, 245, 246, 248, 250, 251, 252, 254,
)


def cubic_root(a: int) -> int:
    """cubic_root: the table's estimate for the top bits, then one Newton-Raphson step, in
    the kernel's 32/64-bit integer arithmetic (about 0.2% off the true cube root)."""
    b = a.bit_length()
    if b < 7:
        return (_CBRT_SEED[a] + 35) >> 6
    b = ((b * 84) >> 8) - 1
    shift = a >> (b * 3)
    x = (((_CBRT_SEED[shift] + 10) << b) & M32) >> 6
    x = (2 * x + ((a // (x * (x - 1))) & M32)) & M32
    return ((x * 341) & M32) >> 10


class Bictcp(CaPriv):
    """struct bictcp: one connection's CUBIC and HyStart state."""

    __slots__ = ("cnt", "last_max_cwnd", "last_cwnd", "last_time", "bic_origin_point", "bic_K",
                 "delay_min", "epoch_start", "ack_cnt", "tcp_cwnd", "sample_cnt", "found",
                 "round_start", "end_seq", "last_ack", "curr_rtt")

    def __init__(self) -> None:
        self.cnt = 0  # cwnd grows by one after this many segments acked
        self.last_max_cwnd = 0  # W_max
        self.last_cwnd = 0
        self.last_time = 0  # jiffies of the last cnt computation
        self.bic_origin_point = 0
        self.bic_K = 0  # time to the origin point, 1/1024 s
        self.delay_min = 0  # us
        self.epoch_start = 0  # jiffies; 0: no epoch
        self.ack_cnt = 0
        self.tcp_cwnd = 0  # the Reno-friendly estimate
        self.sample_cnt = 0
        self.found = False
        self.round_start = 0  # us (tcp_mstamp)
        self.end_seq = 0
        self.last_ack = 0  # us
        self.curr_rtt = M32

    def reset(self) -> None:
        """bictcp_reset: everything but the HyStart round."""
        self.cnt = self.last_max_cwnd = self.last_cwnd = self.last_time = 0
        self.bic_origin_point = self.bic_K = self.delay_min = self.epoch_start = 0
        self.ack_cnt = self.tcp_cwnd = 0
        self.found = False


def _jiffies32(sk: TcpSock, now: float) -> int:
    return sk.ns.clock.jiffies(now) & M32


def _clock_us(sk: TcpSock, now: float) -> int:
    """bictcp_clock_us: tcp_mstamp, the microsecond clock, as a u32."""
    return int(sk.ns.clock.uptime(now) * 1_000_000) & M32


class Cubic(CongestionOps):
    name = "cubic"

    def _ca(self, sk: TcpSock, now: float) -> Bictcp:
        ca = sk.ca_priv
        if isinstance(ca, Bictcp):
            return ca
        self.init(sk, now)
        ca = sk.ca_priv
        assert isinstance(ca, Bictcp)
        return ca

    def init(self, sk: TcpSock, now: float) -> None:
        """cubictcp_init: a fresh state and a HyStart round starting now (with hystart on,
        initial_ssthresh is not applied)."""
        ca = Bictcp()
        sk.ca_priv = ca
        if HYSTART:
            _hystart_reset(sk, ca, now)

    def ssthresh(self, sk: TcpSock) -> int:
        """cubictcp_recalc_ssthresh: the epoch ends; W_max is cwnd, or (fast convergence) less
        when cwnd did not get back to the last W_max; ssthresh is cwnd * 717/1024."""
        ca = sk.ca_priv
        cwnd = sk.cwnd
        if isinstance(ca, Bictcp):
            ca.epoch_start = 0
            if cwnd < ca.last_max_cwnd and FAST_CONVERGENCE:
                ca.last_max_cwnd = cwnd * (BETA_SCALE + BETA) // (2 * BETA_SCALE)
            else:
                ca.last_max_cwnd = cwnd
        return max(cwnd * BETA // BETA_SCALE, 2)

    def cong_avoid(self, sk: TcpSock, acked: int, now: float) -> None:
        """cubictcp_cong_avoid: slow start below ssthresh, then one segment per ca->cnt."""
        if sk.cwnd < sk.ssthresh:
            acked = slow_start(sk, acked)
            if not acked:
                return
        ca = self._ca(sk, now)
        _update(ca, sk.cwnd, acked, _jiffies32(sk, now))
        cong_avoid_ai(sk, ca.cnt, acked)

    def set_state(self, sk: TcpSock, new_state: int, now: float) -> None:
        """cubictcp_state: entering Loss (an RTO) forgets everything, W_max included."""
        if new_state == TCP_CA_LOSS:
            ca = self._ca(sk, now)
            ca.reset()
            _hystart_reset(sk, ca, now)

    def tx_start(self, sk: TcpSock, now: float) -> None:
        """cubictcp_cwnd_event(CA_EVENT_TX_START): after an application-limited (idle) spell
        the epoch moves on by its length, so the curve does not jump ahead."""
        ca = sk.ca_priv
        if not isinstance(ca, Bictcp) or not ca.epoch_start:
            return
        j = _jiffies32(sk, now)
        delta = seq_sub(j, _jiffies32(sk, sk.lsndtime))
        if delta > 0:
            ca.epoch_start = (ca.epoch_start + delta) & M32
            if after(ca.epoch_start, j):
                ca.epoch_start = j

    def pkts_acked(self, sk: TcpSock, rtt_us: int, now: float) -> None:
        """cubictcp_acked: the minimum delay (not in the first second of an epoch: samples
        right after recovery are discarded), and HyStart while in slow start at or above
        hystart_low_window."""
        if rtt_us < 0:
            return
        ca = self._ca(sk, now)
        if ca.epoch_start and seq_sub(_jiffies32(sk, now), ca.epoch_start) < HZ:
            return
        delay = rtt_us if rtt_us else 1
        if ca.delay_min == 0 or ca.delay_min > delay:
            ca.delay_min = delay
        if not ca.found and sk.cwnd < sk.ssthresh and HYSTART:
            # a new round starts once snd_una passes the last one's snd_nxt, below
            # hystart_low_window too: 6.18 starts the rounds with the first ACK of slow start
            # (checked: with IW10 the delay exit comes on the 9th ACK of the first round
            # whose RTT grew, as rounds counted from that first ACK have it)
            if after(sk.snd_una, ca.end_seq):
                _hystart_reset(sk, ca, now)
            if sk.cwnd >= HYSTART_LOW_WINDOW:
                _hystart_update(sk, ca, delay, now)


def _update(ca: Bictcp, cwnd: int, acked: int, j: int) -> None:
    """bictcp_update: ca->cnt, the segments acked per cwnd increment, from the cubic curve at
    one delay_min from now, bounded by the Reno-friendly window and by 2 (1.5x per RTT). Not
    again within HZ/32 jiffies (7: 28 to 32 ms) while cwnd stays, nor within the same jiffy
    at all: last_time, like the epoch and t, counts jiffies. (A 2024 patch moving last_time
    to microseconds, "tcp_cubic: switch ca->last_time to usec resolution", is not in the
    6.18 kernel here: cubic-loss-concave-convex.pkt fails on it exactly when its ACKs fall
    in the first millisecond of a jiffy, as this jiffies computation predicts and a
    microsecond one does not; test_packetdrill_run.py runs that case on both targets.)"""
    ca.ack_cnt += acked
    if ca.last_cwnd == cwnd and seq_sub(j, ca.last_time) <= HZ // 32:
        return
    if not (ca.epoch_start and j == ca.last_time):
        ca.last_cwnd = cwnd
        ca.last_time = j
        if ca.epoch_start == 0:
            ca.epoch_start = j
            ca.ack_cnt = acked
            ca.tcp_cwnd = cwnd
            if ca.last_max_cwnd <= cwnd:
                ca.bic_K = 0
                ca.bic_origin_point = cwnd
            else:
                ca.bic_K = cubic_root(CUBE_FACTOR * (ca.last_max_cwnd - cwnd))
                ca.bic_origin_point = ca.last_max_cwnd
        t = seq_sub(j, ca.epoch_start) + usecs_to_jiffies(ca.delay_min)
        t = ((t & 0xFFFFFFFFFFFFFFFF) << BICTCP_HZ) // HZ
        offs = ca.bic_K - t if t < ca.bic_K else t - ca.bic_K
        delta = ((CUBE_RTT_SCALE * offs * offs * offs) & 0xFFFFFFFFFFFFFFFF) >> (10 + 3 * BICTCP_HZ)
        delta &= M32
        if t < ca.bic_K:
            target = (ca.bic_origin_point - delta) & M32
        else:
            target = (ca.bic_origin_point + delta) & M32
        ca.cnt = cwnd // (target - cwnd) if target > cwnd else 100 * cwnd
        if ca.last_max_cwnd == 0 and ca.cnt > 20:
            ca.cnt = 20  # no W_max known yet: 5% a round trip at least
    if TCP_FRIENDLINESS:
        step = (cwnd * BETA_FRIENDLY) >> 3
        if step and ca.ack_cnt > step:
            n = (ca.ack_cnt - 1) // step
            ca.ack_cnt -= n * step
            ca.tcp_cwnd += n
        if ca.tcp_cwnd > cwnd:
            max_cnt = cwnd // (ca.tcp_cwnd - cwnd)
            if ca.cnt > max_cnt:
                ca.cnt = max_cnt
    ca.cnt = max(ca.cnt, 2)


def _hystart_reset(sk: TcpSock, ca: Bictcp, now: float) -> None:
    """bictcp_hystart_reset: a new round, ending when snd_una passes today's snd_nxt."""
    ca.round_start = ca.last_ack = _clock_us(sk, now)
    ca.end_seq = sk.snd_nxt
    ca.curr_rtt = M32
    ca.sample_cnt = 0


def _ack_delay(sk: TcpSock) -> int:
    """hystart_ack_delay: a TSO/GRO cushion, four 64 KB packets at the pacing rate, at most
    1 ms (none before a rate exists)."""
    rate = pacing_rate(sk)
    if rate == UNLIMITED or rate <= 0:
        return 0
    return min(1000, GSO_LEGACY_MAX_SIZE * 4 * 1_000_000 // rate)


def _hystart_update(sk: TcpSock, ca: Bictcp, delay: int, now: float) -> None:
    """hystart_update: slow start ends (ssthresh = cwnd) when the ACKs of one round, arriving
    closely spaced (each within hystart_ack_delta_us of the last), stretch past half the
    minimum delay (no pacing: the threshold is halved), or when the round's minimum RTT over
    eight samples exceeds delay_min by delay_min/8 clamped to 4-16 ms."""
    mib = sk.ns.mib.tcp_ext
    if HYSTART_DETECT & HYSTART_ACK_TRAIN:
        now_us = _clock_us(sk, now)
        if seq_sub(now_us, ca.last_ack) <= HYSTART_ACK_DELTA_US:
            ca.last_ack = now_us
            threshold = (ca.delay_min + _ack_delay(sk)) >> 1  # SK_PACING_NONE
            if seq_sub(now_us, ca.round_start) > threshold:
                ca.found = True
                mib.TCPHystartTrainDetect += 1
                mib.TCPHystartTrainCwnd += sk.cwnd
                sk.ssthresh = sk.cwnd
    if HYSTART_DETECT & HYSTART_DELAY:
        if ca.curr_rtt > delay:
            ca.curr_rtt = delay
        if ca.sample_cnt < HYSTART_MIN_SAMPLES:
            ca.sample_cnt += 1
        elif ca.curr_rtt > ca.delay_min + min(max(ca.delay_min >> 3, HYSTART_DELAY_MIN),
                                              HYSTART_DELAY_MAX):
            ca.found = True
            mib.TCPHystartDelayDetect += 1
            mib.TCPHystartDelayCwnd += sk.cwnd
            sk.ssthresh = sk.cwnd


CUBIC: Final = Cubic()
