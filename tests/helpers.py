"""Packet-level test harness: one namespace driven by hand (the sans-IO engine directly).

`h.send(seg)` delivers a segment from the peer at the current virtual time; `h.take()` returns
what the namespace sent since the last call; `h.advance(t)` moves the clock, firing timers.
What a test reads back goes through the views a Host has too: `h.sysctl`, `h.counter(name)`,
`h.proc(path)`, `h.ss(args)`, `h.dmesg()`, and `Socket.tcp_info()`. tests/states.py builds
every TCP state on top of this.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from tuxtcp.net.sysctl import Sysctls
from tuxtcp.observe.nsview import render_ss
from tuxtcp.observe.proc import render_proc
from tuxtcp.socket.api import Socket
from tuxtcp.tcp.engine import Namespace
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.tcp import ACK, RST, SYN, TcpSegment

SRV = "198.18.0.1"
PEER = "198.18.0.2"


class ManualDriver:
    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.clock = 0.0
        self.fd = 3
        self.sent: list[tuple[float, Packet]] = []

    def now(self) -> float:
        return self.clock

    def kick(self, ns: Namespace) -> None:
        for p in ns.outbox:
            self.sent.append((self.clock, p))
        ns.outbox.clear()

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        end = None if timeout is None else self.clock + timeout
        for _ in range(100000):
            if ready():
                return True
            nd = self.ns.next_deadline()
            if nd is None or (end is not None and nd > end):
                break
            self.clock = max(self.clock, nd)
            self.ns.run_timers(self.clock)
            self.kick(self.ns)
        if end is not None:
            self.clock = max(self.clock, end)
        return ready()

    def resolve(self, name: str) -> int | None:
        return None

    def alloc_fd(self) -> int:
        self.fd += 1
        return self.fd


class Harness:
    def __init__(self, addr: str = SRV, peer: str = PEER, seed: int = 7,
                 timer_model: str = "exact") -> None:
        # "exact" so schedules read as the spec states them (1, 3, 7 s); the kernel's timer
        # wheel has its own tests (test_timer_wheel.py)
        self.ns = Namespace("dut", [addr], seed=seed, timer_model=timer_model)
        self.driver = ManualDriver(self.ns)
        self.addr = ip_to_int(addr)
        self.peer = ip_to_int(peer)
        self._taken = 0

    @property
    def now(self) -> float:
        return self.driver.clock

    def socket(self, type: int = socket.SOCK_STREAM, uid: int = 0) -> Socket:
        return Socket(self.ns, self.driver, socket.AF_INET, type, 0, uid)

    def listener(self, port: int = 8080, backlog: int = 5) -> Socket:
        s = self.socket()
        s.bind(("0.0.0.0", port))
        s.listen(backlog)
        return s

    def send(self, seg: TcpSegment, src: int | None = None, tos: int = 0) -> list[Packet]:
        self.ns.deliver(Packet(src or self.peer, self.addr, seg, tos=tos), self.now)
        self.driver.kick(self.ns)
        return self.take()

    def advance(self, to: float) -> list[tuple[float, Packet]]:
        """Run timers up to absolute time `to`; returns (time, packet) sent meanwhile."""
        start = len(self.driver.sent)
        while True:
            nd = self.ns.next_deadline()
            if nd is None or nd > to:
                break
            self.driver.clock = max(self.driver.clock, nd)
            self.ns.run_timers(self.driver.clock)
            self.driver.kick(self.ns)
        self.driver.clock = max(self.driver.clock, to)
        out = self.driver.sent[start:]
        self._taken = len(self.driver.sent)
        return out

    def take(self) -> list[Packet]:
        out = [p for _, p in self.driver.sent[self._taken:]]
        self._taken = len(self.driver.sent)
        return out

    def counters(self) -> dict[str, int]:
        return self.ns.mib.snapshot()

    # -- the views a Host has (tuxtcp.sim.world.Host), at the harness's clock ----------------
    @property
    def sysctl(self) -> Sysctls:
        return self.ns.sysctl

    def counter(self, name: str) -> int:
        """One MIB counter, by its /proc name ("ListenDrops" or "TcpExt.ListenDrops")."""
        return self.ns.mib[name]

    def delta(self, before: dict[str, int]) -> dict[str, int]:
        """Counters changed since `before` (a `counters()` snapshot)."""
        return self.ns.mib.delta(before)

    def proc(self, path: str) -> str:
        return render_proc(self.ns, path, self.now)

    def ss(self, args: str = "-tan") -> str:
        return render_ss(self.ns, args, self.now)

    def dmesg(self) -> str:
        return self.ns.dmesg()


def syn(sport: int, seq: int = 1000, dport: int = 8080, ts: int | None = 100, mss: int = 1460,
        wscale: int | None = 7, sack: bool = True) -> TcpSegment:
    return TcpSegment(sport, dport, seq, 0, SYN, 64240, mss=mss, wscale=wscale, sack_perm=sack,
                      tsval=ts, tsecr=0)


def third_ack(synack: TcpSegment, seq: int = 1001, ts: int | None = 101) -> TcpSegment:
    """The peer's ACK of a SYN-ACK (the SYN of helpers.syn, seq 1000)."""
    return TcpSegment(synack.dport, synack.sport, seq, (synack.seq + 1) & 0xFFFFFFFF, ACK, 502,
                      tsval=ts, tsecr=synack.tsval or 0)


def is_rst(p: Packet) -> bool:
    return bool(p.seg.flags & RST)


def is_synack(p: Packet) -> bool:
    return p.seg.flags & (SYN | ACK) == (SYN | ACK)
