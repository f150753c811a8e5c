"""IPv4 header codec and the Packet value the simulated network carries.

A Packet is the typed view of one IPv4+TCP datagram. The in-memory link hands Packet objects
from host to host (no bytes at all unless a pcap tap or a corrupting link asks for them); a real
wire (TUN) goes through `Packet.to_bytes` / `parse_packet`, which is the checked step.
"""

from __future__ import annotations

import socket
import struct
from typing import Final

from .checksum import internet_checksum
from .errors import (
    IpChecksumError,
    IpFragmentError,
    IpHeaderError,
    IpTruncatedError,
    ParseError,
)
from .tcp import IPPROTO_TCP, TcpSegment, parse_tcp

_IP: Final = struct.Struct("!BBHHHBBHII")
IP_DF: Final = 0x4000
IP_MF: Final = 0x2000


def is_loopback(addr: int) -> bool:
    """127.0.0.0/8."""
    return (addr >> 24) == 127


def ip_to_int(addr: str) -> int:
    """Dotted quad -> u32 (network order value as an integer)."""
    return int.from_bytes(socket.inet_aton(addr), "big")


def int_to_ip(value: int) -> str:
    """u32 -> dotted quad (what inet_ntoa prints)."""
    if not 0 <= value <= 0xFFFFFFFF:
        raise OverflowError("int too big to convert")
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


class Packet:
    """An IPv4 datagram carrying one TCP segment. Treat as immutable."""

    __slots__ = ("src", "dst", "seg", "ttl", "ip_id", "df", "tos")

    def __init__(self, src: int, dst: int, seg: TcpSegment, *, ttl: int = 64, ip_id: int = 0,
                 df: bool = True, tos: int = 0) -> None:
        self.src = src
        self.dst = dst
        self.seg = seg
        self.ttl = ttl
        self.ip_id = ip_id
        self.df = df
        self.tos = tos

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Packet) and self.src == other.src and self.dst == other.dst
                and self.seg == other.seg and self.ttl == other.ttl
                and self.ip_id == other.ip_id and self.df == other.df and self.tos == other.tos)

    def __hash__(self) -> int:
        return hash((self.src, self.dst, self.seg))

    def __repr__(self) -> str:
        s = self.seg
        return f"{int_to_ip(self.src)}:{s.sport} > {int_to_ip(self.dst)}:{s.dport} {s!r}"

    def to_bytes(self, partial: bool = False) -> bytes:
        """The datagram; `partial`: the TCP checksum left for the device (checksum offload,
        TcpSegment.to_bytes)."""
        tcp = self.seg.to_bytes(self.src, self.dst, partial)
        total = 20 + len(tcp)
        hdr = _IP.pack(0x45, self.tos, total, self.ip_id, IP_DF if self.df else 0, self.ttl,
                       IPPROTO_TCP, 0, self.src, self.dst)
        csum = internet_checksum(hdr)
        return hdr[:10] + csum.to_bytes(2, "big") + hdr[12:] + tcp


class Ipv4Header:
    __slots__ = ("src", "dst", "proto", "ttl", "ip_id", "df", "tos", "ihl")

    def __init__(self, src: int, dst: int, proto: int, ttl: int, ip_id: int, df: bool, tos: int,
                 ihl: int) -> None:
        self.src, self.dst, self.proto, self.ttl = src, dst, proto, ttl
        self.ip_id, self.df, self.tos, self.ihl = ip_id, df, tos, ihl


def parse_ipv4(data: bytes) -> tuple[Ipv4Header, bytes]:
    """ip_rcv_core's checks, in its order. Returns the header and the L4 payload."""
    if len(data) < 20:
        raise IpHeaderError("short IPv4 header")
    vihl, tos, total, ip_id, frag, ttl, proto, _csum, src, dst = _IP.unpack_from(data)
    ihl = (vihl & 0x0F) * 4
    if vihl >> 4 != 4 or ihl < 20:
        raise IpHeaderError("bad version or IHL")
    if len(data) < ihl:
        raise IpHeaderError("header longer than datagram")
    if int.from_bytes(data[:ihl], "big") % 0xFFFF != 0:
        raise IpChecksumError("bad IPv4 header checksum")
    if len(data) < total:
        raise IpTruncatedError("tot_len beyond frame")
    if total < ihl:
        raise IpHeaderError("tot_len shorter than header")
    if frag & (IP_MF | 0x1FFF):
        raise IpFragmentError("fragment")
    hdr = Ipv4Header(src, dst, proto, ttl, ip_id, bool(frag & IP_DF), tos, ihl)
    return hdr, bytes(data[ihl:total])


def parse_packet(data: bytes, check: bool = True, gso_size: int = 0) -> Packet:
    """Parse IPv4+TCP bytes into a Packet (raises ParseError; non-TCP is a ParseError too).
    `check`: verify the TCP checksum (a device with checksum offload vouches for it instead,
    as the kernel trusts CHECKSUM_PARTIAL and CHECKSUM_UNNECESSARY skbs; the IP header's
    checksum is always verified, as ip_rcv_core does). `gso_size`: the datagram is a GRO/TSO
    super-segment of segments this large (from the device's virtio header)."""
    hdr, l4 = parse_ipv4(data)
    if hdr.proto != IPPROTO_TCP:
        raise ParseError(f"IP protocol {hdr.proto} is not TCP")
    seg = parse_tcp(l4, hdr.src, hdr.dst, check)
    seg.gso_size = gso_size
    return Packet(hdr.src, hdr.dst, seg, ttl=hdr.ttl, ip_id=hdr.ip_id, df=hdr.df, tos=hdr.tos)
