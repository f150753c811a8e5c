"""One network namespace: sysctls, MIB counters, socket tables, secrets, clocks, timers.

This is the engine's state container. Entry points take `now` (virtual or real seconds since
the driver started) and append outgoing packets to `outbox`; the driver drains it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

from ..tcp.input import tcp_v4_rcv
from ..timers import Deadlines, Timer
from ..wire.errors import ParseError
from ..wire.ipv4 import Packet, int_to_ip, ip_to_int, is_loopback, parse_packet
from .mib import Mib
from .ports import PortTable
from .sysctl import HZ, Sysctls

# 64-bit INITIAL_JIFFIES: (unsigned long)(unsigned int)(-300*HZ)
INITIAL_JIFFIES: Final = (-300 * HZ) & 0xFFFFFFFF


class Namespace:
    def __init__(self, name: str, addresses: list[str] | tuple[str, ...] = (),
                 seed: int = 0, timer_model: str = "wheel",
                 uptime0: float | None = None) -> None:
        if timer_model not in ("wheel", "exact"):
            raise ValueError("timer_model is 'wheel' (the kernel's HZ=250 timer wheel) or "
                             "'exact' (deadlines to the nanosecond)")
        self.name = name
        self.timer_model = timer_model
        self.rng = random.Random(f"{seed}:{name}")
        self.sysctl = Sysctls()
        self.mib = Mib()
        self.timers = Deadlines()
        self.ports = PortTable(self.rng)
        # established hash: (laddr, lport, raddr, rport) -> socket, request or timewait sock.
        # Keys are typed tuple[int, ...] so the compiled build keeps each sock's key as one
        # object (fixed-length tuples would be unboxed and rebuilt on every read); lookups
        # with a sock's own key object then take the dict's identity fast path.
        self.ehash: dict[tuple[int, ...], object] = {}
        self.lhash: dict[int, list[object]] = {}
        self.sockets: dict[object, None] = {}  # every live TcpSock, in creation order
        self.outbox: list[Packet] = []
        self.klog: list[str] = []
        self.addresses: set[int] = {ip_to_int(a) for a in addresses}
        self.primary = ip_to_int(addresses[0]) if addresses else ip_to_int("127.0.0.1")
        self.net_secret = self.rng.randbytes(16)
        self.syncookie_secret = (self.rng.randbytes(16), self.rng.randbytes(16))
        # Clocks: CLOCK_REALTIME and uptime at the driver's time 0 (seeded, reproducible).
        self.realtime0_ns = 1_790_000_000_000_000_000 + self.rng.randrange(10**15)
        self.uptime0 = 300.0 + self.rng.randrange(1000) if uptime0 is None else uptime0
        self.next_inode = 10000 + self.rng.randrange(10000)
        self.tw_count = 0
        self.tcp_metrics: dict[int, float] = {}  # destination -> RTT (tcp_peer_is_proven)
        self.on_output: Callable[[], None] | None = None

    # -- clocks ----------------------------------------------------------------------------
    def jiffies(self, now: float) -> int:
        return INITIAL_JIFFIES + int((self.uptime0 + now) * HZ)

    def tcp_clock_ms(self, now: float) -> int:
        """tcp_clock_ms(): CLOCK_MONOTONIC in ms (TSval before the per-flow offset)."""
        return int((self.uptime0 + now) * 1000)

    def realtime_ns(self, now: float) -> int:
        return self.realtime0_ns + int(now * 1e9)

    def cookie_time(self, now: float) -> int:
        """tcp_cookie_time(): jiffies64 / (60*HZ), a minute counter."""
        return (self.jiffies(now) // (60 * HZ)) & 0xFFFFFFFF

    def fire_time(self, now: float, timeout: float) -> float:
        """When a timer armed at `now` for `timeout` seconds fires.

        'exact': now + timeout. 'wheel' (default): the kernel's timer wheel at HZ=250
        (kernel/time/timer.c:calc_wheel_index/calc_index): the expiry in jiffies is rounded up
        to the granularity of its wheel level (1, 8, 64, 512 ... jiffies) plus one bucket, so a
        1 s SYN timer fires 1.000-1.032 s later and timers armed close together fire together.
        """
        if self.timer_model == "exact":
            return now + timeout
        clk = self.jiffies(now)
        delta = max(1, -int(-timeout * HZ // 1))  # msecs_to_jiffies rounds up
        expires = clk + delta
        lvl = 0
        while lvl < 8 and delta >= (63 << (3 * lvl)):
            lvl += 1
        shift = 3 * lvl
        bucket = ((expires >> shift) + 1) << shift
        return (bucket - INITIAL_JIFFIES) / HZ - self.uptime0

    def arm(self, now: float, timeout: float, fn: Callable[[Any, float], None],
            arg: Any) -> Timer:
        """mod_timer(timer, jiffies + timeout)."""
        return self.timers.arm(self.fire_time(now, timeout), fn, arg)

    def alloc_inode(self) -> int:
        self.next_inode += 1
        return self.next_inode

    # -- addresses -------------------------------------------------------------------------
    def is_local(self, addr: int) -> bool:
        return addr in self.addresses or is_loopback(addr)

    def source_for(self, daddr: int) -> int:
        """Route lookup stand-in: loopback for 127/8 and our own addresses, else primary."""
        if is_loopback(daddr):
            return ip_to_int("127.0.0.1")
        if daddr in self.addresses:
            return daddr
        return self.primary

    def add_address(self, addr: str) -> None:
        a = ip_to_int(addr)
        if not self.addresses:
            self.primary = a
        self.addresses.add(a)

    # -- packet I/O entry points ----------------------------------------------------------
    def transmit(self, pkt: Packet) -> None:
        self.outbox.append(pkt)
        self.mib.ip["OutRequests"] += 1
        self.mib.ip["OutTransmits"] += 1

    def deliver(self, pkt: Packet, now: float) -> None:
        """A parsed IPv4 datagram arrives (ip_rcv -> ip_local_deliver -> tcp_v4_rcv)."""
        ip = self.mib.ip
        ip["InReceives"] += 1
        if not self.is_local(pkt.dst):
            ip["InAddrErrors"] += 1  # not forwarding: ip_error
            return
        ip["InDelivers"] += 1
        self.mib.tcp["InSegs"] += 1
        tcp_v4_rcv(self, pkt, now)

    def receive_bytes(self, data: bytes, now: float) -> None:
        """Raw IPv4 bytes from a real wire: the checked parse, then deliver()."""
        try:
            pkt = parse_packet(data)
        except ParseError as exc:
            self.count_parse_error(exc)
            return
        self.deliver(pkt, now)

    def count_parse_error(self, exc: ParseError) -> None:
        g = self.mib.groups
        g["Ip"]["InReceives"] += 1
        if exc.stage == "tcp":
            g["Ip"]["InDelivers"] += 1
            g["Tcp"]["InSegs"] += 1
        for group, name in exc.mib:
            g[group][name] += 1

    def run_timers(self, now: float) -> int:
        return self.timers.run(now)

    def next_deadline(self) -> float | None:
        return self.timers.next_deadline()

    def dmesg(self) -> str:
        return "".join(line + "\n" for line in self.klog)

    def log(self, now: float, msg: str) -> None:
        self.klog.append(f"[{self.uptime0 + now:12.6f}] {msg}")

    def __repr__(self) -> str:
        return f"Namespace({self.name}, {', '.join(int_to_ip(a) for a in sorted(self.addresses))})"
