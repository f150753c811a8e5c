"""A connection-capacity scenario on the real engine: clients arriving, a server with accept
workers and a service time, an optional spoofed SYN flood, any sysctl, a lossy link.

This is the model behind `tuxtcp simulate`. Everything is on the virtual clock and seeded.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from ..net.clock import INITIAL_JIFFIES, Clock
from ..net.sysctl import HZ
from ..net.sysctl_specs import CONGESTION_CONTROLS
from ..net.tcp_states import CLOSE, CLOSE_WAIT, ESTABLISHED, SYN_SENT
from ..net.timers import Timer
from ..net.trace import TraceEvent
from ..socket.api import Socket
from ..tcp.constants import TIMER_DACK, TIMER_RETRANS, TIMER_SYNACK
from ..tcp.reqsk import RequestSock
from ..tcp.sock import TcpSock
from ..tcp.waker import FunctionWaker, Waker
from ..wire.ipv4 import Packet
from ..wire.tcp import ACK, SYN
from .events import Action
from .rx_backlog import RxBacklog
from .world import Host, World

SERVER_ADDR: Final = "198.18.0.1"
CLIENT_ADDR: Final = "198.18.0.2"
PORT: Final = 8080
PEAK_PROC_ENTRIES: Final = 1000
MAX_RESPONSE: Final = 64 << 20
MAX_SAMPLES: Final = 1_000_000  # queue samples in a run
RESPONSE_CHUNK: Final = 64 << 10  # bytes a server's send() offers at a time
REPLAY_WAIT: Final = 0.002  # how long a replayed accept waits for a connection to be queued
_EINPROGRESS: Final = errno.EINPROGRESS  # (bound once: read at every client's start)


@dataclass
class ScenarioSpec:
    name: str = "custom"
    clients: int = 200              # legitimate connection attempts
    arrival: str = "poisson"        # poisson | uniform | burst
    rate: float = 100.0             # arrivals per second (poisson, uniform)
    burst_spacing: float = 0.0      # seconds between clients in a burst
    first_arrival: float = 0.0      # offset of the first client
    backlog: int = 128
    workers: int = 1                # accept loops
    service_time: float = 0.0       # seconds a worker spends per connection
    service_dist: str = "constant"  # constant | exponential
    accept_start: float = 0.0       # the server starts accepting at this time
    sysctls: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0005           # one-way link delay
    loss: float = 0.0
    client_addresses: int = 1       # client source addresses (198.18.1.x), for port space
    flood_rate: float = 0.0         # spoofed SYNs per second
    flood_start: float = 0.0
    flood_duration: float = 0.0
    duration: float = 60.0          # virtual seconds to run
    seed: int = 1
    sample_interval: float = 0.05   # queue-occupancy samples
    timer_model: str = "wheel"      # wheel (the kernel's HZ=250 timer wheel) | exact
    uptime0: float | None = None    # uptime at time 0, i.e. the jiffies phase (None: seeded)
    # net.ipv4.tcp_congestion_control of both hosts: what moves a response (and recovers
    # its losses)
    congestion_control: str = "cubic"
    # bytes the server writes to each connection it accepts; it closes once the service time
    # has passed and the whole response is in the socket; the client reads to the end
    response_bytes: int = 0
    # trace-driven replay of a kernel run (simulate --target both): the clients start at these
    # instants instead of the drawn ones, and instead of the accept workers an accept() is
    # tried at each (accept instant, service end) of the kernel's server: it takes the head
    # of the accept queue if there is one and closes it at the service end
    replay_starts: list[float] | None = None
    replay_accepts: list[tuple[float, float]] | None = None
    # per client: how long after the server's FIN reached it the kernel run's client closed
    # (None: at once)
    replay_close_after: list[float | None] | None = None
    # per client: when the kernel run resent its SYNs and the server its SYN-ACKs to it: the
    # replay fires timers due on one tick in the order the kernel sent those (each CPU has a
    # timer base of its own, expired in either order)
    replay_resent: list[tuple[list[float], list[float]]] | None = None
    # per client: when the kernel run's client took its SYN-ACK (ESTABLISHED, traced; None:
    # unknown): the replay's client takes it then (_hold_synack)
    replay_established: list[float | None] | None = None
    # the ticks whose timer softirq came between a connect()'s SYN and its client taking the
    # SYN-ACK, where the client took it first (kernel.connects_first): (the softirq's first
    # resend, the instant the client took it); the tick's resends reach their peers after it
    replay_connects_first: list[tuple[float, float]] | None = None
    # per client: the local port the kernel run's client had (0: none); the replay binds it
    # before connect(), so the flow is the same 4-tuple (a per-flow lossy link loses the same
    # packets of it)
    replay_ports: list[int] | None = None
    # the kernel run's link, packet by packet: (saddr, sport, daddr, dport, index within the
    # flow, lag, sent): how much later than `delay` the kernel at the other end took that
    # packet in after the kernel sent it at `sent` (kernel.link_lags); the replay's link
    # delivers it as much later, and when it was sent within a millisecond of `sent`, when
    # the kernel took it in (link/memory.py: Link.lags)
    replay_link_lags: list[tuple[int, int, int, int, int, float, float]] | None = None
    # per client: when the delayed ACK its kernel client armed on the server's FIN fired
    # (None: untraced); the replay fires one the kernel fired a tick late as late
    replay_fin_ack: list[float | None] | None = None
    # per client: whether its kernel client armed that delayed ACK and closed before it
    # went out alone (ScenarioRun._kernel_order holds the replay's until that close)
    replay_fin_ack_held: list[bool] | None = None
    # per client: whether the kernel server's close() still held its socket when this
    # client's ACK of its FIN came, and took it as release_sock gave the socket up: the
    # replay's server socket takes that ACK as held by its process (sock_owned_by_user)
    replay_ack_in_release: list[bool] | None = None
    # per client, by replay_resent's resends: when the kernel run's server took each resent
    # SYN in, and the client each resent SYN-ACK (None: unknown); the replay's resend on
    # that tick reaches its peer then (ScenarioRun._hold_in_backlog)
    replay_resent_rx: list[tuple[list[float | None], list[float | None]]] | None = None
    # per client: when the ACK its kernel run's client sent as it was established was queued
    # on the veth, and when the server took it in (None: unknown); the replay's client's
    # first ACK reaches the server then
    replay_ack_rx: list[tuple[float, float] | None] | None = None

    def __post_init__(self) -> None:
        if self.arrival not in ("poisson", "uniform", "burst"):
            raise ValueError(f"unknown arrival process {self.arrival!r}")
        if self.service_dist not in ("constant", "exponential"):
            raise ValueError(f"unknown service distribution {self.service_dist!r}")
        if self.congestion_control not in CONGESTION_CONTROLS:
            raise ValueError(f"unknown congestion control {self.congestion_control!r} "
                             f"(available: {' '.join(CONGESTION_CONTROLS)})")
        cc = self.sysctls.get("net.ipv4.tcp_congestion_control")
        if cc is not None and cc != self.congestion_control:
            raise ValueError("give the congestion control as congestion_control, not as "
                             "the sysctl net.ipv4.tcp_congestion_control (it applies to both "
                             "hosts)")
        if not 0 <= self.response_bytes <= MAX_RESPONSE:
            raise ValueError(f"response_bytes must be 0 .. {MAX_RESPONSE}")
        # (0 sampled forever at one instant: the run never ended)
        if not self.sample_interval > 0 or self.duration / self.sample_interval > MAX_SAMPLES:
            raise ValueError(f"sample_interval must be over 0 s, with at most {MAX_SAMPLES:,} "
                             f"samples in the run (duration / sample_interval)")


@dataclass
class ClientTrace:
    """One client's instants in a traced kernel run (one field of ClientResult, None in a
    simulation: a million clients keep one pointer each, not four fields)."""

    syn_resent_at: list[float] = field(default_factory=list)  # each SYN it resent
    synack_resent_at: list[float] = field(default_factory=list)  # each SYN-ACK resent to it
    served_until: float | None = None  # when the server's FIN to it left
    fin_seen: float | None = None  # when that FIN reached it (CLOSE_WAIT)
    # when its close() then armed its FIN's retransmission timer (tcp_write_timer)
    fin_timer_at: float | None = None
    syn_out_at: float | None = None  # when its first SYN went out (queued, or its timer armed)
    fin_ack_at: float | None = None  # when the delayed ACK it armed on that FIN fired
    fin_ack_armed: float | None = None  # when it armed that delayed ACK
    # whether that ACK went out alone (before its close; None: the client's packets were
    # not followed)
    fin_ack_alone: bool | None = None
    # whether the server's close() took its ACK of the server's FIN as release_sock gave the
    # socket up (kernel_trace.TracedRun.acks_in_release)
    ack_in_release: bool = False
    # when the server took each resent SYN in, and it each resent SYN-ACK (over the veth;
    # None: not followed), by the resends above
    syn_resent_rx: list[float | None] = field(default_factory=list)
    synack_resent_rx: list[float | None] = field(default_factory=list)
    # when the ACK it sent as it was established was queued, and taken in by the server
    ack_rx: tuple[float, float] | None = None


@dataclass(init=False)
class ClientResult:
    index: int
    start: float
    port: int = 0
    established: float | None = None
    error: int = 0
    syn_retrans: int = 0
    synack_retrans: int = 0  # SYN-ACKs the server had to resend for this connection
    accepted: float | None = None
    closed: float | None = None  # a kernel run: when the client closed after the server's FIN
    received: int = 0  # response bytes read
    completed: float | None = None  # when the client read the end of the response (EOF)
    traced: ClientTrace | None = None  # a kernel run: the client's instants from the trace

    # written out (the dataclass's generated __init__ is interpreted Python: a million runs
    # of it in the 1M-attempt run); the same parameters, in field order
    def __init__(self, index: int, start: float, port: int = 0,
                 established: float | None = None, error: int = 0, syn_retrans: int = 0,
                 synack_retrans: int = 0, accepted: float | None = None,
                 closed: float | None = None, received: int = 0,
                 completed: float | None = None, traced: ClientTrace | None = None) -> None:
        self.index = index
        self.start = start
        self.port = port
        self.established = established
        self.error = error
        self.syn_retrans = syn_retrans
        self.synack_retrans = synack_retrans
        self.accepted = accepted
        self.closed = closed
        self.received = received
        self.completed = completed
        self.traced = traced

    @property
    def latency(self) -> float | None:
        if self.established is None or self.error:
            return None
        return self.established - self.start

    @property
    def response_time(self) -> float | None:
        """From the connect() to the last response byte read (None: no whole response)."""
        if self.completed is None or self.latency is None:
            return None
        return self.completed - self.start

    @property
    def outcome(self) -> str:
        if self.error:
            return errno.errorcode.get(self.error, str(self.error))
        if self.established is None:
            return "pending"
        return "ok"


@dataclass
class ScenarioResult:
    spec: ScenarioSpec
    clients: list[ClientResult]
    samples: list[tuple[float, int, int]]          # time, SYN queue, accept queue
    server_counters: dict[str, int]
    client_counters: dict[str, int]
    peak_ss: str
    peak_time: float
    peak_proc: str
    dmesg: str
    flood_sent: int
    uptime0: float | None = None
    server_drops: dict[str, int] = field(default_factory=dict)  # skb_drop_reason -> count
    client_drops: dict[str, int] = field(default_factory=dict)
    # a kernel run's agents: how late (s) each was at worst (client: a connect after its
    # instant; server: a service seen finished after its deadline)
    agent_late: dict[str, float] = field(default_factory=dict)
    # a kernel run: the CPUs each agent (and "trace", the tracefs reader) was allowed to run on
    agent_cpus: dict[str, list[int]] = field(default_factory=dict)
    agent_steal: float = 0.0  # the share of the run the hypervisor took the agents' CPU
    # a kernel run over the userspace relay: what it did (forwarded, lost, ...)
    relay: dict[str, Any] | None = None
    # and each packet's lag on it beyond the link's delay (ScenarioSpec.replay_link_lags)
    link_lags: list[tuple[int, int, int, int, int, float, float]] | None = None
    late_clients: dict[int, float] = field(default_factory=dict)  # index -> seconds late
    # a kernel run's server: (accept instant, service end) of each connection it accepted
    server_log: list[tuple[float, float]] = field(default_factory=list)
    accepts_traced: bool = False  # a kernel run: those accept instants are the trace's
    replay_missed: int = 0  # replayed accept attempts that found the accept queue empty
    # a kernel run: skb:kfree_skb events of IPv4 freed in TCP's code, by reason, while it ran,
    # server and client namespaces together (the tracepoint does not say which); None untraced
    traced_drops: dict[str, int] | None = None
    traced_drop_sites: dict[str, dict[str, int]] | None = None  # reason -> {function: count}
    traced_drop_first: dict[str, list[float]] | None = None  # reason -> first instants (s)
    # the run's first RSTs: (s into the window, from, to, socket state, reason)
    traced_resets: list[tuple[float, str, str, str, str]] | None = None
    # of the traced NO_SOCKET drops, those for a connection the client had closed already
    # (kernel_trace.KernelTrace.late_teardown)
    traced_after_close: int = 0
    # server sockets that took the client's ACK of their FIN in the server's close()
    # (kernel_trace.TracedRun.acks_in_close)
    traced_acks_in_close: int = 0


ProgressFn = Callable[[float, ScenarioResult | None, "ScenarioRun"], None]


def expovariate(rng: random.Random, rate: float) -> float:
    """rng.expovariate(rate), the same draw (CPython: -log(1 - random()) / rate) without the
    interpreted random module: a million clients' arrival times are drawn up front."""
    return -math.log(1.0 - rng.random()) / rate


class ScenarioRun:
    """Builds the world for a spec and runs it; `live()` gives a snapshot for progress views."""

    def __init__(self, spec: ScenarioSpec, pcap: str | None = None,
                 trace: TextIO | None = None) -> None:
        self.spec = spec
        self.world = w = World(seed=spec.seed, timer_model=spec.timer_model,
                               uptime0=spec.uptime0)
        self.server: Host = w.host("srv", SERVER_ADDR)
        extra = [f"198.18.{1 + i // 250}.{1 + i % 250}"
                 for i in range(max(0, spec.client_addresses - 1))]
        self.client: Host = w.host("cli", CLIENT_ADDR, *extra)
        self._sources = [CLIENT_ADDR, *extra]
        # loss per flow: a client's packets meet the same fate whatever other clients send,
        # and the kernel target's relay loses the same ones (simulate/kernel_relay.py)
        w.link(self.server, self.client, delay=spec.delay, loss=spec.loss, per_flow=True,
               lags={(a, ap, b, bp, n): (lag, sent)
                     for a, ap, b, bp, n, lag, sent in spec.replay_link_lags}
               if spec.replay_link_lags else None)
        if pcap:
            w.pcap(pcap)
        if trace is not None:
            w.trace_to(trace)
        for host in (self.server, self.client):
            host.sysctl["net.ipv4.tcp_congestion_control"] = spec.congestion_control
        self._response = b"\x55" * min(spec.response_bytes, RESPONSE_CHUNK)
        for k, v in spec.sysctls.items():
            self.server.sysctl[k] = v
            if k in ("net.ipv4.tcp_syn_retries", "net.ipv4.tcp_syn_linear_timeouts",
                     "net.ipv4.ip_local_port_range", "net.ipv4.tcp_timestamps",
                     "net.ipv4.tcp_sack", "net.ipv4.tcp_window_scaling"):
                self.client.sysctl[k] = v
        self.rng = random.Random(f"scenario:{spec.seed}")
        self.listener = ls = self.server.socket()
        ls.bind(("0.0.0.0", PORT))
        ls.listen_raw(spec.backlog)
        ls.setblocking(False)
        self.results: list[ClientResult] = []
        self._next_client = 0
        self._start_due_action = _StartDue(self)  # (one object for every arrival)
        # addr << 16 | port -> client (keys typed object: a key used twice is boxed once)
        self._by_addr: dict[object, ClientResult] = {}
        # by client index: its socket while in SYN_SENT (a list: a dict keyed by the index
        # boxed it three times a client)
        self._connecting: list[TcpSock | None] = []
        self._idle_workers = spec.workers
        self._accepting = spec.accept_start <= 0
        self.samples: list[tuple[float, int, int]] = []
        self.peak: tuple[int, float, str, str] = (-1, 0.0, "", "")
        self.flood = None
        self.replay_missed = 0
        self._waiting: list[tuple[float, float]] = []  # replayed accepts waiting: (until, service)
        # a million ClientResults, none in a reference cycle: the cyclic collector would only
        # rescan the growing list (about a third of this step's time at 1M clients)
        with _collector_paused():
            self._schedule_clients()
        self._connecting = [None] * len(self.results)
        # every SYN-ACK the server resends, counted for the client it goes to (accepted or
        # not), as a kernel run counts tcp:tcp_retransmit_synack
        self.server.trace(self._count_synack, ("tcp_retransmit_synack",))
        # by jiffy: the instant just after the last connect() or accept() of the kernel run
        # that came within that tick before its timer softirq sent the tick's first resend
        # (or, replay_connects_first, after a connect took its SYN-ACK)
        self._after_user: dict[int, float] = {}
        if spec.replay_resent is not None:
            self.client.ns.timer_order = self._kernel_order
            self.server.ns.timer_order = self._kernel_order
            self._after_user = _user_before_softirq(
                self.client.ns.clock, spec.replay_resent,
                [*(spec.replay_starts or ()), *(t for t, _ in spec.replay_accepts or ())])
            for first, took in spec.replay_connects_first or ():
                # the resends leave so that they arrive just after the client took its
                # SYN-ACK: the ACK it sends then reaches the server ahead of their answers
                j = self.client.ns.clock.jiffies(first)
                self._after_user[j] = max(self._after_user.get(j, 0.0),
                                          took - spec.delay + USER_EPS_S)
        self._held: set[int] = set()  # clients whose SYN-ACK _hold_synack held back
        if spec.replay_established is not None:
            w.drop_if(self._hold_synack)
        # the veth's backlog (_hold_in_backlog): (client, side, resend) of the kernel run's
        # resends a replayed one was held for
        self._rx_used: set[tuple[int, int, int]] = set()
        self._rx_backlog = RxBacklog(RX_HOLD_MAX_S, 1.0 / HZ)
        self._acked: set[int] = set()  # clients whose first ACK _hold_in_backlog has seen
        if spec.replay_resent_rx is not None or spec.replay_ack_rx is not None:
            w.drop_if(self._hold_in_backlog)
        if spec.replay_accepts is not None:
            self._accepting = False  # only the replayed attempts accept
            for t, end in spec.replay_accepts:
                w.call_at(t, self._replayed_accept(end - t))
        else:
            self._hook_listener()
        if spec.accept_start > 0 and spec.replay_accepts is None:
            w.call_at(spec.accept_start, self._start_accepting)
        if spec.flood_rate > 0 and spec.flood_duration > 0:
            self.flood = w.syn_flood((SERVER_ADDR, PORT), rate=spec.flood_rate,
                                     duration=spec.flood_duration, start=spec.flood_start)
        w.call_at(0.0, self._sample)

    # -- clients ------------------------------------------------------------------------------
    def _schedule_clients(self) -> None:
        """Draw every arrival time up front (so the RNG sequence does not depend on the run),
        but keep only the next arrival on the event heap."""
        spec, t = self.spec, 0.0
        if spec.replay_starts is not None:
            for i, start in enumerate(spec.replay_starts):
                self.results.append(ClientResult(i, start))
            if self.results:
                self.world.call_at(self.results[0].start, self._start_due_action)
            return
        for i in range(spec.clients):
            if spec.arrival == "poisson":
                t += expovariate(self.rng, spec.rate) if i else 0.0
            elif spec.arrival == "uniform":
                t = i / spec.rate
            else:
                t = i * spec.burst_spacing
            self.results.append(ClientResult(i, t + spec.first_arrival))
        if self.results:
            self.world.call_at(self.results[0].start, self._start_due_action)

    def _start_due(self, now: float) -> None:
        """Start every client whose arrival time has come, then wait for the next one."""
        results, i = self.results, self._next_client
        while i < len(results) and results[i].start <= now:
            self._start_client(results[i], now)
            i += 1
        self._next_client = i
        if i < len(results):
            self.world.call_at(results[i].start, self._start_due_action)

    def _start_client(self, rec: ClientResult, now: float) -> None:
        s = self.client.socket()
        s.setblocking(False)
        sk = s.sk
        port = self.spec.replay_ports[rec.index] if self.spec.replay_ports else 0
        if port:
            # the kernel run's port; if it is still taken here, connect() picks one
            with contextlib.suppress(OSError):
                s.bind((self._sources[rec.index % len(self._sources)], port))
        elif len(self._sources) > 1:
            # spread clients over source addresses: bind(addr, 0) with
            # IP_BIND_ADDRESS_NO_PORT, so connect() still picks the port
            sk.bind_no_port = True
            s.bind((self._sources[rec.index % len(self._sources)], 0))
        err = s.connect_ex((SERVER_ADDR, PORT))
        if err != 0 and err != _EINPROGRESS:
            rec.error = err
            s.close()
            return
        rec.port = sk.lport
        self._by_addr[sk.laddr << 16 | sk.lport] = rec
        self._connecting[rec.index] = sk
        sk.on_wakeup = _Client(self, rec, s)
        if self.spec.replay_resent is not None:
            self._syn_timer_on_kernels_tick(rec, sk, now)

    def _syn_timer_on_kernels_tick(self, rec: ClientResult, sk: TcpSock, now: float) -> None:
        """The SYN timer of a connect() whose SYN the kernel run resent on another tick than
        the timer wheel's bucket for it, by up to a bucket of its level (8 jiffies), fires on
        that tick. (The kernel queues a timer by its distance from the timer base's clock;
        three of 36,139 first SYN timers of slow-accept runs fired 7-8 jiffies before the
        level-1 bucket of the jiffy their SYN left in, as if queued at level 0, at their
        expiry; the replay's, a bucket later, parted one run from the kernel: 1,981 of
        2,000 clients agreeing. And a tick's softirq can run inside a connect() between its
        SYN and the arming of its timer, which then lands in the bucket after: the replay
        starts the client when the SYN left, a jiffy before.)"""
        resent = self.spec.replay_resent
        assert resent is not None
        t = sk.rtx_timer
        if rec.index >= len(resent) or not resent[rec.index][0] or t is None or not t.pending:
            return
        tick = _tick_of(sk.ns.clock, resent[rec.index][0][0])
        if now < tick and 0.5 / HZ < abs(t.when - tick) < (EARLY_TICKS + 0.5) / HZ:
            self._defer(t, tick)

    def _kernel_order(self, order: list[Timer]) -> list[Timer]:
        """The timers of one tick with their SYN and SYN-ACK retransmissions as the kernel
        run sent them, and a client's delayed ACK of the server's FIN a tick late where the
        kernel's fired a tick late. One the kernel fired a tick later (on this 2-CPU machine
        about one in five: a timer base expired remotely or after its tick) moves to that
        tick; the rest take the places of such timers in the engine's order, by the instant
        the kernel sent its client's next one (the others keep their places)."""
        resent = self.spec.replay_resent
        assert resent is not None
        ns = self.client.ns
        if self.spec.replay_fin_ack_held is not None:
            self._hold_fin_acks(order, self.spec.replay_fin_ack_held)
        if order and self._after_user:
            # run_timer_softirq came tens of microseconds after the tick in the kernel run, and
            # a connect() or accept() of the agents (on the same CPU) in between came before
            # the tick's resends: they go out just after it here too
            after = self._after_user.get(ns.clock.jiffies(order[0].when))
            if after is not None and order[0].when < after:
                for t in order:
                    if t.pending and (t.kind == TIMER_SYNACK and isinstance(t, RequestSock)
                                      or t.kind == TIMER_RETRANS
                                      and isinstance(t.owner, TcpSock)
                                      and t.owner.state == SYN_SENT):
                        self._defer(t, after)
                return order  # the deferred ones are no longer due in this bucket
        slots: list[int] = []
        keyed: list[tuple[float, int, Timer]] = []
        for i, t in enumerate(order):
            owner = t.owner
            if t.kind == TIMER_RETRANS and isinstance(owner, TcpSock) \
                    and owner.state == SYN_SENT:
                rec = self._by_addr.get(owner.laddr << 16 | owner.lport)
                side, n = 0, owner.num_retrans_total
            elif t.kind == TIMER_SYNACK and isinstance(t, RequestSock):
                rec = self._by_addr.get(t.raddr << 16 | t.rport)
                side, n = 1, t.num_retrans
            elif t.kind == TIMER_DACK and isinstance(owner, TcpSock) \
                    and owner.state == CLOSE_WAIT and self.spec.replay_fin_ack is not None:
                # the delayed ACK of the server's FIN: a tick late where the kernel's was
                rec = self._by_addr.get(owner.laddr << 16 | owner.lport)
                fired = (self.spec.replay_fin_ack[rec.index]
                         if rec is not None and rec.index < len(self.spec.replay_fin_ack)
                         else None)
                if fired is not None and t.pending:
                    late = _tick_of(ns.clock, fired) - t.when
                    if 0.5 / HZ < late < 1.5 / HZ:
                        self._defer(t, t.when + late)
                continue
            else:
                continue
            if rec is not None and rec.index < len(resent):
                times = resent[rec.index][side]
                if n < len(times):
                    late = _tick_of(ns.clock, times[n]) - t.when
                    if 0.5 / HZ < late < 1.5 / HZ and t.pending:
                        self._defer(t, t.when + late)
                        continue
                    slots.append(i)
                    keyed.append((times[n], i, t))
        if len(keyed) < 2:
            return order
        keyed.sort()
        out = list(order)
        for i, (_, _, t) in zip(slots, keyed, strict=True):
            out[i] = t
        return out

    def _hold_synack(self, pkt: Packet) -> bool:
        """A SYN-ACK to a client still in SYN_SENT, taken by the client's socket when the
        kernel run's was (`replay_established`), up to HOLD_MAX_S after it arrives; where the
        engine answers at once, the kernel's client took it later:
        - to the SYN of a connect(): connect() holds the socket (lock_sock) from
          tcp_v4_connect to its release_sock. The listener answers the SYN in the softirq
          the SYN's own transmit runs, and the SYN-ACK waits on the owned socket's backlog
          (tcp_v4_rcv: tcp_add_backlog) until release_sock: 13 us after the SYN on this
          machine as a rule, up to 180 us when a tick's timer softirq ran in between (a
          kernel run of slow-accept: client 907's SYN 3 us before a tick, established 75 us
          later, after the SYN resent on that tick had been answered);
        - to a SYN resent by a tick's timer softirq: the resent SYNs, their SYN-ACKs and the
          clients' ACKs queue one behind another in the backlog NET_RX works through, 45-51
          us from a resend to its client's ESTABLISHED, in which a connect() released after
          the softirq finished its own handshake first (client 1026 of another run,
          established 29 us after its SYN and ahead of five resent on that tick)."""
        seg = pkt.seg
        if seg.flags & _SYN_ACK != _SYN_ACK:
            return False
        rec = self._by_addr.get(pkt.dst << 16 | seg.dport)
        when = self.spec.replay_established
        if rec is None or when is None or rec.index >= len(when) or rec.index in self._held:
            return False
        took = when[rec.index]
        sk = self._connecting[rec.index]
        arrives = self.world.clock + self.spec.delay
        if (took is None or sk is None or sk.state != SYN_SENT
                or not arrives < took <= arrives + HOLD_MAX_S):
            return False
        self._held.add(rec.index)
        self.world.deliver_at(pkt, took)
        return True

    def _hold_in_backlog(self, pkt: Packet) -> bool:
        """The veth's packets as NET_RX took them in on the kernel run's CPU: a SYN or
        SYN-ACK sent on a tick on which the kernel run resent one to or from the same client,
        and a client's ACK of its SYN-ACK, reach their peer when the kernel's did
        (`replay_resent_rx`, `replay_ack_rx`): if the kernel queued it within a tick of its
        sending here and took it in within RX_HOLD_MAX_S of that, even sooner than the link
        would bring it. A packet with no such instant sent after one held back arrives after
        it (sim/rx_backlog.py). NET_RX took resends in 2 us to 1.7 ms after the tick's softirq
        queued them on a slow-accept run, and a handshake's ACK 2-180 us after its client
        was established; a packet sent meanwhile (the ACK of a resent SYN-ACK, a connect's
        SYN) joins the same backlog, behind them."""
        now = self.world.clock
        arrives = now + self.spec.delay
        seg = pkt.seg
        if seg.flags == ACK and not seg.payload:
            traced = self._ack_rx(pkt)
        elif self.spec.replay_resent_rx is not None:
            traced = self._resent_rx(pkt, now)
        else:
            traced = None
        at = self._rx_backlog.arrival(now, arrives, traced)
        if at == arrives:
            return False
        self.world.deliver_at(pkt, at)
        return True

    def _ack_rx(self, pkt: Packet) -> tuple[float, float] | None:
        """When the kernel run queued the ACK of the handshake and the server took it in, if
        `pkt` is the first ACK a replayed client sends (traced: `replay_ack_rx`)."""
        rx = self.spec.replay_ack_rx
        rec = self._by_addr.get(pkt.src << 16 | pkt.seg.sport)
        if rx is None or rec is None or rec.index >= len(rx) or rec.index in self._acked:
            return None
        self._acked.add(rec.index)
        return rx[rec.index]

    def _resent_rx(self, pkt: Packet, now: float) -> tuple[float, float] | None:
        """When the kernel run resent (queued) the resend of this tick that `pkt` (a SYN or
        SYN-ACK of a replayed client) replays, and when its peer took it in, if traced."""
        seg = pkt.seg
        flags = seg.flags & _SYN_ACK
        if flags == SYN:
            side, key = 0, pkt.src << 16 | seg.sport
        elif flags == _SYN_ACK:
            side, key = 1, pkt.dst << 16 | seg.dport
        else:
            return None
        rec = self._by_addr.get(key)
        resent, rx = self.spec.replay_resent, self.spec.replay_resent_rx
        if rec is None or resent is None or rx is None or rec.index >= len(rx) \
                or rec.index >= len(resent):
            return None
        times, arrivals = resent[rec.index][side], rx[rec.index][side]
        clock = self.client.ns.clock
        j = clock.jiffies(now)
        for k, at in enumerate(times):
            if clock.jiffies(at) == j and (rec.index, side, k) not in self._rx_used:
                self._rx_used.add((rec.index, side, k))
                took = arrivals[k] if k < len(arrivals) else None
                return None if took is None else (at, took)
        return None

    def _hold_fin_acks(self, order: list[Timer], held: list[bool]) -> None:
        """Move past its client's close a delayed ACK of the server's FIN, due on this tick,
        that the kernel client's never sent alone (`replay_fin_ack_held`): its FIN carried
        the ACK, though the replay puts the tick in between. The kernel's timer softirq on
        that CPU had not run the tick's bucket when the client closed (seen on slow-accept:
        a FIN taken 161 us before a tick, the close 34 us after it, the timer not fired), or
        ran it inside the client's close(), which held the socket (tcp_delack_timer:
        TCP_DELACK_TIMER_DEFERRED, and release_sock found the ACK sent). Without this, each
        such client's server became a timewait sock on the lone ACK and freed the client's
        FIN as NOT_SPECIFIED where the kernel's freed it as QUEUE_PURGE: 0-12 of 2,000 a
        slow-accept run. The close is due `replay_close_after` after the FIN, which armed
        the timer within the tick before."""
        close_after = self.spec.replay_close_after
        for t in order:
            owner = t.owner
            if t.kind != TIMER_DACK or not t.pending or not isinstance(owner, TcpSock) \
                    or owner.state != CLOSE_WAIT:
                continue
            rec = self._by_addr.get(owner.laddr << 16 | owner.lport)
            if rec is None or rec.index >= len(held) or not held[rec.index]:
                continue
            after = close_after[rec.index] if close_after is not None else None
            if after:
                self._defer(t, t.when + after)

    def _defer(self, t: Timer, when: float) -> None:
        """Move a due timer to another tick (a replayed kernel fired it there)."""
        if isinstance(t, RequestSock):
            t.listener.ns.timers.schedule(t, when, t.level)  # the request is its own timer
            return
        sk = t.owner
        assert isinstance(sk, TcpSock)
        t.cancel()
        nt = sk.ns.timers.arm(when, t.kind, sk, t.level)
        nt.expires = t.expires
        if t.kind == TIMER_DACK:
            sk.delack_timer = nt
        else:
            sk.rtx_timer = nt

    # -- server -------------------------------------------------------------------------------
    def _count_synack(self, event: TraceEvent) -> None:
        f = event.fields
        rec = self._by_addr.get(int(f["daddr"]) << 16 | int(f["dport"]))
        if rec is not None:
            rec.synack_retrans += 1

    def _hook_listener(self) -> None:
        self.listener.sk.on_wakeup = _Listening(self)

    def _start_accepting(self, now: float) -> None:
        self._accepting = True
        self._dispatch()

    def _dispatch(self) -> None:
        if not self._accepting:
            return
        lq = self.listener.sk.lq
        while self._idle_workers and lq is not None and lq.accept_queue:
            conn = self.listener.accept_socket()
            self._idle_workers -= 1
            rec = self._by_addr.get(conn.sk.raddr << 16 | conn.sk.rport)
            if rec is not None:
                rec.accepted = self.world.clock
            self._serve(conn, self.world.clock + self._service(), True)

    def _replayed_accept(self, service: float) -> Callable[[float], None]:
        """A recorded accept: it takes the head of the accept queue, or, when the queue is
        empty, the next connection queued within REPLAY_WAIT (the kernel's accept returned a
        connection at that instant, and the agent took its timestamp a little after the
        kernel queued it; the simulated handshake may land microseconds later)."""
        def attempt(now: float) -> None:
            lq = self.listener.sk.lq
            if lq is not None and lq.accept_queue:
                self._take(now, service)
                return
            self._waiting.append((now + REPLAY_WAIT, service))
            self.listener.sk.on_wakeup = FunctionWaker(self._serve_waiting)
        return attempt

    def _serve_waiting(self) -> None:
        now = self.world.clock
        lq = self.listener.sk.lq
        while self._waiting and self._waiting[0][0] < now:
            self._waiting.pop(0)
            self.replay_missed += 1
        while self._waiting and lq is not None and lq.accept_queue:
            _, service = self._waiting.pop(0)
            self._take(now, service)

    def _take(self, now: float, service: float) -> None:
        conn = self.listener.accept_socket()
        rec = self._by_addr.get(conn.sk.raddr << 16 | conn.sk.rport)
        if rec is not None:
            rec.accepted = now
        self._serve(conn, now + max(0.0, service), False)

    def _forget(self, rec: ClientResult, sk: TcpSock) -> None:
        """A client closing after the server took its connection is looked up no more (what
        remains, its FIN's exchange and TIME_WAIT, is not attributed to it): its entry leaves
        the address map, which then holds the clients in flight rather than every client of
        the run (a million in the 1M run, each lookup of a map that size a cache miss)."""
        if rec.accepted is None:
            return
        key: object = sk.laddr << 16 | sk.lport
        if self._by_addr.get(key) is rec:
            del self._by_addr[key]

    def _service(self) -> float:
        st = self.spec.service_time
        if st <= 0:
            return 0.0
        return expovariate(self.rng, 1 / st) if self.spec.service_dist == "exponential" else st

    def _worker_done(self) -> None:
        self._idle_workers += 1
        self._dispatch()

    def _serve(self, conn: Socket, end: float, worker: bool) -> None:
        """Write the response into `conn` and close it once `end` has come and the whole
        response is written; then, for a worker (not a replayed accept), the next one."""
        _Service(self, conn, end, worker)

    # -- observation --------------------------------------------------------------------------
    def _sample(self, now: float) -> None:
        lq = self.listener.sk.lq
        synq = lq.qlen if lq else 0
        accq = len(lq.accept_queue) if lq else 0
        self.samples.append((now, synq, accq))
        if synq + accq > self.peak[0]:
            # /proc/net/tcp at the peak: listeners first, then the first PEAK_PROC_ENTRIES of
            # the established hash (a long run holds hundreds of thousands of TIME_WAITs)
            self.peak = (synq + accq, now, self.server.ss("-ltn"),
                         self.server.proc("net/tcp", max_entries=PEAK_PROC_ENTRIES))
        if now + self.spec.sample_interval <= self.spec.duration:
            self.world.call_at(now + self.spec.sample_interval, self._sample)

    def run(self, progress: Callable[[float, ScenarioRun], None] | None = None,
            steps: int = 50) -> ScenarioResult:
        spec = self.spec
        # The run allocates millions of short-lived objects and no reference cycles (a closed
        # socket drops its wakeup hook), so reference counting frees everything and the cyclic
        # collector would only rescan the live TIME_WAIT population over and over: it is
        # paused for the run (about a third of the wall time) and restored afterwards.
        with _collector_paused():
            for k in range(1, steps + 1):
                self.world.run_until(None, spec.duration * k / steps)
                if progress is not None:
                    progress(self.world.clock, self)
        for i, still in enumerate(self._connecting):
            if still is not None:  # still connecting at the end
                self.results[i].syn_retrans = still.num_retrans_total
        self.world.close()
        return self.result()

    def result(self) -> ScenarioResult:
        return ScenarioResult(
            spec=self.spec, clients=self.results, samples=self.samples,
            server_counters=self.server.counters.snapshot(),
            client_counters=self.client.counters.snapshot(),
            server_drops=self.server.drops.snapshot(),
            client_drops=self.client.drops.snapshot(),
            peak_ss=self.peak[2], peak_time=self.peak[1], peak_proc=self.peak[3],
            dmesg=self.server.dmesg(),
            flood_sent=self.flood.sent if self.flood else 0,
            uptime0=self.server.ns.uptime0,
            replay_missed=self.replay_missed + len(self._waiting))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block, as it was afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _StartDue(Action):
    """The next arrival's time has come: ScenarioRun._start_due."""

    def __init__(self, scenario: ScenarioRun) -> None:
        self.scenario = scenario

    def run(self, now: float) -> None:
        self.scenario._start_due(now)


class _Listening(Waker):
    """The listener's wakeup: accept what the idle workers can take (ScenarioRun._dispatch)."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run

    def wake(self) -> None:
        self.run._dispatch()


class _Client(Waker):
    """One client's connection (its socket's wakeup): its result as its socket reports
    progress, reading the response when there is one, and closing once the server has
    finished with it.

    (A class, not closures: in the compiled build the nested functions of one function share
    an environment that refers to them, a reference cycle per client that piles up while the
    run keeps the cyclic collector paused.)"""

    def __init__(self, run: ScenarioRun, rec: ClientResult, s: Socket) -> None:
        self.run = run
        self.rec = rec
        self.s = s
        self.closing = False
        self.reading = False

    def wake(self) -> None:
        run, rec, sk = self.run, self.rec, self.s.sk
        st = sk.state
        if rec.established is None and not rec.error:
            if st in (ESTABLISHED, CLOSE_WAIT):
                rec.established = run.world.clock
                rec.syn_retrans = sk.num_retrans_total
                run._connecting[rec.index] = None
            elif st == CLOSE:
                rec.error = sk.sk_err or errno.ECONNABORTED
                rec.syn_retrans = sk.num_retrans_total
                run._connecting[rec.index] = None
        if run._response:
            if rec.established is not None and not self.closing and not self.reading and (
                    sk.recv_buf or sk.rcv_shutdown):
                self.reading = True
                run.world.call_at(run.world.clock, self.read)
        elif sk.rcv_shutdown and st == CLOSE_WAIT and not self.closing:
            self.close_now_or_later()

    def read(self, _now: float) -> None:
        """What has arrived of the response (the reader wakes after the segment's
        processing, as a process does); at its end, close."""
        self.reading = False
        rec = self.rec
        for _ in range(1 << 20):
            try:
                data = self.s.recv(RESPONSE_CHUNK)
            except OSError:
                return  # nothing more yet (or the connection failed)
            if not data:
                rec.completed = self.run.world.clock
                if not self.closing:
                    self.close_now_or_later()
                return
            rec.received += len(data)

    def close_now_or_later(self) -> None:
        """The server finished with us: close our side too, at once, or as long after the FIN
        as the replayed kernel client did (its reaction took time, and a delayed ACK due on a
        tick in between goes out on its own); after this FIN, not at the kernel's instant:
        the replay may have served this client at another time."""
        self.closing = True
        close_after = self.run.spec.replay_close_after
        after = close_after[self.rec.index] if close_after is not None else None
        if after:
            world = self.run.world
            world.call_at(world.clock + after, self.close)
        else:
            self.close(0.0)

    def close(self, _now: float) -> None:
        self.run._forget(self.rec, self.s.sk)
        self.s.close()


class _Service(Action):
    """One accepted connection's service: the response written as fast as the send buffer
    takes it (the writer sleeps until an ACK makes room: SOCK_NOSPACE), and the close once the
    service time is over (its run()) and the whole response is written; then a worker's
    next connection."""

    def __init__(self, run: ScenarioRun, conn: Socket, end: float, worker: bool) -> None:
        self.scenario = run
        self.conn = conn
        self.worker = worker  # one of the run's workers, idle again when done
        self.left = run.spec.response_bytes
        self.over = False  # the service time has passed
        self.scheduled = False  # a write is due
        self.closed = False
        if self.left:
            conn.setblocking(False)
            conn.sk.on_wakeup = FunctionWaker(self.on_room)
            self.write(run.world.clock)
        run.world.call_at(end, self)

    def write(self, _now: float) -> None:
        self.scheduled = False
        if self.closed:
            return
        chunk = self.scenario._response
        conn = self.conn
        while self.left:
            try:
                n = conn.send(chunk if self.left >= len(chunk) else chunk[:self.left])
            except BlockingIOError:
                return  # the buffer is full: the wakeup comes with room
            except OSError:
                n = self.left  # reset by the peer: nothing more to write
            self.left -= n
        conn.sk.on_wakeup = None
        if self.over:
            self.close()

    def on_room(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            world = self.scenario.world
            world.call_at(world.clock, self.write)

    def run(self, now: float) -> None:
        """The service time is over. (`now` named as Action.run names it: an override with
        another name is reached through a glue function when compiled.)"""
        self.over = True
        if not self.left or self.conn.sk.state not in (ESTABLISHED, CLOSE_WAIT):
            self.close()  # written, or reset by the peer: nothing more to write

    def close(self) -> None:
        if self.closed:
            return  # (a write scheduled before a reset closed it)
        self.closed = True
        held = self.scenario.spec.replay_ack_in_release
        if held is not None:
            sk = self.conn.sk
            rec = self.scenario._by_addr.get(sk.raddr << 16 | sk.rport)
            if rec is not None and rec.index < len(held) and held[rec.index]:
                sk.owned_by_user = True  # (the kernel's close() still held it: replayed)
        self.conn.close()
        if self.worker:
            self.scenario._worker_done()


# how long after its arrival a replay holds back a SYN-ACK for a client whose kernel run's
# client took it later (_hold_synack): the longest seen was 180 us; later than this, the
# kernel's client took another SYN-ACK (to another SYN, or one resent) than the one arriving
HOLD_MAX_S: Final = 0.001
# how long after the kernel run queued a resent SYN or SYN-ACK, or a handshake's ACK, its
# peer may have taken it in for a replay to deliver it then (_hold_in_backlog; the longest
# seen was 1.7 ms). The kernel's queueing is within a tick of the replay's sending: a
# resend is on the same jiffy, whose timer softirq the kernel may have run late in it
# (2.98 ms on a slow-accept run, whose resent SYN then came after the agents' calls)
RX_HOLD_MAX_S: Final = 0.003
_SYN_ACK: Final = SYN | ACK


def _user_before_softirq(clock: Clock, resent: list[tuple[list[float], list[float]]],
                         user: list[float]) -> dict[int, float]:
    """By jiffy, for the ticks of a kernel run whose timer softirq came after a connect() or
    accept() of the agents within that tick: the instant just after the last of those (the
    softirq's instant is that of the first SYN or SYN-ACK it resent, `resent`)."""
    first: dict[int, float] = {}
    for syns, synacks in resent:
        for at in (*syns, *synacks):
            j = clock.jiffies(at)
            if at < first.get(j, at + 1.0):
                first[j] = at
    out: dict[int, float] = {}
    for at in user:
        j = clock.jiffies(at)
        ran = first.get(j)
        if ran is not None and at < ran and at + USER_EPS_S > out.get(j, 0.0):
            out[j] = at + USER_EPS_S
    return out


# how many ticks before or after the timer wheel's bucket the kernel run fired a SYN timer at
# most (a bucket of level 1) for the replay to fire it then too
# (ScenarioRun._syn_timer_on_kernels_tick)
EARLY_TICKS: Final = 8

# how long after a connect() or accept() the replay runs a tick's resends that the kernel
# run's softirq sent after it (_user_before_softirq)
USER_EPS_S: Final = 1e-7


def _tick_of(clock: Clock, t: float) -> float:
    """The jiffy tick at or before instant `t` (a kernel event is stamped just after it)."""
    return (clock.jiffies(t) - INITIAL_JIFFIES) / HZ - clock.uptime0


def run_scenario(spec: ScenarioSpec, pcap: str | None = None) -> ScenarioResult:
    return ScenarioRun(spec, pcap).run()


__all__ = ["ClientResult", "ClientTrace", "ScenarioResult", "ScenarioRun", "ScenarioSpec",
           "TcpSock", "run_scenario"]
