"""`tuxtcp exporter`: per-listener accept-queue numbers and the kernel's TCP counters for
Prometheus, for this namespace and any others named, from the same readers as `tuxtcp ss`
and `tuxtcp nstat` (netlink sock_diag, /proc/net/{snmp,netstat}).

Per listener (labels netns, address, port):
- tuxtcp_listen_accept_queue: connections established and waiting for accept() (the
  listener's Recv-Q in ss);
- tuxtcp_listen_backlog: the accept queue's limit, min(listen() backlog, somaxconn) (its
  Send-Q);
- tuxtcp_listen_syn_recv: request socks in the SYN queue for it (a wildcard listener counts
  those of every local address on its port).
Per namespace: tuxtcp_snmp_total{netns, group, counter} for every counter nstat shows (Tcp,
TcpExt, Ip, IpExt, ... under the kernel's names: group="TcpExt", counter="ListenOverflows"),
and tuxtcp_tcp_curr_estab (Tcp CurrEstab, a gauge).
When root (tracefs; --no-trace turns it off), from the kernel's tracepoints since the
exporter started (observe/trace_tally.py, attributed through /proc/net/tcp's socket
pointers):
- tuxtcp_skb_drops_total{reason}: every IPv4 skb:kfree_skb by drop reason, host-wide (the
  tracepoint does not say which namespace);
- tuxtcp_listen_drops_total{netns, address, port, reason}: those that reached a listener;
- tuxtcp_listen_synack_retrans_total{netns, address, port}: SYN-ACKs it resent.

A scrape asks the kernel for listeners and SYN_RECV sockets only (the dump's state filter), so
it costs little however many established connections the host has.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from types import FrameType

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from ..net.trace import parse_trace_line
from ..observe.nstat import NOT_COUNTERS, parse_groups
from ..observe.records import SockRecord, ip_text
from ..observe.trace_tally import TraceTally
from . import tracefs
from .errors import SockDiagError
from .nstat_command import host_counter_files
from .sockdiag import host_records
from .trace_command import proc_listeners

LISTEN = 10
SYN_RECV = 3
LISTEN_AND_SYN_RECV = (1 << LISTEN) | (1 << SYN_RECV)


def listener_rows(records: Iterable[SockRecord]) -> list[tuple[str, int, int, int, int]]:
    """(address, port, accept queue, backlog, SYN_RECV count) for each listener."""
    listeners = []
    syn_recv: dict[tuple[int, int], int] = {}
    for r in records:
        if r.state == LISTEN:
            listeners.append(r)
        elif r.state == SYN_RECV:
            key = (r.saddr, r.sport)
            syn_recv[key] = syn_recv.get(key, 0) + 1
    out = []
    for r in listeners:
        if r.saddr == 0:  # INADDR_ANY: the requests of every address on its port
            n = sum(c for (a, p), c in syn_recv.items() if p == r.sport)
        else:
            n = syn_recv.get((r.saddr, r.sport), 0)
        out.append((ip_text(r.saddr), r.sport, r.rqueue, r.wqueue, n))
    return out


class TraceFeed:
    """A thread reading the kernel's tracepoints (a tracefs instance of its own) into one
    TraceTally per namespace; `stop()` ends it and removes the instance."""

    def __init__(self, namespaces: list[str | None]) -> None:
        self.lock = threading.Lock()
        self.tallies: dict[str | None, TraceTally] = {
            ns: TraceTally(functools.partial(_listeners_or_none, ns)) for ns in namespaces}
        self._stop = threading.Event()
        self.ready = threading.Event()
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="tuxtcp-trace", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with tracefs.trace_session() as session:
                self.ready.set()
                while not self._stop.is_set():
                    for line in session.lines(0.5):
                        ev = parse_trace_line(line)
                        if ev is None:
                            continue
                        with self.lock:
                            for tally in self.tallies.values():
                                tally.add(ev)
        except (OSError, SockDiagError) as e:
            self.error = str(e)
        finally:
            self.ready.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _listeners_or_none(ns: str | None) -> dict[int, tuple[int, int]]:
    try:
        return proc_listeners(ns)
    except (OSError, SockDiagError):
        return {}  # the namespace went away


class TcpCollector(Collector):
    """The metrics above for each namespace in `namespaces` (None: the exporter's own)."""

    def __init__(self, namespaces: list[str | None], feed: TraceFeed | None = None) -> None:
        self.namespaces = namespaces
        self.feed = feed

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        labels = ["netns", "address", "port"]
        queue = GaugeMetricFamily("tuxtcp_listen_accept_queue",
                                  "Connections waiting for accept() (ss Recv-Q of a listener)",
                                  labels=labels)
        backlog = GaugeMetricFamily("tuxtcp_listen_backlog",
                                    "Accept queue limit: min(listen backlog, somaxconn)",
                                    labels=labels)
        synq = GaugeMetricFamily("tuxtcp_listen_syn_recv",
                                 "Request socks in the SYN queue of the listener", labels=labels)
        snmp = CounterMetricFamily("tuxtcp_snmp", "The kernel's SNMP and netstat counters "
                                   "(/proc/net/snmp, /proc/net/netstat), by group and name",
                                   labels=["netns", "group", "counter"])
        estab = GaugeMetricFamily("tuxtcp_tcp_curr_estab",
                                  "TCP connections in ESTABLISHED or CLOSE_WAIT (Tcp CurrEstab)",
                                  labels=["netns"])
        for ns in self.namespaces:
            label = ns or ""
            try:
                recs = host_records(ns, states=LISTEN_AND_SYN_RECV, memory=False,
                                    details=False)
                files = host_counter_files(ns)
            except SockDiagError:
                continue  # a namespace that went away: no series for it this scrape
            for addr, port, q, b, n in listener_rows(recs):
                lv = [label, addr, str(port)]
                queue.add_metric(lv, q)
                backlog.add_metric(lv, b)
                synq.add_metric(lv, n)
            for f in ("snmp", "netstat"):
                for group, counter, value in parse_groups(files.get(f, "")):
                    if (group, counter) == ("Tcp", "CurrEstab"):
                        estab.add_metric([label], value)
                    elif group + counter not in NOT_COUNTERS:  # settings, as nstat skips
                        snmp.add_metric([label, group, counter], value)
        yield from (queue, backlog, synq, snmp, estab)
        if self.feed is not None:
            yield from self._traced(self.feed)

    def _traced(self, feed: TraceFeed) -> Iterator[CounterMetricFamily]:
        labels = ["netns", "address", "port"]
        drops = CounterMetricFamily("tuxtcp_skb_drops", "IPv4 packets the kernel dropped "
                                    "(skb:kfree_skb), by drop reason, host-wide",
                                    labels=["reason"])
        ldrops = CounterMetricFamily("tuxtcp_listen_drops", "Packets dropped at a listener "
                                     "(skb:kfree_skb rx_sk), by drop reason",
                                     labels=[*labels, "reason"])
        synack = CounterMetricFamily("tuxtcp_listen_synack_retrans",
                                     "SYN-ACKs a listener retransmitted "
                                     "(tcp:tcp_retransmit_synack)", labels=labels)
        with feed.lock:
            first = True
            for ns, tally in feed.tallies.items():
                if first:  # every tally sees every drop: count them once
                    for reason, n in tally.drops.items():
                        drops.add_metric([reason], n)
                    first = False
                for (addr, port), st in tally.per_listener.items():
                    lv = [ns or "", ip_text(addr), str(port)]
                    synack.add_metric(lv, st.synack_retrans)
                    for reason, n in st.drops.items():
                        ldrops.add_metric([*lv, reason], n)
        yield from (drops, ldrops, synack)


def registry(namespaces: list[str | None], feed: TraceFeed | None = None) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(TcpCollector(namespaces, feed))
    return reg


USAGE = """usage: tuxtcp exporter [--listen ADDR:PORT] [--netns NAME ...] [--duration S]
                       [--no-trace]

Serve Prometheus metrics (per-listener accept queue, backlog and SYN queue; the TCP
counters; as root, drops by reason and per listener from the kernel's tracepoints unless
--no-trace) at http://ADDR:PORT/metrics (default 127.0.0.1:9469). --netns adds a namespace
(repeatable; root); this namespace is always included.
"""


def exporter(argv: list[str]) -> int:
    args = list(argv)
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    listen, duration = "127.0.0.1:9469", 0.0
    namespaces: list[str | None] = [None]
    trace = "--no-trace" not in args
    args = [a for a in args if a != "--no-trace"]
    i = 0
    while i < len(args):
        if args[i] == "--listen" and i + 1 < len(args):
            listen = args[i + 1]
        elif args[i] == "--netns" and i + 1 < len(args):
            namespaces.append(args[i + 1])
        elif args[i] == "--duration" and i + 1 < len(args):
            duration = float(args[i + 1])
        else:
            print(f"tuxtcp exporter: unexpected {args[i]!r}\n{USAGE}", file=sys.stderr, end="")
            return 2
        i += 2
    host, _, port = listen.rpartition(":")
    stop: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    feed = None
    if trace and tracefs.available() is None:
        feed = TraceFeed(namespaces)
        feed.ready.wait(5)
        if feed.error:
            print(f"tuxtcp exporter: no drop metrics: {feed.error}", file=sys.stderr)
            feed = None
    try:
        server, thread = start_http_server(int(port), host or "127.0.0.1",
                                           registry=registry(namespaces, feed))
    except OSError as e:
        print(f"tuxtcp exporter: {listen}: {e.strerror}", file=sys.stderr)
        if feed is not None:
            feed.stop()
        return 1
    print(f"serving http://{host or '127.0.0.1'}:{server.server_port}/metrics", flush=True)
    end = time.monotonic() + duration if duration > 0 else None
    try:
        while not stop and (end is None or time.monotonic() < end):
            time.sleep(0.1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if feed is not None:
            feed.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return 0
