"""The sans-IO engine's entry points on one namespace: a packet arrives (ip_rcv ->
ip_local_deliver -> tcp_v4_rcv), raw bytes arrive from a real wire (the checked parse first),
timers are due. `Namespace` is a namespace's state (net/namespace.py) with these entry points;
drivers (the simulated World, a TUN device, a test harness) call them with `now` and drain
`outbox`.
"""

from __future__ import annotations

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..wire.errors import ParseError
from ..wire.icmp import IPPROTO_ICMP, parse_icmp
from ..wire.ipv4 import Packet, parse_ipv4, parse_packet
from .demux import drop, tcp_v4_rcv
from .icmp import icmp_rcv
from .timer import run_timers


class Namespace(NetNamespace):
    """One network namespace with the engine's entry points."""

    def deliver(self, pkt: Packet, now: float) -> None:
        """A parsed IPv4 datagram arrives (ip_rcv -> ip_local_deliver -> tcp_v4_rcv)."""
        ip = self.mib.ip
        ip.InReceives += 1
        if not self.is_local(pkt.dst):
            ip.InAddrErrors += 1  # not forwarding: ip_rcv_finish -> ip_error
            drop(self, pkt, dr.IP_INADDRERRORS, now)
            return
        ip.InDelivers += 1
        self.mib.tcp.InSegs += 1
        tcp_v4_rcv(self, pkt, now)

    def receive_bytes(self, data: bytes, now: float, csum_valid: bool = False,
                      gso_size: int = 0) -> None:
        """Raw IPv4 bytes from a real wire: the checked parse, then deliver() (ICMP: icmp_rcv,
        which hands errors about our segments to tcp_v4_err). From a device with offloads:
        `csum_valid`, the device vouches for the TCP checksum (CHECKSUM_PARTIAL or
        _UNNECESSARY: not verified again); `gso_size`, a super-segment of segments that
        large, taken as one skb as after GRO (one InReceives, one InSegs)."""
        if len(data) > 9 and data[9] == IPPROTO_ICMP:
            self._receive_icmp(data, now)
            return
        try:
            pkt = parse_packet(data, not csum_valid, gso_size)
        except ParseError as exc:
            self.count_parse_error(exc, now)
            return
        self.deliver(pkt, now)

    def _receive_icmp(self, data: bytes, now: float) -> None:
        try:
            hdr, body = parse_ipv4(data)
        except ParseError as exc:
            self.count_parse_error(exc, now)
            return
        ip = self.mib.ip
        ip.InReceives += 1
        if not self.is_local(hdr.dst):
            ip.InAddrErrors += 1
            drop(self, None, dr.IP_INADDRERRORS, now)
            return
        ip.InDelivers += 1
        try:
            msg = parse_icmp(hdr.src, body)
        except ParseError as exc:
            for group, name in exc.mib:
                self.mib.bump(group, name)
            drop(self, None, exc.drop_reason, now)
            return
        icmp_rcv(self, msg, body[0], now)

    def count_parse_error(self, exc: ParseError, now: float = 0.0) -> None:
        """What the kernel counts for a datagram that fails its checks, and the reason it
        frees it with."""
        mib = self.mib
        mib.ip.InReceives += 1
        if exc.stage == "tcp":
            mib.ip.InDelivers += 1
            mib.tcp.InSegs += 1
        for group, name in exc.mib:
            mib.bump(group, name)
        drop(self, None, exc.drop_reason, now)

    def run_timers(self, now: float) -> int:
        """Fire the timers due at or before `now`; returns how many fired."""
        return run_timers(self, now)
