"""The head that request socks and timewait socks share (the kernel's struct sock_common as
those two minisocks use it): the 4-tuple packed into two ints (the kernel packs it into
skc_addrpair/skc_portpair and compares it as a whole, INET_MATCH), under which the established
table (tcp/ehash.py) holds them, and their embedded timer (rsk_timer, tw_timer). Full sockets
keep the four fields separately."""

from __future__ import annotations

from .timers import Timer


def end(addr: int, port: int) -> int:
    """One end of a 4-tuple packed into a machine word: address << 16 | port."""
    return (addr << 16) | port


class SockCommon(Timer):
    """`local` and `remote` are (address << 16 | port): each fits a machine word, so the compiled
    build stores them unboxed and reads the four fields with one shift or mask each."""

    __slots__ = ("local", "remote")

    def __init__(self, laddr: int, lport: int, raddr: int, rport: int, timer_kind: int) -> None:
        super().__init__(0.0, timer_kind, None, None)
        self.local = end(laddr, lport)
        self.remote = end(raddr, rport)

    @property
    def laddr(self) -> int:
        return self.local >> 16

    @property
    def lport(self) -> int:
        return self.local & 0xFFFF

    @property
    def raddr(self) -> int:
        return self.remote >> 16

    @property
    def rport(self) -> int:
        return self.remote & 0xFFFF
