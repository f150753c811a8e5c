"""The head that request socks and timewait socks share (the kernel's struct sock_common as
those two minisocks use it): the 4-tuple packed into one int, which is also their key in the
established table (skc_addrpair/skc_portpair, compared as a whole by INET_MATCH), and their
embedded timer (rsk_timer, tw_timer). Full sockets keep the four fields separately."""

from __future__ import annotations

from .namespace import ehash_key
from .timers import Timer


class SockCommon(Timer):
    __slots__ = ("key",)

    def __init__(self, laddr: int, lport: int, raddr: int, rport: int, timer_kind: int) -> None:
        super().__init__(0.0, timer_kind, None, None)
        self.key = ehash_key(laddr, lport, raddr, rport)

    @property
    def laddr(self) -> int:
        return (self.key >> 64) & 0xFFFFFFFF

    @property
    def lport(self) -> int:
        return (self.key >> 48) & 0xFFFF

    @property
    def raddr(self) -> int:
        return (self.key >> 16) & 0xFFFFFFFF

    @property
    def rport(self) -> int:
        return self.key & 0xFFFF
