"""Request socks: a half-open connection in the SYN queue (NEW_SYN_RECV, Linux's
struct tcp_request_sock). Small on purpose; promoted to a TcpSock only by a valid third ACK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..net.timers import Timer
from ..wire.seq import MASK

if TYPE_CHECKING:
    from .sock import TcpSock


class RequestSock:
    __slots__ = ("listener", "laddr", "lport", "raddr", "rport", "key", "rcv_isn", "snt_isn", "mss",
                 "wscale_ok", "snd_wscale", "rcv_wscale", "sack_ok", "tstamp_ok", "ecn_ok",
                 "ts_recent", "ts_off", "rcv_wnd", "num_timeout", "num_retrans", "acked",
                 "timeout", "timer", "last_oow_ack", "born", "snt_tsval_first",
                 "snt_tsval_last", "syn_at")

    def __init__(self, listener: TcpSock, laddr: int, lport: int, raddr: int, rport: int,
                 rcv_isn: int) -> None:
        self.listener = listener
        self.laddr = laddr
        self.lport = lport
        self.raddr = raddr
        self.rport = rport
        # the ehash/SYN-queue key, built once: lookups with this very object hit the dict's
        # identity fast path
        self.key: tuple[int, ...] = (laddr, lport, raddr, rport)
        self.rcv_isn = rcv_isn
        self.snt_isn = 0
        self.mss = 536
        self.wscale_ok = False
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.sack_ok = False
        self.tstamp_ok = False
        self.ecn_ok = False
        self.ts_recent = 0
        self.ts_off = 0
        self.rcv_wnd = 0
        self.num_timeout = 0
        self.num_retrans = 0
        self.acked = False
        self.timeout = 1.0
        self.timer: Timer | None = None
        self.last_oow_ack = -1e18
        self.born = 0.0
        self.snt_tsval_first = 0  # TSvals of our first and last SYN-ACK, before ts_off
        self.snt_tsval_last = 0
        self.syn_at = 0.0

    @property
    def rcv_nxt(self) -> int:
        return (self.rcv_isn + 1) & MASK

    def __repr__(self) -> str:
        return (f"RequestSock({self.laddr:08x}:{self.lport} <- {self.raddr:08x}:{self.rport} "
                f"timeouts={self.num_timeout} retrans={self.num_retrans})")
