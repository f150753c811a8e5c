"""Congestion control as the kernel structures it: an ops object per algorithm
(struct tcp_congestion_ops, tcp_cong.c), the congestion-avoidance state machine's states
(enum tcp_ca_state) and the Reno building blocks every algorithm uses (tcp_slow_start,
tcp_cong_avoid_ai). Reno lives here; CUBIC (the kernel's default) in cubic.py. The registry,
ALGORITHMS, is filled by tcp/algorithms.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .sock import TcpSock

# enum tcp_ca_state (include/uapi/linux/tcp.h)
TCP_CA_OPEN: Final = 0
TCP_CA_DISORDER: Final = 1
TCP_CA_CWR: Final = 2
TCP_CA_RECOVERY: Final = 3
TCP_CA_LOSS: Final = 4
CA_STATE_NAMES: Final = ("Open", "Disorder", "CWR", "Recovery", "Loss")

CWND_CAP: Final = 10_000  # a bound on cwnd growth (the kernel's is snd_cwnd_clamp)


class CaPriv:
    """icsk_ca_priv: an algorithm's per-socket state (none for Reno)."""


NO_CA_PRIV: Final = CaPriv()


class CongestionOps:
    """struct tcp_congestion_ops: what an algorithm decides. The hooks the kernel may leave
    NULL do nothing here."""

    name = ""

    def init(self, sk: TcpSock, now: float) -> None:
        """.init, from tcp_init_congestion_control: the connection is established (or a
        TCP_CONGESTION change on one that is)."""

    def ssthresh(self, sk: TcpSock) -> int:
        """.ssthresh: the slow-start threshold after a loss."""
        raise NotImplementedError

    def cong_avoid(self, sk: TcpSock, acked: int, now: float) -> None:
        """.cong_avoid: grow cwnd for `acked` newly delivered segments (the caller checked
        tcp_is_cwnd_limited)."""
        raise NotImplementedError

    def set_state(self, sk: TcpSock, new_state: int, now: float) -> None:
        """.set_state, from tcp_set_ca_state before icsk_ca_state changes."""

    def tx_start(self, sk: TcpSock, now: float) -> None:
        """.cwnd_event(CA_EVENT_TX_START): data leaves with nothing in flight
        (tcp_event_data_sent, before lsndtime moves)."""

    def pkts_acked(self, sk: TcpSock, rtt_us: int, now: float) -> None:
        """.pkts_acked, at the end of tcp_clean_rtx_queue: `rtt_us` is the ACK's RTT sample
        of the last segment it (S)ACKed (ack_sample.rtt_us), -1 without one."""


def slow_start(sk: TcpSock, acked: int) -> int:
    """tcp_slow_start: cwnd grows by what was acked, up to ssthresh; returns what is left over
    for congestion avoidance."""
    cwnd = min(sk.cwnd + acked, sk.ssthresh)
    acked -= cwnd - sk.cwnd
    sk.cwnd = min(cwnd, CWND_CAP)
    return acked


def cong_avoid_ai(sk: TcpSock, w: int, acked: int) -> None:
    """tcp_cong_avoid_ai: one segment more per `w` segments acked; credit gathered at a larger
    w is spent first."""
    if sk.cwnd_cnt >= w:
        sk.cwnd_cnt = 0
        sk.cwnd += 1
    sk.cwnd_cnt += acked
    if sk.cwnd_cnt >= w:
        delta = sk.cwnd_cnt // w
        sk.cwnd_cnt -= delta * w
        sk.cwnd += delta
    sk.cwnd = min(sk.cwnd, CWND_CAP)


def set_ca_state(sk: TcpSock, new_state: int, now: float) -> None:
    """tcp_set_ca_state: the algorithm hears of the change first."""
    sk.ca_ops.set_state(sk, new_state, now)
    sk.ca_state = new_state


class Reno(CongestionOps):
    name = "reno"

    def ssthresh(self, sk: TcpSock) -> int:
        """tcp_reno_ssthresh: half the window, at least 2."""
        return max(sk.cwnd >> 1, 2)

    def cong_avoid(self, sk: TcpSock, acked: int, now: float) -> None:
        """tcp_reno_cong_avoid: slow start below ssthresh, then one segment per cwnd acked."""
        if sk.cwnd < sk.ssthresh:
            acked = slow_start(sk, acked)
            if not acked:
                return
        cong_avoid_ai(sk, sk.cwnd, acked)


RENO: Final = Reno()
