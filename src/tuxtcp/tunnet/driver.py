"""The engine on a real wire: one tuxtcp namespace behind a TUN device, in real time.

`TunDriver` is the sockets' Driver (socket/api.py) for a namespace whose packets cross a TUN
device: datagrams the kernel routes into the device go through the engine's checked receive
path (`Namespace.receive_bytes`: malformed input is counted and dropped, never raised), what
the engine sends is written back into the device, and timers fire at their deadlines on the
monotonic clock. Everything runs on the calling thread: a blocking socket call, or a
selector's select(), pumps the device and the timers until what it waits for is ready or its
timeout passes. The engine is the one the simulation runs; only the clock and the wire differ.
"""

from __future__ import annotations

import secrets
import select
import time
from collections.abc import Callable
from typing import Any, Final

from ..link.tun import Tun
from ..net.tcp_states import LISTEN
from ..socket.api import Socket
from ..socket.selector import SimSelector
from ..tcp.engine import Namespace
from ..tcp.sock import TcpSock
from ..wire.ipv4 import Packet, ip_to_int
from ..wire.pcap import PcapTap
from ..wire.tcp import CWR
from .offload import complete_checksum

# the most datagrams taken from the device before timers and sends get a turn
READ_BATCH: Final = 64
# a blocking call without a timeout still comes up for air this often (it loops on)
MAX_SLEEP: Final = 1.0


class TunDriver:
    """A namespace on a TUN device, driven in real time on the calling thread."""

    def __init__(self, tun: Tun, addresses: list[str], name: str = "tuxtcp",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tun = tun
        self._clock = clock
        self._t0 = clock()
        # a real peer sees our ISNs and cookies: the secrets come from the OS, not a seed
        self.ns = Namespace(name, addresses, seed=secrets.randbits(64))
        self.ns.tso = tun.vnet  # a device with offloads takes TSO packets whole
        self._next_fd = 1000
        self.received = 0  # datagrams read from the device
        self.sent = 0  # datagrams written to it
        self.tap: PcapTap | None = None  # records both directions when set (--pcap)
        # called after every engine call a socket made (an event loop reschedules its timer)
        self.on_kick: Callable[[], None] | None = None

    # -- Driver protocol for sockets -----------------------------------------------------------
    def now(self) -> float:
        return self._clock() - self._t0

    def alloc_fd(self) -> int:
        self._next_fd += 1
        return self._next_fd

    def resolve(self, name: str) -> int | None:
        try:
            return ip_to_int(name)
        except (ValueError, OSError):
            return None

    def kick(self, ns: Namespace) -> None:
        """After an engine call: what it queued goes out on the device."""
        self._flush()
        if self.on_kick is not None:
            self.on_kick()

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Pump the device and the timers until ready() or `timeout` seconds pass."""
        end = None if timeout is None else self.now() + timeout
        while True:
            self._flush()
            if ready():
                return True
            now = self.now()
            if end is not None and now >= end:
                return False
            self.poll(MAX_SLEEP if end is None else end - now)

    # -- the loop ------------------------------------------------------------------------------
    def poll(self, max_wait: float) -> int:
        """One turn: wait for the device (no longer than `max_wait` or the next timer), feed
        what arrived to the engine, fire due timers, send what the engine queued. Returns how
        many datagrams arrived."""
        ns = self.ns
        now = self.now()
        deadline = ns.next_deadline()
        wait = max_wait if deadline is None else min(max_wait, deadline - now)
        got = 0
        if wait > 0:
            r, _, _ = select.select([self.tun.fd], [], [], wait)
            if not r:
                self._timers()
                return 0
        tun = self.tun
        if tun.vnet:
            for _ in range(READ_BATCH):
                frame = tun.read_frame()
                if frame is None:
                    break
                raw, trusted, gso_size = frame
                got += 1
                now = self.now()
                if self.tap is not None:
                    self.tap.write(now, complete_checksum(raw) if trusted else raw)
                ns.receive_bytes(raw, now, trusted, gso_size)
        else:
            for _ in range(READ_BATCH):
                plain = tun.read(0)
                if plain is None:
                    break
                got += 1
                now = self.now()
                if self.tap is not None:
                    self.tap.write(now, plain)
                ns.receive_bytes(plain, now)
        self.received += got
        self._timers()
        return got

    def _timers(self) -> None:
        ns = self.ns
        now = self.now()
        deadline = ns.next_deadline()
        if deadline is not None and deadline <= now:
            ns.run_timers(now)
        self._flush()

    def _flush(self) -> None:
        out = self.ns.outbox
        if not out:
            return
        if self.tun.vnet:
            self._flush_offload(out)
            return
        tap = self.tap
        for pkt in out:  # segments: the namespace cut TSO packets (software GSO)
            raw = pkt.to_bytes()
            if tap is not None:
                tap.write(self.now(), raw)
            self.tun.write(raw)
            self.sent += 1
        out.clear()

    def _flush_offload(self, out: list[Packet]) -> None:
        """With offloads: each packet goes as built, TSO packets whole (the kernel's GSO
        cuts them only if it forwards them), TCP checksums left to the device."""
        tun = self.tun
        tap = self.tap
        for pkt in out:
            seg = pkt.seg
            gso = seg.gso_size if len(seg.payload) > seg.gso_size else 0
            raw = pkt.to_bytes(partial=True)
            if tap is not None:
                tap.write(self.now(), complete_checksum(raw))
            tun.write_offload(raw, 20, 20 + seg.header_len(), gso, bool(seg.flags & CWR))
            self.sent += 1
        out.clear()

    # -- conveniences --------------------------------------------------------------------------
    def socket(self, *args: Any, **kwargs: Any) -> Socket:
        """A socket on this namespace (the socket module's signature)."""
        return Socket(self.ns, self, *args, **kwargs)

    def selector(self) -> SimSelector:
        """A selectors.BaseSelector over this namespace's sockets; select() pumps the wire."""
        return SimSelector(self)

    def listeners(self) -> list[tuple[int, int, int]]:
        """(port, accept queue length, backlog) of each listening socket."""
        return [(sk.lport, len(sk.lq.accept_queue), sk.backlog) for sk in self.ns.sockets
                if isinstance(sk, TcpSock) and sk.state == LISTEN and sk.lq is not None]

    def close(self) -> None:
        self.tun.close()

