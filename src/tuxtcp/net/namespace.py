"""One network namespace's state: sysctls, MIB counters, drop counts, socket tables, secrets,
its clock and its timers, and the tracepoint hub.

This is the engine's state container; the packet and timer entry points that act on it are in
tcp/engine.py (the `Namespace` there is this state plus those entry points). Outgoing packets are
appended to `outbox`; the driver drains it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from ..wire.ipv4 import Packet, int_to_ip, ip_to_int, is_loopback
from .clock import INITIAL_JIFFIES, Clock
from .drops import DropCounts
from .gso import gso_segment
from .mib import Mib
from .ports import PortTable
from .route import PmtuException
from .sysctl import Sysctls
from .timers import Deadlines, Timer
from .trace import Tracer

__all__ = ["INITIAL_JIFFIES", "NetNamespace"]

LOOPBACK_ADDR: Final = 0x7F000001
# the widest span of addresses owns() keeps a bitmap for (64 KiB; wider: the set decides)
_BITMAP_SPAN: Final = 1 << 16


class NetNamespace:
    def __init__(self, name: str, addresses: list[str] | tuple[str, ...] = (),
                 seed: int = 0, timer_model: str = "wheel",
                 uptime0: float | None = None) -> None:
        self.name = name
        self.rng = random.Random(f"{seed}:{name}")
        # rng.getrandbits taken once (called through it, the compiled build does not look the
        # method up by name for each draw: the IP ID of each connection, the port search's)
        self.getrandbits: Callable[[int], int] = self.rng.getrandbits
        self.sysctl = Sysctls()
        self.mib = Mib()
        self.drops = DropCounts()
        self.trace = Tracer()
        self.timers = Deadlines()
        # a replay's hand in the timers due on one tick, given in the kernel's order
        # (net/timers.firing_order): it returns them in the order a recorded kernel run fired
        # them, and may move one the kernel fired a tick later to that tick (re-armed there);
        # which CPU's timer base expires first, and when, is the machine's, not the stack's
        self.timer_order: Callable[[list[Timer]], list[Timer]] | None = None
        self.ports = PortTable(self.rng)
        # the established table (socket, request or timewait sock by 4-tuple, under a key
        # folded from both ends): read and written only through tcp/ehash.py
        self.ehash: dict[object, object] = {}  # (keys: ints, typed object to box them once)
        self.lhash: dict[int, list[object]] = {}
        self.sockets: dict[object, None] = {}  # every live TcpSock, in creation order
        self.outbox: list[Packet] = []
        # path MTUs learned from ICMP, per destination (route.py)
        self.pmtu: dict[int, PmtuException] = {}
        # the device takes TSO packets whole (NETIF_F_TSO: a TUN device with offloads);
        # otherwise they are cut into segments on the way out (software GSO)
        self.tso = False
        self.klog: list[str] = []
        self.addresses: set[int] = {ip_to_int(a) for a in addresses}
        self.primary = ip_to_int(addresses[0]) if addresses else LOOPBACK_ADDR
        # the span of our addresses and, where it is at most _BITMAP_SPAN wide, which of its
        # addresses are ours, one byte each: owns() decides without the set (whose lookup
        # boxes the address in the compiled build), on every packet sent and received
        self._lowest = 1
        self._highest = 0
        self._bitmap = b""
        self._index_addresses()
        self.net_secret = self.rng.randbytes(16)
        # the last port offset connect() drew from each source address (tcp/isn.py)
        self.port_offsets: dict[int, tuple[int, int, int, int]] = {}
        self.syncookie_secret = (self.rng.randbytes(16), self.rng.randbytes(16))
        # Clocks: CLOCK_REALTIME and uptime at the driver's time 0 (seeded, reproducible).
        realtime0_ns = 1_790_000_000_000_000_000 + self.rng.randrange(10**15)
        up0 = 300.0 + self.rng.randrange(1000) if uptime0 is None else uptime0
        self.clock = Clock(up0, realtime0_ns, timer_model)
        self.next_inode = 10000 + self.rng.randrange(10000)
        self.sock_cookie_gen = 0
        self.tw_count = 0
        # host-wide in the kernel, per namespace here (a namespace is a whole machine):
        self.tcp_orphan_count = 0  # orphaned full sockets not yet destroyed
        self.tcp_memory_allocated = 0  # pages held by TCP sockets (tcp_memory_allocated)
        self.tcp_memory_pressure = -1.0  # when pressure began (-1: none), tcp_memory_pressure
        self.tcp_tw_isn = 0  # the kernel's per-CPU tcp_tw_isn: TCP_TW_SYN hands the ISN over
        # the TCP metrics cache (tcp/metrics.py): remote address -> its entries, by local
        self.tcp_metrics: dict[int, list[Any]] = {}
        self.on_output: Callable[[], None] | None = None

    @property
    def uptime0(self) -> float:
        return self.clock.uptime0

    @property
    def timer_model(self) -> str:
        return self.clock.timer_model

    def arm(self, now: float, timeout: float, kind: int, owner: object) -> Timer:
        """mod_timer(timer, jiffies + timeout): a timer of `kind` for `owner`, firing when the
        clock's timer wheel says a timer armed now for `timeout` seconds fires."""
        fire, level, expires = self.clock.place(now, timeout)
        t = self.timers.arm(fire, kind, owner, level)
        t.expires = expires
        return t

    def schedule(self, t: Timer, now: float, timeout: float) -> None:
        """mod_timer on an embedded timer (a request's rsk_timer, a timewait's tw_timer)."""
        fire, level, expires = self.clock.place(now, timeout)
        self.timers.schedule(t, fire, level)
        t.expires = expires

    def next_deadline(self) -> float | None:
        return self.timers.next_deadline()

    def alloc_inode(self) -> int:
        self.next_inode += 1
        return self.next_inode

    # -- addresses -------------------------------------------------------------------------
    def owns(self, addr: int) -> bool:
        """Whether `addr` is one of this namespace's addresses (`addr in self.addresses`)."""
        low = self._lowest
        if addr < low or addr > self._highest:
            return False
        if addr == self.primary:
            return True
        bitmap = self._bitmap
        if len(bitmap):  # (a bytes' length is read inline when compiled; `if bitmap` calls)
            return bitmap[addr - low] != 0
        return addr in self.addresses

    def is_local(self, addr: int) -> bool:
        return self.owns(addr) or is_loopback(addr)

    def _index_addresses(self) -> None:
        """The span and bitmap owns() reads, after the addresses changed."""
        if not self.addresses:
            self._lowest, self._highest, self._bitmap = 1, 0, b""
            return
        low = self._lowest = min(self.addresses)
        high = self._highest = max(self.addresses)
        if high - low >= _BITMAP_SPAN:
            self._bitmap = b""
            return
        bits = bytearray(high - low + 1)
        for a in self.addresses:
            bits[a - low] = 1
        self._bitmap = bytes(bits)

    def source_for(self, daddr: int) -> int:
        """Route lookup stand-in: loopback for 127/8 and our own addresses, else primary."""
        if is_loopback(daddr):
            return LOOPBACK_ADDR
        if self.owns(daddr):
            return daddr
        return self.primary

    def add_address(self, addr: str) -> None:
        a = ip_to_int(addr)
        if not self.addresses:
            self.primary = a
        self.addresses.add(a)
        self._index_addresses()

    # -- output ------------------------------------------------------------------------------
    def transmit(self, pkt: Packet) -> None:
        """ip_queue_xmit / ip_local_out: the packet leaves (the driver drains the outbox). IP
        counts it once, a TSO packet too (OutTransmits is bumped in ip_finish_output2, before
        the device layer's GSO). Unless the device takes TSO packets (`tso`), they reach the
        outbox cut into their segments (validate_xmit_skb -> skb_gso_segment)."""
        self.mib.ip.OutRequests += 1
        self.mib.ip.OutTransmits += 1
        if self.tso or len(pkt.seg.payload) <= pkt.seg.gso_size or not pkt.seg.gso_size:
            self.outbox.append(pkt)
        else:
            self.outbox.extend(gso_segment(pkt))

    # -- kernel log --------------------------------------------------------------------------
    def dmesg(self) -> str:
        return "".join(line + "\n" for line in self.klog)

    def log(self, now: float, msg: str) -> None:
        self.klog.append(f"[{self.clock.uptime(now):12.6f}] {msg}")

    def __repr__(self) -> str:
        return f"Namespace({self.name}, {', '.join(int_to_ip(a) for a in sorted(self.addresses))})"
