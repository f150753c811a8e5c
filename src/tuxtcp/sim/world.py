"""World: hosts (one namespace each) joined by links, driven by one virtual clock.

Everything happens in one event heap: packet arrivals, namespace timers and traffic generators.
Blocking socket calls run the heap until they can complete, so straight-line scripts work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TextIO

from ..link.memory import Link, LinkParams
from ..net.trace import TraceEvent, TraceWriter
from ..observe.doctor import DoctorReport, diagnose
from ..observe.nstat import parse_args as nstat_args
from ..observe.nstat import report
from ..observe.nsview import (
    listener_ptrs,
    ns_counters,
    ns_records,
    render_netstat,
    render_ss,
)
from ..observe.proc import render_proc
from ..observe.trace_tally import TraceTally
from ..socket.api import AF_INET, SOCK_STREAM, Socket
from ..socket.driver import Driver
from ..socket.selector import SimSelector
from ..tcp.engine import Namespace
from ..wire.ipv4 import Packet, int_to_ip
from ..wire.pcap import PcapTap
from .events import Action, EventQueue
from .traffic import SynFlood

# event kinds (sim/events.py: when, seq, kind, host, obj): DELIVER obj=packet to host, TIMER
# host's timers are due, CALL obj=fn(now)
_DELIVER: Final = 0
_TIMER: Final = 1
_CALL: Final = 2
# a packet due within this of a host's timer instant arrives after the timer (float sums of
# a tick's instant and a delay of whole jiffies land a few ulps to either side of the tick)
TICK_TIE: Final = 1e-9


class Host:
    """A simulated machine: one network namespace plus the socket API bound to the world."""

    def __init__(self, world: World, name: str, addresses: Iterable[str]) -> None:
        self.world = world
        self.name = name
        self.ns = Namespace(name, list(addresses), seed=world.seed,
                            timer_model=world.timer_model, uptime0=world.uptime0)
        self.sysctl = self.ns.sysctl
        self.counters = self.ns.mib
        self.drops = self.ns.drops  # skb_drop_reason name -> count (a mapping, like counters)
        self._wake_at: float | None = None
        self._links_to: dict[Host, Link] = {}  # the link towards each neighbour
        self._nstat_history: dict[str, int] = {}  # nstat's history file, for this host

    @property
    def address(self) -> str:
        return int_to_ip(self.ns.primary)

    def socket(self, family: int = AF_INET, type: int = SOCK_STREAM, proto: int = 0,
               uid: int = 0) -> Socket:
        return Socket(self.ns, self.world, family, type, proto, uid)

    def proc(self, path: str, max_entries: int | None = None) -> str:
        """The text of /proc/<path>; for net/tcp, `max_entries` keeps the first entries only."""
        return render_proc(self.ns, path, self.world.clock, max_entries)

    def ss(self, args: str = "-tan") -> str:
        return render_ss(self.ns, args, self.world.clock)

    def netstat(self, args: str = "-s") -> str:
        """`netstat -s` on this host (with -t, -u or -w), in net-tools' words."""
        return render_netstat(self.ns, args)

    def nstat(self, args: str = "") -> str:
        """`nstat ARGS` on this host: counters changed since the last call (the host keeps
        nstat's history), -a -z -s -n -r -j and name patterns as nstat takes them."""
        text, self._nstat_history = report(ns_counters(self.ns), nstat_args(args.split()),
                                           self._nstat_history)
        return text

    def dmesg(self) -> str:
        return self.ns.dmesg()

    def trace(self, fn: Callable[[TraceEvent], None],
              events: Iterable[str] | None = None) -> Callable[[], None]:
        """Subscribe to this host's tracepoints (all, or those named: "tcp_send_reset",
        "skb:kfree_skb", ...). Returns the unsubscribe function; free when nobody listens."""
        return self.ns.trace.subscribe(fn, events)

    def doctor(self, seconds: float = 1.0, samples: int = 20) -> DoctorReport:
        """Run the world for `seconds`, sampling this host's listeners `samples` times, and
        diagnose its listen queues (what `tuxtcp doctor` does on the kernel)."""
        before = self.ns.mib.snapshot()
        seen = []
        step = seconds / samples
        for _ in range(samples):
            self.world.run(step)
            seen.append(ns_records(self.ns, self.world.clock))
        sysctl = self.ns.sysctl
        return diagnose(seen, before, self.ns.mib.snapshot(), seconds,
                        sysctl.get_int("net.core.somaxconn"),
                        sysctl.get_int("net.ipv4.tcp_syncookies"))

    def drop_tally(self) -> TraceTally:
        """Drops by reason and by listener, SYN-ACK retransmissions, resets and requests per
        listener from now on (what `tuxtcp trace` counts on the kernel), from this host's own
        tracepoints."""
        tally = TraceTally(lambda: listener_ptrs(self.ns))
        self.trace(tally, ("skb:kfree_skb", "tcp:tcp_retransmit_synack",
                               "tcp:tcp_send_reset", "sock:inet_sock_set_state"))
        return tally

    def __repr__(self) -> str:
        return f"<Host {self.name} {sorted(int_to_ip(a) for a in self.ns.addresses)}>"


class World(Driver):
    """Hosts, links and a virtual clock. Deterministic for a given seed."""

    def __init__(self, seed: int = 1, timer_model: str = "wheel",
                 uptime0: float | None = None) -> None:
        """timer_model: "wheel" (default) fires timers on the kernel's HZ=250 timer-wheel
        buckets, as Linux does; "exact" fires them at their nominal deadlines."""
        self.seed = seed
        self.timer_model = timer_model
        self.uptime0 = uptime0  # every host's uptime at time 0 (the jiffies phase); None: seeded
        self.clock = 0.0
        self.hosts: dict[str, Host] = {}
        self._events = EventQueue()
        self._spare_outbox: list[Packet] = []
        self._next_fd = 3
        self.taps: list[PcapTap] = []
        self.packets_delivered = 0
        self.trace: list[tuple[float, str, Packet]] | None = None
        self._trace_out: tuple[TextIO, Iterable[str] | None] | None = None
        self._droppers: list[Callable[[Packet], bool]] = []

    # -- building --------------------------------------------------------------------------
    def host(self, name: str, *addresses: str) -> Host:
        if name in self.hosts:
            raise ValueError(f"host {name!r} exists")
        h = Host(self, name, addresses)
        self.hosts[name] = h
        if self._trace_out is not None:
            h.trace(TraceWriter(self._trace_out[0], task=name), self._trace_out[1])
        return h

    def link(self, a: Host, b: Host, delay: float = 0.0005, loss: float = 0.0,
             reorder: float = 0.0, duplicate: float = 0.0, jitter: float = 0.0,
             rate: float = 0.0, queue: int = 1000, per_flow: bool = False,
             lags: dict[tuple[int, int, int, int, int], tuple[float, float]] | None = None
             ) -> Link:
        """Join two hosts. delay: one way (s); loss/reorder/duplicate: probabilities; rate:
        bits/s each way (0 = unlimited); queue: packets queued before tail drop; per_flow:
        loss decided per flow and packet index (link/flowloss.py), not from one stream;
        lags (per_flow): a recorded link's lag, and when its packet was sent, by flow and packet
        index (Link.lags)."""
        params = LinkParams(delay=delay, loss=loss, reorder=reorder, duplicate=duplicate,
                            jitter=jitter, rate=rate, queue=queue, per_flow=per_flow)
        link = Link(a.name, b.name, params, seed=self.seed, lags=lags)
        a._links_to[b] = link
        b._links_to[a] = link
        return link

    def drop_if(self, lose: Callable[[Packet], bool]) -> None:
        """Lose on the links every packet for which `lose(packet)` is true (after any pcap
        tap saw it leave): a chosen loss, where a link's `loss` is a random one. The predicate
        keeps its own state, e.g. to lose only a segment's first transmission."""
        self._droppers.append(lose)

    def trace_to(self, out: TextIO, events: Iterable[str] | None = None) -> None:
        """Write every host's tracepoints to `out`, one line each in the kernel's trace_pipe
        form (the task column is the host's name; timestamps are the host's virtual uptime)."""
        for h in self.hosts.values():
            h.trace(TraceWriter(out, task=h.name), events)
        self._trace_out = (out, events)

    def selector(self) -> Any:
        """A selectors.BaseSelector for this world's sockets (select() advances time)."""
        return SimSelector(self)

    def pcap(self, path: str) -> PcapTap:
        """Record every packet any host sends, at its send time."""
        tap = PcapTap(path)
        self.taps.append(tap)
        return tap

    # -- Driver, for sockets ------------------------------------------------------------------
    def now(self) -> float:
        return self.clock

    def alloc_fd(self) -> int:
        self._next_fd += 1
        return self._next_fd

    def resolve(self, name: str) -> int | None:
        h = self.hosts.get(name)
        return h.ns.primary if h is not None else None

    def kick(self, ns: Namespace) -> None:
        """After an engine call on `ns`: send what it queued and note its next timer."""
        h = self.hosts.get(ns.name)
        if h is None:
            return
        self._flush(h)

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        deadline = None if timeout is None else self.clock + timeout
        return self.run_until(ready, deadline)

    # -- event loop ----------------------------------------------------------------------------
    def _push(self, when: float, kind: int, host: Host | None, obj: Any) -> None:
        self._events.push(when, kind, host, obj)

    def call_at(self, when: float, fn: Callable[[float], None] | Action) -> None:
        """Run fn(now) (an Action: fn.run(now)) at virtual time `when` (traffic generators,
        scripted actions)."""
        self._push(when, _CALL, None, fn)

    def inject(self, pkt: Packet, when: float | None = None) -> None:
        """Put a packet on the wire towards its destination (spoofed sources welcome)."""
        self._route(None, pkt, self.clock if when is None else when)

    def deliver_at(self, pkt: Packet, when: float) -> None:
        """Hand `pkt` to the host that owns its destination (if any) at `when`, as a packet
        that reached it then, past every link and tap (a replay holding one back)."""
        for to in self.hosts.values():
            if to.ns.owns(pkt.dst):
                self._push(when, _DELIVER, to, pkt)
                return

    def _flush(self, h: Host, timers_ran: bool = False) -> None:
        """Route what h queued; make sure a TIMER event is due no later than h's next timer.
        (After a cancel the event may come early and find nothing to do: harmless.)"""
        ns = h.ns
        if ns.outbox:
            out = ns.outbox
            ns.outbox = self._spare_outbox  # (routing sends nothing: it only queues events)
            now = self.clock
            for pkt in out:
                self._route(h, pkt, now)
            out.clear()
            self._spare_outbox = out  # the next flush's fresh outbox, without a new list
        timers = ns.timers
        if timers.armed or timers_ran:
            timers.armed = False
            nd = timers.next_deadline()
            if nd is not None and (h._wake_at is None or nd < h._wake_at):
                h._wake_at = nd
                self._push(nd, _TIMER, h, None)

    def _route(self, src: Host | None, pkt: Packet, now: float) -> None:
        for tap in self.taps:
            tap.write(now, pkt)
        if self.trace is not None:
            self.trace.append((now, src.name if src else "-", pkt))
        if src is None:  # injected: to the host that owns the address, if any
            self.deliver_at(pkt, now)
            return
        daddr = pkt.dst
        if daddr >> 24 == 127 or src.ns.owns(daddr):
            self._push(now, _DELIVER, src, pkt)  # loopback: the sender's own address
            return
        # the neighbour that owns the address (asked of each namespace: a lookup by address
        # would box it); none: nobody owns it (a silent peer) or no link goes there
        dst: Host | None = None
        link: Link | None = None
        for host, towards in src._links_to.items():
            if host.ns.owns(daddr):
                dst, link = host, towards
                break
        if dst is None or link is None:
            return
        if self._droppers and any(lose(pkt) for lose in self._droppers):
            return
        if link.plain:  # (Link.arrivals' answer without its list: one arrival after delay)
            link.sent += 1
            # a fixed delay: each packet arrives after the one sent before it (as a rule)
            self._events.push_in_order(now + link.params.delay, _DELIVER, dst, pkt)
            return
        size = 0
        if link.params.rate:
            seg = pkt.seg
            size = 40 + len(seg.payload) + (12 if seg.tsval is not None else 0) + (
                4 + 8 * len(seg.sack) if seg.sack else 0)
        flow = None
        if link.flow_loss is not None:
            flow = (pkt.src, pkt.seg.sport, pkt.dst, pkt.seg.dport)
        for t in link.arrivals(now, size, src.name, flow):
            self._push(t, _DELIVER, dst, pkt)

    def step(self) -> bool:
        """Process the earliest event. False when nothing is left."""
        events = self._events
        if events.empty():
            return False
        ev = events.pop()
        when, kind, obj = ev.when, ev.kind, ev.obj
        h: Host | None = ev.host
        events.release(ev)
        if when > self.clock:
            self.clock = when
        if kind == _DELIVER:
            assert h is not None
            wake = h._wake_at
            if wake is not None and wake <= when + TICK_TIE:
                # run_timer_softirq before net_rx_action: the timers of the tick a packet
                # arrives at fire first (sent from a timer at a tick over a link of whole
                # jiffies, the packet arrives at the tick here, microseconds after it there)
                if wake > self.clock:
                    self.clock = wake
                h._wake_at = None
                h.ns.run_timers(self.clock)
                self._flush(h, timers_ran=True)
            self.packets_delivered += 1
            h.ns.deliver(obj, self.clock)
            self._flush(h)
        elif kind == _TIMER:
            assert h is not None
            if h._wake_at is not None and h._wake_at <= when:
                h._wake_at = None
            h.ns.run_timers(self.clock)
            self._flush(h, timers_ran=True)
        else:
            if isinstance(obj, Action):
                obj.run(self.clock)
            else:
                obj(self.clock)
            for host in self.hosts.values():
                if host.ns.outbox or host.ns.timers.armed:
                    self._flush(host)
        return True

    def pending(self) -> bool:
        """Whether any event is still to come (a packet, a timer, a scheduled call)."""
        return not self._events.empty()

    def run(self, duration: float) -> None:
        """Advance virtual time by `duration` seconds."""
        self.run_until(None, self.clock + duration)

    def run_until(self, ready: Callable[[], bool] | None, deadline: float | None) -> bool:
        """Run events until ready() is true or the deadline passes. Returns ready()'s value
        (True when ready is None and the deadline was reached)."""
        events = self._events
        while True:
            if ready is not None and ready():
                return True
            if events.empty() or (deadline is not None and events.first_when() > deadline):
                break
            self.step()
        if deadline is not None and self.clock < deadline:
            self.clock = deadline
        return ready() if ready is not None else True

    def syn_flood(self, target: tuple[str, int], rate: float, duration: float,
                  start: float | None = None, timestamps: bool = True) -> Any:
        """Spoofed SYNs (sources in 198.19.128.0/17, which nobody answers for) at `rate`/s."""
        return SynFlood(self, target, rate, duration, start=start, seed=self.seed,
                        timestamps=timestamps)

    def close(self) -> None:
        for tap in self.taps:
            tap.close()
        self.taps.clear()
