"""The congestion controls a namespace offers, by the names TCP_CONGESTION and
net.ipv4.tcp_congestion_control take (tcp_ca_find), and how a socket gets and starts one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..net.sysctl_specs import CONGESTION_CONTROLS
from .cong import RENO, CongestionOps
from .cubic import CUBIC

if TYPE_CHECKING:
    from ..net.namespace import NetNamespace
    from .sock import TcpSock

ALGORITHMS: Final[dict[str, CongestionOps]] = {RENO.name: RENO, CUBIC.name: CUBIC}
assert tuple(ALGORITHMS) == CONGESTION_CONTROLS


def default_ops(ns: NetNamespace) -> CongestionOps:
    """tcp_assign_congestion_control: the namespace's default."""
    return ALGORITHMS[ns.sysctl.tcp_congestion_control]


def init_congestion_control(sk: TcpSock, now: float) -> None:
    """tcp_init_congestion_control, from tcp_init_transfer unless a TCP_CONGESTION change
    already did it (icsk_ca_initialized)."""
    if not sk.ca_initialized:
        sk.ca_ops.init(sk, now)
        sk.ca_initialized = True
