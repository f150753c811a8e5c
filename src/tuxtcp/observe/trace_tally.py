"""Drops and retransmissions by reason and by listener, from the kernel's tracepoints
(skb:kfree_skb, tcp:tcp_retransmit_synack, tcp:tcp_send_reset, sock:inet_sock_set_state) as
trace_pipe prints them (host/tracefs.py) or as a tuxtcp namespace emits them (net/trace.py
events): what `tuxtcp trace` prints and what `tuxtcp doctor` and the exporter count.

Attribution to a listener, as the kernel lets it be made:
- kfree_skb's rx_sk is the socket the segment reached, and it is hashed like the socket
  column of /proc/net/tcp (checked on 6.18: a listener's pointer there equals rx_sk and
  tcp_send_reset's skaddr), so a map {pointer: listener} read from /proc/net/tcp names it.
  A final ACK that finds the accept queue full is dropped with TCP_LISTEN_OVERFLOW at its
  listener this way.
- tcp_retransmit_synack prints the request's local address and port (its skaddr, the
  listener, is recorded but not printed): the listener bound there, or to 0.0.0.0 there.
- inet_sock_set_state LISTEN -> SYN_RECV is a child socket made by the listener at its
  sport (inet_csk_clone_lock: the handshake completed; request socks have no such event).
- A SYN refused because the accept or SYN queue is full is *consumed*, not dropped
  (tcp_conn_request's drop path returns 0 and tcp_rcv_state_process calls consume_skb):
  no tracepoint names its listener, and consume_skb carries no socket. Such SYNs show only in
  ListenOverflows/ListenDrops (TcpExt), which tuxtcp doctor attributes to the listener whose
  queue it saw full.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Final

from ..net.trace import TraceEvent
from .proc_tcp import proc_addr
from .records import ip_text

LISTEN_STATE: Final = 10
SYN_RECV_STATE: Final = 3
ListenerKey = tuple[int, int]  # (local address, host order; port)


class ListenerStats:
    """What happened at one listener while tracing."""

    __slots__ = ("handshakes", "synack_retrans", "resets", "drops")

    def __init__(self) -> None:
        self.handshakes = 0  # children made (LISTEN -> SYN_RECV)
        self.synack_retrans = 0
        self.resets = 0  # tcp_send_reset with the listener as skaddr
        self.drops: Counter[str] = Counter()  # kfree_skb reason -> count

    def as_dict(self) -> dict[str, object]:
        return {"handshakes": self.handshakes, "synack_retrans": self.synack_retrans,
                "resets": self.resets, "drops": dict(self.drops)}


class TraceTally:
    """Counts events; `listeners()` gives {hashed pointer: (address, port)} of the listeners
    in view (called again, at most once a second of event time, when a pointer is unknown)."""

    def __init__(self, listeners: Callable[[], dict[int, ListenerKey]]) -> None:
        self._listeners = listeners
        self.by_ptr = listeners()
        self._refreshed = -1.0
        self.drops: Counter[str] = Counter()  # every kfree_skb of IPv4, by reason
        self.per_listener: dict[ListenerKey, ListenerStats] = {}
        self.events = 0

    def _stats(self, key: ListenerKey) -> ListenerStats:
        st = self.per_listener.get(key)
        if st is None:
            st = self.per_listener[key] = ListenerStats()
        return st

    def _refresh(self, ts: float) -> bool:
        """Read the listeners again (a new one may have come), at most once a second."""
        if ts - self._refreshed < 1.0 and self._refreshed >= 0:
            return False
        self._refreshed = ts
        self.by_ptr = self._listeners()
        return True

    def _by_ptr(self, ptr: int, ts: float) -> ListenerKey | None:
        if not ptr:
            return None
        key = self.by_ptr.get(ptr)
        if key is None and self._refresh(ts):
            key = self.by_ptr.get(ptr)
        return key

    def _by_port(self, addr: int, port: int, ts: float) -> ListenerKey | None:
        key = self._find_port(addr, port)
        if key is None and self._refresh(ts):
            key = self._find_port(addr, port)
        return key

    def _find_port(self, addr: int, port: int) -> ListenerKey | None:
        exact = wild = None
        for a, p in self.by_ptr.values():
            if p == port:
                if a == addr:
                    exact = (a, p)
                elif a == 0:
                    wild = (a, p)
        return exact or wild

    def add(self, ev: TraceEvent) -> str | None:
        """Count one event; return a line describing it when it concerns a listener or is a
        drop, else None."""
        f = ev.fields
        name = ev.name
        if name == "kfree_skb":
            if f.get("protocol") != 0x0800:
                return None
            self.events += 1
            reason = str(f["reason"])
            self.drops[reason] += 1
            key = self._by_ptr(int(f.get("rx_sk", 0)), ev.ts)
            if key is None:
                return f"{ev.ts:.6f} drop {reason}"
            self._stats(key).drops[reason] += 1
            return f"{ev.ts:.6f} drop {reason} at listener {_name(key)}"
        if name == "tcp_retransmit_synack":
            key = self._by_port(int(f["saddr"]), int(f["sport"]), ev.ts)
            if key is None:
                return None
            self.events += 1
            self._stats(key).synack_retrans += 1
            return (f"{ev.ts:.6f} SYN-ACK retransmitted by listener {_name(key)} to "
                    f"{ip_text(int(f['daddr']))}:{f['dport']}")
        if name == "tcp_send_reset":
            key = self._by_ptr(int(f.get("skaddr", 0)), ev.ts)
            if key is None:
                return None
            self.events += 1
            self._stats(key).resets += 1
            return f"{ev.ts:.6f} RST sent by listener {_name(key)} ({f.get('reason')})"
        if name == "inet_sock_set_state":
            if f.get("oldstate") == LISTEN_STATE and f.get("newstate") == SYN_RECV_STATE:
                key = self._by_port(int(f["saddr"]), int(f["sport"]), ev.ts)
                if key is not None:
                    self.events += 1
                    self._stats(key).handshakes += 1
            return None
        return None

    def __call__(self, ev: TraceEvent) -> None:
        """A tracepoint subscriber: count the event."""
        self.add(ev)

    def as_dict(self) -> dict[str, object]:
        return {"drops": dict(self.drops),
                "listeners": [{"address": ip_text(a), "port": p, **st.as_dict()}
                              for (a, p), st in sorted(self.per_listener.items())]}

    def summary(self) -> str:
        """Drops by reason, then one line per listener."""
        lines = ["drops by reason (skb:kfree_skb, IPv4):"]
        if not self.drops:
            lines.append("  none")
        for reason, n in self.drops.most_common():
            lines.append(f"  {reason:<28} {n}")
        lines.append("per listener:")
        if not self.per_listener:
            lines.append("  no listener events")
        for key, st in sorted(self.per_listener.items()):
            drops = ", ".join(f"{r} {n}" for r, n in st.drops.most_common()) or "none"
            lines.append(f"  {_name(key):<21} handshakes {st.handshakes}, SYN-ACK retransmits "
                         f"{st.synack_retrans}, resets {st.resets}, drops: {drops}")
        return "\n".join(lines) + "\n"


def _name(key: ListenerKey) -> str:
    return f"{ip_text(key[0])}:{key[1]}"


def listeners_from_proc(text: str) -> dict[int, ListenerKey]:
    """/proc/net/tcp -> {socket pointer: (address, port)} of its LISTEN sockets."""
    out: dict[int, ListenerKey] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 12 or parts[3] != "0A":
            continue
        out[int(parts[11], 16)] = proc_addr(parts[1])
    return out
