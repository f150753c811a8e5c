"""Congestion control as the kernel structures it: an ops object per algorithm
(struct tcp_congestion_ops, tcp_cong.c) and the congestion-avoidance state machine's states
(enum tcp_ca_state). Reno is the one algorithm so far (tcp_reno_*); TCP_CONGESTION reports it.
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


class CongestionOps:
    """struct tcp_congestion_ops: what an algorithm decides."""

    name = ""

    def ssthresh(self, sk: TcpSock) -> int:
        """.ssthresh: the slow-start threshold after a loss."""
        raise NotImplementedError

    def cong_avoid(self, sk: TcpSock, acked: int) -> None:
        """.cong_avoid: grow cwnd for `acked` newly acknowledged segments."""
        raise NotImplementedError


class Reno(CongestionOps):
    name = "reno"

    def ssthresh(self, sk: TcpSock) -> int:
        """tcp_reno_ssthresh: half the window, at least 2."""
        return max(sk.cwnd >> 1, 2)

    def cong_avoid(self, sk: TcpSock, acked: int) -> None:
        """tcp_reno_cong_avoid: slow start below ssthresh (tcp_slow_start), then one segment
        per cwnd ACKed (tcp_cong_avoid_ai)."""
        if sk.cwnd < sk.ssthresh:
            grow = min(acked, sk.ssthresh - sk.cwnd)
            sk.cwnd += grow
            acked -= grow
            if not acked:
                return
        sk.cwnd_cnt += acked
        if sk.cwnd_cnt >= sk.cwnd:
            sk.cwnd += sk.cwnd_cnt // sk.cwnd
            sk.cwnd_cnt %= sk.cwnd if sk.cwnd else 1
        sk.cwnd = min(sk.cwnd, CWND_CAP)


RENO: Final = Reno()
CONGESTION_CONTROL: Final = RENO.name
ALGORITHMS: Final[dict[str, CongestionOps]] = {RENO.name: RENO}
