"""The kernel's own account of a kernel run, read from tracefs while the run goes on.

Eleven tracepoints, in a tracefs instance of our own with trace_clock "mono" (CLOCK_MONOTONIC,
the clock the agents share):
- skb:kfree_skb: drops by reason, IPv4 only and not in other protocols' code (`tcp_drop_site`:
  a UDP datagram to a closed port elsewhere on the machine is a NO_SOCKET drop too);
- tcp:tcp_retransmit_synack: each SYN-ACK the server resent to a client's port, and the CPU
  whose timer softirq resent it;
- tcp:tcp_retransmit_skb, filtered in the kernel to SYN_SENT sockets: each SYN a client
  resent, and that CPU;
- tcp:tcp_send_reset, to notice other TCP traffic on the machine: a RST between addresses
  that are not the run's means the machine-wide drop counts hold someone else's drops too;
- sock:inet_sock_set_state, filtered in the kernel to seven new states: SYN_SENT, a client's
  connect() (its port not chosen yet: tcp_v4_connect sets the state before
  inet_hash_connect); ESTABLISHED, the
  instant a client's socket left SYN_SENT, in softirq as the SYN-ACK was processed, where the
  agent only learns it when poll() wakes it up (tens of microseconds to milliseconds later
  on a busy machine); FIN_WAIT1, the instant the server's close() sent its FIN; CLOSE_WAIT,
  the instant that FIN reached the client; LAST_ACK, the instant the client's close()
  answered it; FIN_WAIT2, the server taking the client's ACK of its FIN, counted where that
  came in the server's process, from the socket's backlog as its close() let the socket go
  (`acks_in_close`); CLOSE after FIN_WAIT2, that full socket giving way to a timewait sock,
  which tells whether the close() took the ACK before or after its own FIN_WAIT2 check
  (`acks_in_release`). The agents read their own clocks before or after those calls, and
  whether a jiffy tick (a delayed ACK) falls in between decides how the connection ends;
- net:net_dev_queue, filtered in the kernel to the relay's TUN devices and the veth: the
  instant the kernel handed each packet to the relay's link, which the relay reads tens of
  microseconds later (kernel.link_lags); on the veth, the packet each resend queued (the
  one queued on its CPU just before the resend's tracepoint), each connect()'s SYN (the
  first its process queued after its SYN_SENT) and each client's ACK of its SYN-ACK (the
  next packet queued in the context of its ESTABLISHED);
- net:netif_receive_skb, filtered to the veth and the relay's TUN devices (neither traced
  with a flood, whose packets would be most of the trace): on the veth, when the other end
  took a resent SYN or SYN-ACK, or a handshake's ACK, in, by the skb's address. A tick's
  timer softirq resends them, and NET_RX takes them in after it, often in ksoftirqd, where
  the agents' calls can come first: 2 us to 1.7 ms later on a slow-accept run (203 of 2,204
  SYN-ACKs over 50 us), where a connect()'s own SYN was taken in within 48 us. On a relay's
  device, the instant the kernel took in each packet the relay wrote there: the write()
  itself runs the receiving host's TCP (tun_get_user, netif_receive_skb with bottom halves
  off), so the instant before the call is early and the one after it late by the whole
  segment's processing, the answer it sends included (kernel.link_lags);
- syscalls:sys_enter_accept4 and sys_exit_accept4 (filtered in the kernel to calls that
  returned a connection): the instants the server agent entered and left each accept() that
  took one off the queue, and its CPU, where its own clock is read before the call (a
  preempted agent can fall between the two; a tick's timer softirq can run inside the call:
  kernel.traced_accepts);
- kmem:kmem_cache_free and kmem_cache_alloc, filtered in the kernel to request_sock_TCP
  and filp outside softirqs: in an accept() (the process, not an interrupt inside it), the
  free of its connection's request that inet_csk_accept makes right after taking it off the
  queue and releasing the listener, and the new socket's file allocated just before
  (`dequeue`);
- timer:timer_start and timer_expire_entry, filtered to tcp_delack_timer: when the
  delayed ACK a client armed as it took the server's FIN fired, and whether it went out
  alone (its softirq queued a packet on the client's device next: `fin_acks_alone`). It is
  due on the next tick (no data came: ato 0), and the kernel sends it alone when that comes
  before the client's close; on this 2-CPU machine it now and then fires a tick late (2 of
  8 such timers on a lossy-link run), and the replay fires it as late; and now and then
  the tick passes without it (its CPU's timer softirq had not run that bucket when the
  client closed, or ran inside the close(), which held the socket: tcp_delack_timer defers
  to release_sock, by when the FIN carried the ACK), 0-12 clients of a slow-accept run,
  whose replayed delayed ACK waits for the close (ScenarioRun._kernel_order);
- timer:timer_start, filtered in the kernel to tcp_write_timer: the first one a client's
  connect() arms after its SYN_SENT, in that process, is the SYN's retransmission timer
  (tcp_connect arms it once the SYN is out). That instant is when the client's SYN left:
  on a veth the listener has taken the SYN by then (the softirq runs as the sender's bottom
  halves are enabled again), and the client is established 2-12 us later. The agent reads
  its clock before connect(), 30 us earlier on average but anywhere from 5 to 180 us (the
  port search in inet_hash_connect takes longer as ports fill): a SYN that met the queue
  within that spread of an accept or a tick took the other branch in the replay
  (slow-accept: 1,947-1,987 of 2,000 clients agreed from the agent's instants, 1,993-2,000
  from these, on the same kernel runs). The SYN's own net_dev_queue (the first packet
  queued in that process after its SYN_SENT) is earlier still: over the veth 21 us at the
  median, while NET_RX answers it, and 50-99 us for 18 of 2,000 in one run, where a tick's
  timer softirq ran between the SYN and the timer's arming; over the relay 3-22 us. The
  first one a client's close() arms after its LAST_ACK is its FIN's (`fin_timers`), 10-40
  us after the LAST_ACK over the relay.

The tracepoints carry no network namespace, so the counts are the whole machine's; an idle
test machine adds nothing. Only events within the scenario's window count: the agents' own
teardown after it (closing what is still open, the listener first) is not part of the
scenario, which the simulation ends without closing anything.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from ..net.clock import Clock
from ..net.sysctl import HZ
from ..net.tcp_states import (
    CLOSE,
    CLOSE_WAIT,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LAST_ACK,
    SYN_SENT,
)
from ..net.trace import parse_trace_line
from ..sim.scenario import ClientResult, ClientTrace
from ..wire.ipv4 import ip_to_int

RX_EVENT: Final = "net/netif_receive_skb"
# a request sock freed: in an accept4() (inet_csk_accept's reqsk_put), its connection just
# taken off the accept queue; and a file allocated: in an accept4(), the new socket's
# (do_accept: sock_alloc_file, just before the protocol's accept)
REQ_FREE_EVENT: Final = "kmem/kmem_cache_free"
FILE_ALLOC_EVENT: Final = "kmem/kmem_cache_alloc"
EVENTS: Final = ("skb/kfree_skb", "tcp/tcp_retransmit_synack", "sock/inet_sock_set_state",
                 "tcp/tcp_retransmit_skb", "tcp/tcp_send_reset", "timer/timer_start",
                 "net/net_dev_queue", "syscalls/sys_enter_accept4", "syscalls/sys_exit_accept4",
                 "timer/timer_expire_entry", REQ_FREE_EVENT, FILE_ALLOC_EVENT, RX_EVENT)
RELAY_DEVICES: Final = "tux"  # the relay's TUN devices' names begin so (kernel._relay_link)
RELAY_CLIENT: Final = "tuxc"  # and the client's so
# the veth pair's ends (kernel._veth): the server's, the client's
VETH_SERVER: Final = "v0"
VETH_CLIENT: Final = "v1"
OUR_NET: Final = "198.18.0."  # the run's two hosts (sockaddrs as tcp_send_reset prints them)
# the kernel's state numbers, as the tracepoints print them (include/net/tcp_states.h)
TCP_ESTABLISHED: Final = ESTABLISHED
TCP_SYN_SENT: Final = SYN_SENT
TCP_FIN_WAIT1: Final = FIN_WAIT1
TCP_FIN_WAIT2: Final = FIN_WAIT2
TCP_CLOSE: Final = CLOSE
TCP_CLOSE_WAIT: Final = CLOSE_WAIT
TCP_LAST_ACK: Final = LAST_ACK
FILTERS: Final = {"sock/inet_sock_set_state": f"newstate == {TCP_ESTABLISHED} || "
                                              f"newstate == {TCP_SYN_SENT} || "
                                              f"newstate == {TCP_FIN_WAIT1} || "
                                              f"newstate == {TCP_FIN_WAIT2} || "
                                              f"(newstate == {TCP_CLOSE} && "
                                              f"oldstate == {TCP_FIN_WAIT2}) || "
                                              f"newstate == {TCP_CLOSE_WAIT} || "
                                              f"newstate == {TCP_LAST_ACK}",
                  "tcp/tcp_retransmit_skb": f"state == {TCP_SYN_SENT}",
                  # (a function-name filter: Linux 6.4 and later)
                  "timer/timer_start": "function.function == tcp_write_timer || "
                                       "function.function == tcp_delack_timer",
                  "timer/timer_expire_entry": "function.function == tcp_delack_timer",
                  # on the veth, what the client sent and what the server sent in a softirq
                  # (a timer's resends among them): TRACE_FLAG_SOFTIRQ, the "s" of the
                  # context column
                  "net/net_dev_queue": f'name ~ "{RELAY_DEVICES}*" || '
                                       f'name == "{VETH_CLIENT}" || '
                                       f'(name == "{VETH_SERVER}" && common_flags & 16)',
                  "net/netif_receive_skb": f'name == "{VETH_SERVER}" || '
                                           f'name == "{VETH_CLIENT}" || '
                                           f'name ~ "{RELAY_DEVICES}*"',
                  "syscalls/sys_exit_accept4": "ret >= 0",
                  # not in a softirq (TRACE_FLAG_SOFTIRQ): a flood's cookies free a request
                  # each (tcp_conn_request), tens of thousands a second
                  REQ_FREE_EVENT: 'name == "request_sock_TCP" && !(common_flags & 16)',
                  FILE_ALLOC_EVENT: 'name == "filp" && !(common_flags & 16)'}
# timer_start is not one of the engine's events (net/trace.py): its pid, its context flags
# (the third says hard or soft interrupt), its instant and the jiffies then (expires less the
# timeout it prints) are all that is read
# a trace_pipe line's columns before the event's name: task-pid, (tgid), [cpu], flags, instant
_HEAD: Final = (r"^\s*.+-(?P<pid>\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
                r"(?P<flags>\S{4,5})\s+(?P<ts>\d+\.\d+): ")
_TIMER_START: Final = re.compile(
    _HEAD + r"timer_start: timer=(?P<timer>\S+) function=(?P<fn>\S+) "
    r"expires=(?P<expires>\d+) \[timeout=(?P<timeout>-?\d+)\]")
# a delayed ACK's timer expiring: which timer, when
_TIMER_EXPIRE: Final = re.compile(
    _HEAD + r"timer_expire_entry: timer=(?P<timer>\S+) function=tcp_delack_timer")
FIN_ACK_MAX_S: Final = 0.001  # a FIN's delayed ACK is armed within this of its CLOSE_WAIT
# a FIN's delayed ACK that went out alone was queued on the client's end of the veth this
# soon after its timer fired, in the same softirq on the same CPU (2-30 us on slow-accept)
FIN_ACK_SENT_S: Final = 0.0001
# a server socket that took the ACK of its FIN in __tcp_close's __release_sock is closed for
# a timewait sock by the same close() this soon after (its FIN_WAIT2 check, microseconds on)
CLOSE_CHECK_S: Final = 0.0001
# a softirq inside an accept4() whose last packet event came this close before the call
# freed its request ran in release_sock, after the dequeue (kernel_trace.dequeue)
RELEASE_GAP_S: Final = 0.000002
# a packet queued on a device, or taken in from one (net_dev_queue, netif_receive_skb): the
# skb's address (hashed, the same for one skb on both ends of the veth)
_DEV_EVENT: Final = re.compile(
    _HEAD + r"(?P<ev>net_dev_queue|netif_receive_skb): dev=(?P<dev>\S+) "
    r"skbaddr=(?P<skb>\S+) len=(?P<len>\d+)")
# a resend is traced right after its packet was queued, in the same softirq on the same CPU
# (tcp_retransmit_skb and tcp_rtx_synack call their tracepoints once the transmit returned):
# 1-15 us later, 50-65 us for a tick's first now and then; within this
RESEND_QUEUED_S: Final = 0.0002
# a client's ACK of the SYN-ACK is the next packet queued in the context of its ESTABLISHED
# (tcp_rcv_synsent_state_process, then tcp_send_ack): 2-10 us later, or after a tick's
# softirq where one interrupted connect()'s release_sock in between (its resends then go
# ahead of that ACK); within this
ACK_QUEUED_S: Final = 0.002
_ACCEPT4: Final = re.compile(_HEAD + r"sys_accept4(?P<exit> -> )?")
_KMEM: Final = re.compile(_HEAD + r"kmem_cache_(?P<op>free|alloc): ")
# the ring buffer per CPU: a slow-accept run traces about 60,000 events in 31 s, and the
# reader shares its CPU with the queue sampler
BUFFER_KB: Final = 8192
MAX_QUEUED: Final = 250_000  # packets kept per relay device at most (kernel_relay.MAX_READS)
ETH_P_IP: Final = 0x0800
SYN_OUT_MAX_S: Final = 0.010  # a connect()'s SYN timer is armed within this of its SYN_SENT
FIN_TIMER_MAX_S: Final = 0.001  # and a close()'s FIN timer within this of its LAST_ACK
FIRST_DROPS: Final = 5
# Other IPv4 protocols' drop sites, as kfree_skb's `location` names them: a UDP datagram to
# a closed port anywhere on the machine is a NO_SOCKET drop in __udp4_lib_rcv. TCP frees in
# functions of many names (tcp_v4_rcv, tcp_validate_incoming, cookie_v4_check through
# sk_skb_reason_drop, sk_stream_kill_queues, skb_rbtree_purge, ...), so the others are named.
OTHER_PROTOCOL_SITES: Final = ("udp", "__udp", "icmp", "igmp", "raw_", "ping_")


def tcp_drop_site(location: str) -> bool:
    """Whether kfree_skb's `location` ("tcp_v4_rcv+0x99/0x1400" or just the function) may be
    TCP's: not a function of UDP, ICMP, IGMP or raw sockets."""
    return not location.partition("+")[0].startswith(OTHER_PROTOCOL_SITES)


@dataclass
class TracedRun:
    """What the kernel's tracepoints said about a run (instants in CLOCK_MONOTONIC s)."""

    drops: Counter[str] = field(default_factory=Counter)
    drop_sites: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, function)
    # the first few instants of each reason, in seconds into the window: a drop from outside
    # the run (another run's leftovers, at its start) shows itself by when it came
    first_drops: dict[str, list[float]] = field(default_factory=dict)
    synacks: list[tuple[float, int]] = field(default_factory=list)  # (instant, client port)
    syns: list[tuple[float, int]] = field(default_factory=list)  # (instant, client port)
    established: list[tuple[float, int]] = field(default_factory=list)  # (instant, client port)
    server_fins: list[tuple[float, int]] = field(default_factory=list)  # (instant, client port)
    client_closes: list[tuple[float, int]] = field(default_factory=list)  # (instant, its port)
    # (instant, client port) of the retransmission timer each such close() armed for its FIN,
    # after sending it: the jiffies then set when the FIN goes again (a tick can come
    # between the LAST_ACK and the arming, tens of microseconds apart over the relay)
    fin_timers: list[tuple[float, int]] = field(default_factory=list)
    client_fins: list[tuple[float, int]] = field(default_factory=list)  # (instant, its port)
    foreign_resets: int = 0  # RSTs sent between other addresses (other TCP traffic)
    # the first few RSTs of the run's own (seconds into the window, from, to, the socket's
    # state, the reason): a segment to a closed port is answered by one, which names its flow
    resets: list[tuple[float, str, str, str, str]] = field(default_factory=list)
    # NO_SOCKET segments that reached a client port after its socket had closed (LAST_ACK,
    # then the server's ACK): see `late_teardown`
    after_close: int = 0
    # the server's sockets that took the client's ACK of their FIN in the server agent's
    # process (FIN_WAIT2 outside a softirq): from the socket's backlog, as the server's
    # close() gave the socket up (__release_sock). Inside __tcp_close, whose own FIN_WAIT2
    # check then makes it a timewait sock within the same close(), or in release_sock after
    # that check, which leaves a full FIN_WAIT2 socket (tcp_rcv_state_process's
    # sock_owned_by_user): `acks_in_release`
    acks_in_close: int = 0
    # (instant, client port) of each of those that the close() took as release_sock gave the
    # socket up, after __tcp_close's own FIN_WAIT2 check: the socket stayed a full FIN_WAIT2
    # socket (sock_owned_by_user), not closed for a timewait sock within that close()
    acks_in_release: list[tuple[float, int]] = field(default_factory=list)
    closed_ports: set[int] = field(default_factory=set)  # client ports closed, not reused yet
    other_drops: int = 0  # packets freed outside TCP (other protocols, other traffic)
    connects: list[float] = field(default_factory=list)  # each client connect()'s SYN_SENT
    # connect ordinal -> (when its SYN timer was armed, the kernel's jiffies then)
    syn_out: dict[int, tuple[float, int]] = field(default_factory=dict)
    # connect ordinal -> when its SYN was queued on the veth, in its process: before the
    # SYN timer's arming, and before a tick's timer softirq that ran inside the connect()
    # in between (the SYN answered ahead of the tick's resends and of the ACKs that filled
    # the accept queue)
    syn_queued: dict[int, float] = field(default_factory=dict)
    # relay device -> (instant, length) of each packet the kernel queued on it, in order;
    # and of each it took in from it (the relay's writes)
    dev_queue: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    dev_rx: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    # process -> (entered, returned, CPU, dequeued) of each accept4() it made that returned a
    # connection; dequeued: when it took that connection off the queue (None: not seen;
    # `dequeue`)
    accepts: dict[int, list[tuple[float, float, int, float | None]]] = field(
        default_factory=dict)
    # (instant, CPU) of each SYN and SYN-ACK resent: where a tick's timer softirq ran
    resent_on: list[tuple[float, int]] = field(default_factory=list)
    # (when it fired, client port) of each delayed ACK a client armed on the server's FIN
    fin_acks: list[tuple[float, int]] = field(default_factory=list)
    # (when it was armed, client port) of each such delayed ACK; (when it fired, client port)
    # of each that went out alone, before its client's close (its timer fired with the
    # client's close() holding the socket: deferred, and the FIN carried the ACK)
    fin_armed: list[tuple[float, int]] = field(default_factory=list)
    fin_acks_alone: list[tuple[float, int]] = field(default_factory=list)
    # whether the client's device was followed (its packets queued: not with a flood over
    # the veth), without which `fin_acks_alone` cannot tell
    client_dev_followed: bool = False
    # (resend instant, client port) -> when the other end of the veth took that resent SYN
    # or SYN-ACK in (netif_receive_skb): NET_RX may run well after the timer softirq that
    # resent it, in ksoftirqd (up to 1.7 ms on slow-accept), with the agents' calls between
    resent_rx: dict[tuple[float, int], float] = field(default_factory=dict)
    # (a client's ESTABLISHED instant, its port) -> when the ACK that client sent then was
    # queued on the veth, and when the server took it in
    ack_rx: dict[tuple[float, int], tuple[float, float]] = field(default_factory=dict)
    lost: int = 0  # events the ring buffer lost before the reader took them


class KernelTrace:
    """`with KernelTrace(start, end, client, server_port) as t: ...; t.run` reads the
    tracepoints in a thread; `run` stays None without tracefs (not root, none mounted)."""

    def __init__(self, start: float, end: float, client_addr: str, server_port: int,
                 cpus: list[int] | None = None, veth: bool = True) -> None:
        self._window = (start, end)
        # whether to follow the resends over the veth (netif_receive_skb: not with a flood,
        # whose tens of thousands of packets a second would each be traced twice over); the
        # client's softirqs still queue few (its delayed ACKs: `fin_acks_alone`)
        self._events = EVENTS if veth else tuple(e for e in EVENTS if e != RX_EVENT)
        self._filters = FILTERS if veth else {**FILTERS, "net/net_dev_queue":
                                              f'name ~ "{RELAY_DEVICES}*" || '
                                              f'(name == "{VETH_CLIENT}" && common_flags & 16)'}
        self._cpus = cpus  # where the reading thread runs (None: anywhere)
        self.ran_on: list[int] = []  # the CPUs the reading thread was allowed
        self._client = ip_to_int(client_addr)
        self._client_str = client_addr
        self._port = server_port
        # process -> the ordinal of its connect() whose SYN timer is not armed yet
        self._awaiting: dict[int, int] = {}
        # process -> when its accept4() was entered, and on which CPU; and when that call
        # last allocated a file, and freed a request, in the process (not in an interrupt
        # inside it), and the last packet event of a softirq that ran inside it, with
        # whether that softirq began by taking a packet in (a NET_RX one)
        self._in_accept: dict[int, tuple[float, int]] = {}
        self._filed: dict[int, float] = {}
        self._freed: dict[int, float] = {}
        self._softirq: dict[int, tuple[float, bool]] = {}
        self._burst: set[int] = set()  # processes whose call a softirq is running in
        # process -> (instant, port) of a client's close() after the server's FIN (LAST_ACK),
        # until the FIN's retransmission timer it arms next (`fin_timers`)
        self._closing: dict[int, tuple[float, int]] = {}
        # CPU -> (instant, client port) of the last server FIN a client took there, until
        # the delayed ACK it arms; then timer -> client port until that timer fires
        self._fin_at: dict[int, tuple[float, int]] = {}
        self._fin_timers: dict[str, int] = {}
        # CPU -> (instant, client port) of a FIN's delayed ACK that just fired there, until
        # that softirq queues a packet on the client's end of the veth (the ACK) or the CPU
        # does something else
        self._fin_fired: dict[int, tuple[float, int]] = {}
        # client port -> (instant, server pid) of its server socket's FIN_WAIT2 in the
        # server's close(), until that socket closes
        self._in_close: dict[int, tuple[float, int]] = {}
        # CPU -> (skb, device, instant, in an interrupt) of the last packet queued on the
        # veth there; then
        # skb -> (resend instant, client port) of a resend until the other end takes it in
        self._queued_on: dict[int, tuple[str, str, float, bool]] = {}
        self._resent_skbs: dict[str, tuple[float, int]] = {}
        # (in an interrupt, its CPU; else False and its process) -> (instant, port) of a
        # client established there, until the ACK it sends next; then skb -> (that instant,
        # port, when it was queued) until the server takes the ACK in
        self._acking: dict[tuple[bool, int], tuple[float, int]] = {}
        self._ack_skbs: dict[str, tuple[float, int, float]] = {}
        self.run: TracedRun | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> KernelTrace:
        from ..host.tracefs import available

        if available() is None:
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
            self._ready.wait(10.0)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30.0)

    def _read(self) -> None:
        from ..host.tracefs import trace_session

        run = TracedRun()
        if self._cpus:
            # off the CPU the agents share: parsing thousands of lines a second there
            # started connects late (slow-accept: 33 more than 5 ms late against 3 untraced)
            os.sched_setaffinity(0, self._cpus)  # this thread only
        self.ran_on = sorted(os.sched_getaffinity(0))
        try:
            with trace_session(self._events, clock="mono", filters=self._filters,
                               buffer_kb=BUFFER_KB) as session:
                self._ready.set()
                draining = False
                for _ in range(1_000_000):  # 0.5 s rounds: about 6 days at most
                    for line in session.lines(0.5):
                        if line:
                            self.take(run, line)
                    if draining:
                        break
                    draining = self._stop.is_set()  # one more round reads what is left
                run.lost = session.lost()
            self.run = run
        except (OSError, RuntimeError):
            pass  # not traced: `run` stays None and the comparison has no traced rows
        finally:
            self._ready.set()

    def take(self, run: TracedRun, line: str) -> None:
        """Add one trace_pipe line to `run` (other events, other hosts and instants outside
        the window are left out)."""
        if "timer_start: " in line:
            self._timer_start(run, line)
            return
        if "timer_expire_entry: " in line:
            m = _TIMER_EXPIRE.match(line)
            if m is None:
                return
            port = self._fin_timers.pop(m.group("timer"), None)
            cpu = int(m.group("cpu"))
            self._fin_fired.pop(cpu, None)  # (another delayed ACK's packet would come next)
            if port is not None:
                run.fin_acks.append((float(m.group("ts")), port))
                self._fin_fired[cpu] = (float(m.group("ts")), port)
            return
        if "sys_accept4" in line:
            self._accept4(run, line)
            return
        if "kmem_cache_" in line:
            m = _KMEM.match(line)
            if m is not None and not _in_irq(m.group("flags")) \
                    and int(m.group("pid")) in self._in_accept:
                into = self._freed if m.group("op") == "free" else self._filed
                into[int(m.group("pid"))] = float(m.group("ts"))
                self._burst.discard(int(m.group("pid")))  # the call's own work: a softirq over
            return
        if "net_dev_queue: " in line or "netif_receive_skb: " in line:
            self._dev_event(run, line)
            return
        ev = parse_trace_line(line)
        if ev is not None and ev.pid in self._in_accept:
            self._in_softirq(ev.pid, ev.ts, _in_irq(ev.flags), False)
        if ev is None or not self._window[0] <= ev.ts <= self._window[1]:
            return
        f = ev.fields
        if ev.name == "kfree_skb":
            site = str(f.get("location", "")).partition("+")[0]
            if f.get("protocol") == ETH_P_IP and tcp_drop_site(site):
                run.drops[str(f["reason"])] += 1
                run.drop_sites[str(f["reason"]), site] += 1
                first = run.first_drops.setdefault(str(f["reason"]), [])
                if len(first) < FIRST_DROPS:
                    first.append(round(ev.ts - self._window[0], 4))
            else:
                run.other_drops += 1
        elif ev.name == "tcp_retransmit_synack":
            if f.get("daddr") == self._client and f.get("sport") == self._port:
                run.synacks.append((ev.ts, int(f["dport"])))
                run.resent_on.append((ev.ts, ev.cpu))
                self._resent(ev.cpu, VETH_SERVER, ev.ts, int(f["dport"]))
        elif ev.name == "tcp_send_reset":
            ends = (str(f.get("saddr", "")), str(f.get("daddr", "")))
            if not any(e.startswith(OUR_NET) for e in ends):
                run.foreign_resets += 1
            else:
                if len(run.resets) < FIRST_DROPS:
                    run.resets.append((round(ev.ts - self._window[0], 4), *ends,
                                       str(f.get("state", "")), str(f.get("reason", ""))))
                if self.late_teardown(run, ends, str(f.get("reason", ""))):
                    run.after_close += 1
        elif ev.name == "tcp_retransmit_skb":
            if (f.get("saddr") == self._client and f.get("dport") == self._port
                    and f.get("state") == TCP_SYN_SENT):
                run.syns.append((ev.ts, int(f["sport"])))
                run.resent_on.append((ev.ts, ev.cpu))
                self._resent(ev.cpu, VETH_CLIENT, ev.ts, int(f["sport"]))
        elif ev.name == "inet_sock_set_state":
            new = f.get("newstate")
            if f.get("saddr") == self._client and f.get("dport") == self._port:
                if new == TCP_SYN_SENT:  # a client's connect(), in its process
                    self._awaiting[ev.pid] = len(run.connects)
                    self._closing.pop(ev.pid, None)
                    run.connects.append(ev.ts)
                elif new == TCP_ESTABLISHED:  # the client's socket left SYN_SENT
                    run.established.append((ev.ts, int(f["sport"])))
                    self._acking[_context(ev.flags, ev.cpu, ev.pid)] = (ev.ts, int(f["sport"]))
                    run.closed_ports.discard(int(f["sport"]))
                elif new == TCP_LAST_ACK:  # the client closed after the server's FIN
                    self._closing[ev.pid] = (ev.ts, int(f["sport"]))
                    run.client_closes.append((ev.ts, int(f["sport"])))
                    run.closed_ports.add(int(f["sport"]))
                elif new == TCP_CLOSE_WAIT:  # the server's FIN reached the client
                    run.client_fins.append((ev.ts, int(f["sport"])))
                    self._fin_at[ev.cpu] = (ev.ts, int(f["sport"]))
            elif f.get("daddr") == self._client and f.get("sport") == self._port:
                if new == TCP_FIN_WAIT1:  # the server closed a connection
                    run.server_fins.append((ev.ts, int(f["dport"])))
                elif new == TCP_FIN_WAIT2 and not _in_irq(ev.flags) and ev.pid in run.accepts:
                    # (in the server agent's process; a relay's process writes what it
                    # relays, so a packet it hands over is taken in there too)
                    run.acks_in_close += 1
                    self._in_close[int(f["dport"])] = (ev.ts, ev.pid)
                elif new == TCP_CLOSE:  # the full socket gave way to a timewait sock
                    taken = self._in_close.pop(int(f["dport"]), None)
                    if taken is not None and not (
                            ev.pid == taken[1] and not _in_irq(ev.flags)
                            and ev.ts - taken[0] <= CLOSE_CHECK_S) \
                            and len(run.acks_in_release) < MAX_QUEUED:
                        run.acks_in_release.append((taken[0], int(f["dport"])))

    def _dev_event(self, run: TracedRun, line: str) -> None:
        """A packet queued on a device, or taken in from one. On a relay's device, the
        instant and length of each either way (`dev_queue`, `dev_rx`: kernel.link_lags). On
        the veth, a packet queued is the CPU's last (which a resend traced next on that CPU
        sent), a connect()'s SYN if its process queued nothing since its SYN_SENT
        (`syn_queued`), or the ACK of a client established in that context (`_acking`); one
        the other end took in is followed if it was a resend's (`resent_rx`) or such an ACK
        (`ack_rx`)."""
        m = _DEV_EVENT.match(line)
        if m is None:
            return
        dev, ts = m.group("dev"), float(m.group("ts"))
        skb, cpu = m.group("skb"), int(m.group("cpu"))
        if int(m.group("pid")) in self._in_accept:
            self._in_softirq(int(m.group("pid")), ts, _in_irq(m.group("flags")),
                             m.group("ev") == "netif_receive_skb")
        if m.group("ev") == "netif_receive_skb":
            if dev.startswith(RELAY_DEVICES):
                taken = run.dev_rx.setdefault(dev, [])
                if len(taken) < MAX_QUEUED:
                    taken.append((ts, int(m.group("len"))))
                return
            resend = self._resent_skbs.pop(skb, None)
            if resend is not None and len(run.resent_rx) < MAX_QUEUED:
                run.resent_rx[resend] = ts
            ack = self._ack_skbs.pop(skb, None)
            if ack is not None and len(run.ack_rx) < MAX_QUEUED:
                run.ack_rx[ack[0], ack[1]] = (ack[2], ts)
            return
        irq = _in_irq(m.group("flags"))
        clients_dev = dev == VETH_CLIENT or dev.startswith(RELAY_CLIENT)
        run.client_dev_followed |= clients_dev
        fired = self._fin_fired.pop(cpu, None)
        if (fired is not None and irq and clients_dev
                and ts - fired[0] <= FIN_ACK_SENT_S and len(run.fin_acks_alone) < MAX_QUEUED):
            run.fin_acks_alone.append(fired)  # tcp_delack_timer_handler: tcp_send_ack
        if dev in (VETH_SERVER, VETH_CLIENT):
            self._queued_on[cpu] = (skb, dev, ts, irq)
            k = self._awaiting.get(int(m.group("pid"))) if dev == VETH_CLIENT and not irq else None
            if k is not None and k not in run.syn_queued:
                run.syn_queued[k] = ts  # the first packet a connect() queues: its SYN
            est = (self._acking.pop(_context(m.group("flags"), cpu, int(m.group("pid"))), None)
                   if dev == VETH_CLIENT else None)
            if est is not None and 0.0 <= ts - est[0] <= ACK_QUEUED_S:
                self._ack_skbs[skb] = (*est, ts)  # the ACK it sent as it was established
        else:
            queued = run.dev_queue.setdefault(dev, [])
            if len(queued) < MAX_QUEUED:
                queued.append((ts, int(m.group("len"))))
            k = (self._awaiting.get(int(m.group("pid")))
                 if clients_dev and not irq else None)
            if k is not None and k not in run.syn_queued:
                run.syn_queued[k] = ts  # (the same on the relay's client device)

    def _resent(self, cpu: int, dev: str, ts: float, port: int) -> None:
        """A SYN or SYN-ACK resent on `cpu` at `ts`: the packet queued there just before, on
        the sender's end of the veth (`dev`), is its, followed until the other end has it."""
        last = self._queued_on.pop(cpu, None)
        if (last is not None and last[1] == dev and last[3]
                and 0.0 <= ts - last[2] <= RESEND_QUEUED_S):
            self._resent_skbs[last[0]] = (ts, port)
            self._ack_skbs.pop(last[0], None)  # (a resend's, whatever was taken for it)

    def _timer_start(self, run: TracedRun, line: str) -> None:
        """A tcp_write_timer armed: in a process (not an interrupt) that has a connect()
        waiting for it, that connect's SYN retransmission timer (tcp_connect); in one whose
        client just closed after the server's FIN, its FIN's (`fin_timers`). A
        tcp_delack_timer armed on the CPU where a client just took the server's FIN, within
        FIN_ACK_MAX_S: the delayed ACK of that FIN (tcp_fin, then __tcp_ack_snd_check in
        the same softirq), followed until it fires."""
        m = _TIMER_START.match(line)
        if m is None:
            return
        if m.group("fn") == "tcp_delack_timer":
            fin = self._fin_at.pop(int(m.group("cpu")), None)
            if fin is not None and float(m.group("ts")) - fin[0] < FIN_ACK_MAX_S:
                self._fin_timers[m.group("timer")] = fin[1]
                if len(run.fin_armed) < MAX_QUEUED:
                    run.fin_armed.append((float(m.group("ts")), fin[1]))
            return
        if _in_irq(m.group("flags")):
            return
        closing = self._closing.pop(int(m.group("pid")), None)
        if closing is not None:
            if (float(m.group("ts")) - closing[0] <= FIN_TIMER_MAX_S
                    and len(run.fin_timers) < MAX_QUEUED):
                run.fin_timers.append((float(m.group("ts")), closing[1]))
            return
        if not self._awaiting:
            return
        k = self._awaiting.pop(int(m.group("pid")), None)
        ts = float(m.group("ts"))
        # (a connect() that failed after SYN_SENT arms none: what that process arms next,
        # a FIN's timer in a close(), comes later than any SYN's, at most 0.2 ms here)
        if k is not None and ts - run.connects[k] < SYN_OUT_MAX_S:
            run.syn_out[k] = (ts, int(m.group("expires")) - int(m.group("timeout")))

    def _accept4(self, run: TracedRun, line: str) -> None:
        """An accept4() entered (every one), or left with a connection (filtered in the
        kernel to ret >= 0): the entry's instant and CPU, kept with the return's for the
        calls that returned one."""
        m = _ACCEPT4.match(line)
        if m is None:
            return
        pid, ts = int(m.group("pid")), float(m.group("ts"))
        if m.group("exit") is None:
            self._in_accept[pid] = (ts, int(m.group("cpu")))
            self._filed.pop(pid, None)
            self._freed.pop(pid, None)
            self._softirq.pop(pid, None)
            self._burst.discard(pid)
            return
        entry = self._in_accept.pop(pid, None)
        self._burst.discard(pid)
        dequeued = None if entry is None else dequeue(
            entry[0], self._filed.pop(pid, None), self._freed.pop(pid, None),
            self._softirq.pop(pid, None))
        if entry is not None and self._window[0] <= entry[0] <= self._window[1]:
            accepts = run.accepts.setdefault(pid, [])
            if len(accepts) < MAX_QUEUED:
                accepts.append((entry[0], ts, entry[1], dequeued))

    def _in_softirq(self, pid: int, ts: float, irq: bool, rx: bool) -> None:
        """A packet event in process `pid`'s accept4() call, before the call freed its
        request: in a softirq (`irq`), the last one is kept, with whether that softirq's
        first was a packet taken in (`rx`); outside one, the call's own, which ends it."""
        if pid in self._freed:
            return
        if not irq:
            self._burst.discard(pid)
            return
        if pid in self._burst:
            began_rx = self._softirq[pid][1]
        else:
            self._burst.add(pid)
            began_rx = rx
        self._softirq[pid] = (ts, began_rx)

    def late_teardown(self, run: TracedRun, ends: tuple[str, str], reason: str) -> bool:
        """Whether a RST the client's host sent for want of a socket (NO_SOCKET) answers a
        segment of the server's for a connection the client had closed already. Seen on
        this 2-CPU machine: the client's delayed ACK of the server's FIN (sent in softirq on
        one CPU) and the FIN its close() sent right after (on the other) reach the server in
        the other order; the server's TIME_WAIT socket answers the late ACK (an old
        duplicate, or a PAWS failure: TCP_RFC7323_TW_PAWS) with an ACK of its own after the
        client's socket is gone, and that ACK is freed as NO_SOCKET. A simulated link keeps
        one host's segments in order, so the simulation has none of these."""
        src, _, sport = ends[0].rpartition(":")
        dport = ends[1].rpartition(":")[2]
        return (reason == "NO_SOCKET" and src == self._client_str and dport == str(self._port)
                and sport.isdigit() and int(sport) in run.closed_ports)


def dequeue(entered: float, filed: float | None, freed: float | None,
            softirq: tuple[float, bool] | None) -> float | None:
    """When an accept4() entered at `entered` took its connection off the queue (None: the
    trace saw no free of its request). inet_csk_accept frees the request (reqsk_put) right
    after release_sock, which follows the dequeue: 5 us after the entry as a rule, 2 us after
    the new socket's file (`filed`: do_accept's sock_alloc_file, just before the protocol's
    accept) at the median, 5 us at the 99th percentile. A tick's softirq that ran inside the
    call (`softirq`: the last packet event in that process before the free, and whether
    that softirq began by taking a packet in) came before the dequeue where the call still
    had work to do after it (a slow-accept run: the softirq ended 10 us before the free,
    its resent SYN had met the queue full, and the replay agreed on every client from the
    free, 1,998 from the file), and after it where the free came at once (within
    RELEASE_GAP_S): the softirq ran as release_sock enabled bottom halves again, after the
    dequeue, and the packets it took in found the places the dequeue had freed (a run whose
    softirq answered six resent SYNs so, 0 us before the free: 1,939 of 2,000 clients agreed
    from the free). Then the dequeue is the file's instant, else the entry's, whatever
    other softirq came before the file. Not so a NET_RX softirq (its
    first event a packet taken in): one raised by the call's earlier softirq (a tick's
    resends, queued on the veth) and left pending runs as soon as bottom halves are enabled
    again, in lock_sock, before the dequeue, and its packets meet the queue not yet
    dequeued (tcp_check_req does not wait for the listener's owner): a slow-accept run
    whose tick's softirq resent two SYN-ACKs before the file and whose NET_RX took the
    answers in right after it, ending 1 us before the free, agreed on 1,994 of 2,000
    clients from the file, all from the free. A fresh timer softirq begins by sending."""
    if freed is None:
        return None
    if softirq is not None and not softirq[1] and 0.0 <= freed - softirq[0] <= RELEASE_GAP_S:
        return entered if filed is None else filed
    return freed


def _context(flags: str, cpu: int, pid: int) -> tuple[bool, int]:
    """Where a traced event ran, as far as packets queued there keep their order: a hard or
    soft interrupt on its CPU, or a process (True and the CPU, or False and the pid)."""
    irq = _in_irq(flags)
    return irq, cpu if irq else pid


def _in_irq(flags: str) -> bool:
    """Whether a trace line's context column says a hard or soft interrupt ("b.s2.")."""
    return len(flags) > 2 and flags[2] in "hsH"


def owners(clients: list[ClientResult]) -> dict[int, list[ClientResult]]:
    """Clients by local port, each port's in start order (a closed client's port comes back:
    the client closes second, so it keeps no TIME_WAIT)."""
    by_port: dict[int, list[ClientResult]] = {}
    for c in sorted(clients, key=lambda c: c.start):
        if c.port:
            by_port.setdefault(c.port, []).append(c)
    return by_port


def owner_at(by_port: dict[int, list[ClientResult]], port: int,
             t: float) -> ClientResult | None:
    """The client that had `port` at instant `t`: the last to take it before then."""
    found = None
    for c in by_port.get(port, []):
        if c.start > t:
            break
        found = c
    return found


def _seen_at(by_port: dict[int, list[ClientResult]], events: list[tuple[float, int]],
             t0: float, seen: set[int]) -> Iterator[tuple[ClientResult, float]]:
    """The established client (in `seen`) each (instant, client port) event names, in time
    order, with the instant on the run's clock."""
    for ts, port in sorted(events):
        c = owner_at(by_port, port, ts - t0)
        if c is not None and c.index in seen:
            yield c, ts - t0


def apply_trace(clients: list[ClientResult], run: TracedRun, t0: float) -> None:
    """Each client's facts from the kernel's own instants (t0: the run's origin on
    CLOCK_MONOTONIC): the SYN-ACKs resent to it, accepted or not, when each of them and each
    of its own resent SYNs left, the instant its socket became established (an agent's
    poll() wake-up comes later), when the server's FIN for it left and when it closed in
    answer (and armed its FIN's timer); and, where every client's connect() was traced (the
    agent makes them in index order), when its SYN went out."""
    by_port = owners(clients)
    for c in clients:
        c.synack_retrans = 0
        c.traced = ClientTrace()
    if len(run.connects) == len(clients):
        for k, c in enumerate(clients):
            out = run.syn_out.get(k)
            if out is not None:
                _traced(c).syn_out_at = run.syn_queued.get(k, out[0]) - t0
    for ts, port in sorted(run.synacks):
        to = owner_at(by_port, port, ts - t0)
        if to is not None:
            to.synack_retrans += 1
            _traced(to).synack_resent_at.append(ts - t0)
            _traced(to).synack_resent_rx.append(_rx(run.resent_rx, ts, port, t0))
    for ts, port in sorted(run.syns):
        by = owner_at(by_port, port, ts - t0)
        if by is not None:
            _traced(by).syn_resent_at.append(ts - t0)
            _traced(by).syn_resent_rx.append(_rx(run.resent_rx, ts, port, t0))
    seen: set[int] = set()
    for ts, port in sorted(run.established):
        who = owner_at(by_port, port, ts - t0)
        if who is not None and who.index not in seen and not who.error:
            seen.add(who.index)
            who.established = ts - t0
            ack = run.ack_rx.get((ts, port))
            _traced(who).ack_rx = None if ack is None else (ack[0] - t0, ack[1] - t0)
    for ts, port in sorted(run.server_fins):
        srv = owner_at(by_port, port, ts - t0)
        if srv is not None and _traced(srv).served_until is None:
            _traced(srv).served_until = ts - t0
    for c, at in _seen_at(by_port, run.client_fins, t0, seen):
        if _traced(c).fin_seen is None:
            _traced(c).fin_seen = at
    for c, at in _seen_at(by_port, run.fin_acks, t0, seen):
        if _traced(c).fin_ack_at is None:
            _traced(c).fin_ack_at = at
    for c, at in _seen_at(by_port, run.fin_armed, t0, seen):
        if _traced(c).fin_ack_armed is None:
            _traced(c).fin_ack_armed = at
    for c, _ in _seen_at(by_port, run.acks_in_release, t0, seen):
        _traced(c).ack_in_release = True
    if run.client_dev_followed:
        for c in clients:
            if c.traced is not None and c.traced.fin_ack_armed is not None:
                c.traced.fin_ack_alone = False
    for c, _ in _seen_at(by_port, run.fin_acks_alone, t0, seen):
        _traced(c).fin_ack_alone = True
    for c, at in _seen_at(by_port, run.client_closes, t0, seen):
        c.closed = at
    for c, at in _seen_at(by_port, run.fin_timers, t0, seen):
        if c.closed is not None and _traced(c).fin_timer_at is None:
            _traced(c).fin_timer_at = at


def traced_uptime0(uptime0: float, run: TracedRun, t0: float) -> float:
    """`uptime0` (kernel.uptime_for, from /proc/timer_list) moved by whole jiffies to agree
    with the jiffies the kernel itself recorded as the clients' SYN timers were armed (the
    most common difference: an instant within microseconds after a tick may still read the
    jiffy before). /proc/timer_list prints the clock first and jiffies after it, and a tick
    in between put a run a jiffy ahead (burst: every SYN timer a bucket late in the
    replay, 30 of 40 clients agreeing, 40 once moved)."""
    if not run.syn_out:
        return uptime0
    clock = Clock(uptime0, 0)
    moves = Counter(j - clock.jiffies(ts - t0) for ts, j in run.syn_out.values())
    return uptime0 + moves.most_common(1)[0][0] / HZ


def _rx(rxs: dict[tuple[float, int], float], ts: float, port: int,
        t0: float) -> float | None:
    """When the veth's other end took in the packet sent at `ts` to or from `port` (None:
    not followed, as over the relay)."""
    rx = rxs.get((ts, port))
    return None if rx is None else rx - t0


def _traced(c: ClientResult) -> ClientTrace:
    assert c.traced is not None  # apply_trace gave every client one first
    return c.traced
