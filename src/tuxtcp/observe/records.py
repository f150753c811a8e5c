"""One socket as inet_diag reports it (struct inet_diag_msg and the attributes `ss` asks for),
whichever stack it comes from: a tuxtcp namespace (observe/nsview.py) or the live kernel
through netlink sock_diag (host/sockdiag.py). The renderers (observe/ss.py) and filters
(observe/ssfilter.py) read only these records, so tuxtcp's views and the kernel's are the same
code.

The numbers are inet_diag's, which differ from /proc/net/tcp's in places: a listener's
rqueue is its accept queue and its wqueue the effective backlog (sk_max_ack_backlog); a
request sock (SYN_RECV) has queue lengths, uid and inode 0 and timer 1 with its SYN-ACK
retransmissions; a TIME_WAIT sock has timer 3 (inet_diag_msg_common_fill and
inet_sk_diag_fill, inet_req_diag_fill, inet_twsk_diag_fill).
"""

from __future__ import annotations

import socket

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Final

AF_INET: Final = 2
# idiag_timer
TIMER_OFF: Final = 0
TIMER_ON: Final = 1  # retransmission (also RACK reordering and TLP): icsk_retransmits
TIMER_KEEPALIVE: Final = 2
TIMER_TIMEWAIT: Final = 3
TIMER_PERSIST: Final = 4  # zero-window probe: icsk_probes_out
TIMER_NAMES: Final = ("off", "on", "keepalive", "timewait", "persist", "unknown")
HZ: Final = 250


class SockRecord:
    """struct inet_diag_msg (family, state, timer, retrans, the socket id, expires in ms,
    rqueue, wqueue, uid, inode), the socket cookie, and what the extensions carry: shutdown
    bits (INET_DIAG_SHUTDOWN), SK_MEMINFO (INET_DIAG_SKMEMINFO), tcp_info (INET_DIAG_INFO)
    the cgroup (INET_DIAG_CGROUP_ID, as a path) and the congestion control's name and
    details (INET_DIAG_CONG, INET_DIAG_VEGASINFO/DCTCPINFO/BBRINFO) where there is a full
    socket."""

    __slots__ = ("family", "state", "timer", "retrans", "saddr", "sport", "daddr", "dport",
                 "expires", "rqueue", "wqueue", "uid", "inode", "cookie", "shutdown",
                 "skmem", "info", "cgroup", "cong", "ca")

    def __init__(self, state: int, saddr: int, sport: int, daddr: int, dport: int,
                 timer: int = 0, retrans: int = 0, expires: int = 0, rqueue: int = 0,
                 wqueue: int = 0, uid: int = 0, inode: int = 0, cookie: int = 0,
                 shutdown: int | None = None, skmem: tuple[int, ...] | None = None,
                 info: dict[str, int] | None = None) -> None:
        self.family = AF_INET
        self.state = state
        self.timer = timer
        self.retrans = retrans
        self.saddr = saddr  # host-order u32, as tuxtcp keeps addresses
        self.sport = sport
        self.daddr = daddr
        self.dport = dport
        self.expires = expires  # ms
        self.rqueue = rqueue
        self.wqueue = wqueue
        self.uid = uid
        self.inode = inode
        self.cookie = cookie
        self.shutdown = shutdown
        self.skmem = skmem
        self.info = info
        self.cgroup: str | None = None  # the cgroup's path (INET_DIAG_CGROUP_ID), host only
        self.cong: str | None = None  # the congestion control's name (INET_DIAG_CONG)
        # what the congestion control adds (INET_DIAG_VEGASINFO, _DCTCPINFO, _BBRINFO):
        # ("vegas" | "dctcp" | "bbr", the struct's fields in order)
        self.ca: tuple[str, tuple[int, ...]] | None = None

    def __repr__(self) -> str:
        return (f"SockRecord(state={self.state}, {self.saddr:#x}:{self.sport} -> "
                f"{self.daddr:#x}:{self.dport}, rq={self.rqueue}, wq={self.wqueue}, "
                f"timer={self.timer})")

    def as_dict(self) -> dict[str, object]:
        return {"family": self.family, "state": self.state, "timer": self.timer,
                "retrans": self.retrans, "saddr": self.saddr, "sport": self.sport,
                "daddr": self.daddr, "dport": self.dport, "expires": self.expires,
                "rqueue": self.rqueue, "wqueue": self.wqueue, "uid": self.uid,
                "inode": self.inode, "cookie": self.cookie, "shutdown": self.shutdown,
                "skmem": list(self.skmem) if self.skmem is not None else None,
                "info": self.info, "cgroup": self.cgroup, "cong": self.cong,
                "ca": [self.ca[0], list(self.ca[1])] if self.ca is not None else None}


def ip_text(addr: int) -> str:
    """A host-order IPv4 address as dotted quads."""
    return socket.inet_ntoa(addr.to_bytes(4, "big"))


def expires_ms(deadline: float, now: float) -> int:
    """jiffies_delta_to_msecs(timeout - jiffies): whole jiffies, never negative."""
    return max(0, int((deadline - now) * HZ)) * (1000 // HZ)
