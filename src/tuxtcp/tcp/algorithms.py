"""The congestion controls a namespace offers, by the names TCP_CONGESTION and
net.ipv4.tcp_congestion_control take (tcp_ca_find), and how a socket gets and starts one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..net.sysctl_specs import CONGESTION_CONTROLS
from .cong import RENO, CongestionOps
from .constants import TCP_INIT_CWND
from .cubic import CUBIC

if TYPE_CHECKING:
    from ..net.namespace import NetNamespace
    from .sock import TcpSock

ALGORITHMS: Final[dict[str, CongestionOps]] = {RENO.name: RENO, CUBIC.name: CUBIC}
assert tuple(ALGORITHMS) == CONGESTION_CONTROLS


def default_ops(ns: NetNamespace) -> CongestionOps:
    """tcp_assign_congestion_control: the namespace's default."""
    return ALGORITHMS[ns.sysctl.tcp_congestion_control]


def init_transfer_cwnd(sk: TcpSock, now: float) -> None:
    """tcp_init_transfer's initial window: cut to 1 (RFC 5681's loss window) once more than
    one SYN or SYN-ACK was resent (total_retrans) and the resends were not shown needless
    (undo_marker still set: undo.try_undo_spurious_syn); else tcp_init_cwnd (no route
    initcwnd here). Checked on 6.18 for both ends (tests/packetdrill/handshake-cwnd-*.pkt)."""
    sk.cwnd = 1 if sk.num_retrans_total > 1 and sk.undo_marker >= 0 else TCP_INIT_CWND
    sk.snd_cwnd_stamp = now


def init_congestion_control(sk: TcpSock, now: float) -> None:
    """tcp_init_congestion_control, from tcp_init_transfer unless a TCP_CONGESTION change
    already did it (icsk_ca_initialized)."""
    if not sk.ca_initialized:
        sk.ca_ops.init(sk, now)
        sk.ca_initialized = True
