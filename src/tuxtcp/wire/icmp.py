"""ICMP errors about our TCP segments (RFC 792): the checked parse icmp_rcv does before
handing an error to the protocol (icmp_unreach -> tcp_v4_err). Only what TCP uses is kept:
type, code, the 16-bit info field (the next-hop MTU of "fragmentation needed") and the
quoted datagram's addresses, ports and sequence number (its IPv4 header and first 8 TCP
bytes)."""

from __future__ import annotations

import struct
from typing import Final

from .checksum import internet_checksum
from .errors import IcmpChecksumError, IcmpTruncatedError

IPPROTO_ICMP: Final = 1
ICMP_DEST_UNREACH: Final = 3
ICMP_SOURCE_QUENCH: Final = 4
ICMP_REDIRECT: Final = 5
ICMP_TIME_EXCEEDED: Final = 11
ICMP_PARAMETERPROB: Final = 12
ICMP_FRAG_NEEDED: Final = 4  # a DEST_UNREACH code
NR_ICMP_UNREACH: Final = 15
ERROR_TYPES: Final = (ICMP_DEST_UNREACH, ICMP_SOURCE_QUENCH, ICMP_REDIRECT, ICMP_TIME_EXCEEDED,
                      ICMP_PARAMETERPROB)
_QUOTE: Final = struct.Struct("!BBHHHBBH4s4sHHI")  # IPv4 header (20) + TCP ports and seq


class IcmpError:
    """One ICMP error message quoting a TCP segment."""

    __slots__ = ("src", "type", "code", "info", "qsrc", "qdst", "qproto", "sport", "dport",
                 "seq")

    def __init__(self, src: int, type_: int, code: int, info: int, qsrc: int, qdst: int,
                 qproto: int, sport: int, dport: int, seq: int) -> None:
        self.src = src
        self.type = type_
        self.code = code
        self.info = info
        self.qsrc, self.qdst, self.qproto = qsrc, qdst, qproto
        self.sport, self.dport, self.seq = sport, dport, seq


def parse_icmp(src: int, body: bytes) -> IcmpError | None:
    """The ICMP message `body` from `src`: an error quoting TCP, or None for what TCP does
    not use (echo and other informational types, errors quoting other protocols). Raises
    ParseError for a message icmp_rcv drops."""
    if len(body) < 8:
        raise IcmpTruncatedError("ICMP header needs 8 bytes")
    if internet_checksum(body) != 0:
        raise IcmpChecksumError("bad ICMP checksum")
    type_, code = body[0], body[1]
    if type_ not in ERROR_TYPES:
        return None
    quote = body[8:]
    if len(quote) < 28:
        raise IcmpTruncatedError("ICMP error quotes less than an IPv4 header and 8 bytes")
    (vihl, _tos, _total, _id, _frag, _ttl, proto, _csum, qsrc, qdst, sport, dport,
     seq) = _QUOTE.unpack_from(quote)
    ihl = (vihl & 0x0F) * 4
    if ihl > 20:  # options in the quoted header: the ports come after them
        if len(quote) < ihl + 8:
            raise IcmpTruncatedError("ICMP error quote shorter than its header")
        sport, dport, seq = struct.unpack_from("!HHI", quote, ihl)
    info = int.from_bytes(body[6:8], "big")
    return IcmpError(src, type_, code, info, int.from_bytes(qsrc, "big"),
                     int.from_bytes(qdst, "big"), proto, sport, dport, seq)
