"""struct tcp_timewait_sock: what is left of a closed connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..net.sock_common import SockCommon
from ..net.tcp_states import TIME_WAIT, TcpState
from .constants import TIMER_TIME_WAIT

if TYPE_CHECKING:
    from ..net.namespace import NetNamespace
    from .sock import TcpSock


class TimeWaitSock(SockCommon):
    """struct tcp_timewait_sock: what is left of a closed connection (substate FIN_WAIT2 or
    TIME_WAIT). Stays in the established table and on the port's bind bucket. It is its own
    timer (tw_timer is embedded): `pending` says whether it is armed, `when` when it fires. Its
    4-tuple (local, remote) is what the established table holds it under."""

    __slots__ = ("ns", "substate", "rcv_nxt", "snd_nxt",
                 "rcv_wnd", "rcv_wscale", "ts_recent", "ts_recent_stamp", "ts_off", "tstamp_ok",
                 "reuse", "reuseport", "uid", "bucket", "last_oow_ack", "entry_stamp",
                 "bind_port_lock", "state")

    def __init__(self, sk: TcpSock, substate: int) -> None:
        super().__init__(sk.laddr, sk.lport, sk.raddr, sk.rport, TIMER_TIME_WAIT)
        self.ns: NetNamespace = sk.ns
        self.state = TIME_WAIT
        self.substate = substate
        self.rcv_nxt = sk.rcv_nxt
        self.snd_nxt = sk.snd_nxt
        # tcp_time_wait: tw_rcv_wnd = tcp_receive_window, what is left of the last window
        left = (sk.rcv_adv - sk.rcv_nxt) & 0xFFFFFFFF
        self.rcv_wnd = 0 if left & 0x80000000 else left
        self.rcv_wscale = sk.rx_opt.rcv_wscale
        self.ts_recent = sk.rx_opt.ts_recent
        self.ts_recent_stamp = sk.rx_opt.ts_recent_stamp if sk.rx_opt.tstamp_ok else 0.0
        self.ts_off = sk.ts_off
        self.tstamp_ok = sk.rx_opt.tstamp_ok
        self.reuse = sk.reuse
        self.reuseport = sk.reuseport
        self.uid = sk.uid
        self.bucket = sk.bucket
        self.bind_port_lock = sk.bind_port_lock
        self.last_oow_ack = -1e18
        self.entry_stamp = 0.0

    def __repr__(self) -> str:
        return (f"TimeWaitSock({TcpState(self.substate).name} {self.laddr:08x}:{self.lport} -> "
                f"{self.raddr:08x}:{self.rport})")
