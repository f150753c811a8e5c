"""Request socks: a half-open connection in the SYN queue (NEW_SYN_RECV, Linux's
struct tcp_request_sock). Small on purpose; promoted to a TcpSock only by a valid third ACK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..net.sock_common import SockCommon
from ..wire.seq import MASK
from .constants import TIMER_SYNACK

if TYPE_CHECKING:
    from .sock import TcpSock


class RequestSock(SockCommon):
    """The request is its own SYN-ACK timer (rsk_timer is embedded in struct request_sock):
    `pending` says whether it is armed, `when` when it fires. Its 4-tuple (local, remote) is what
    the established table holds it under (laddr, lport, raddr, rport read from it)."""

    __slots__ = ("listener", "rcv_isn", "snt_isn", "mss", "snd_wscale", "rcv_wscale",
                 "ts_recent", "ts_off", "rcv_wnd", "window_clamp", "num_timeout", "num_retrans",
                 "timeout",
                 "last_oow_ack", "born", "snt_tsval_first", "snt_tsval_last",
                 "wscale_ok", "sack_ok", "tstamp_ok", "ecn_ok", "acked", "syncookie")

    def __init__(self, listener: TcpSock, laddr: int, lport: int, raddr: int, rport: int,
                 rcv_isn: int) -> None:
        super().__init__(laddr, lport, raddr, rport, TIMER_SYNACK)
        self.listener = listener
        self.rcv_isn = rcv_isn
        self.snt_isn = 0
        self.mss = 536
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.ts_recent = 0
        self.ts_off = 0
        self.rcv_wnd = 0  # the window the SYN-ACK offers (bytes, unscaled)
        self.window_clamp = 0  # rsk_window_clamp, the child's window_clamp
        self.num_timeout = 0
        self.num_retrans = 0
        self.timeout = 1.0
        self.last_oow_ack = -1e18
        self.born = 0.0  # the SYN's arrival (snt_synack), or the cookie ACK's
        self.snt_tsval_first = 0  # TSvals of our first and last SYN-ACK, before ts_off
        self.snt_tsval_last = 0
        # the flags last, side by side (the compiled build packs adjacent bools)
        self.wscale_ok = False
        self.sack_ok = False
        self.tstamp_ok = False
        self.ecn_ok = False
        self.acked = False
        self.syncookie = False  # made from a cookie ACK (request_sock.syncookie)

    @property
    def rcv_nxt(self) -> int:
        return (self.rcv_isn + 1) & MASK

    def __repr__(self) -> str:
        return (f"RequestSock({self.laddr:08x}:{self.lport} <- {self.raddr:08x}:{self.rport} "
                f"timeouts={self.num_timeout} retrans={self.num_retrans})")
