"""TCP header and options: a checked parse into an immutable-by-convention TcpSegment, and emit.

Option semantics follow tcp_input.c:tcp_parse_options: EOL ends the list, an option whose length
byte is < 2 or runs past the header stops parsing (the kernel "doesn't parse partial options"), and
a known option of the wrong size is not interpreted (we keep it, like any unknown option, in
`extra`). Emission uses the kernel's layout from tcp_output.c:tcp_options_write: MSS; SACK_PERM
folded into the timestamp word (or NOP,NOP,TS); NOP,NOP,SACK_PERM without TS; NOP,WS; NOP,NOP,SACK
(the packetdrill scripts' `<mss 1460,nop,nop,sackOK,nop,wscale 8>`, checked on 6.18).
"""

from __future__ import annotations

import struct
from typing import Final

from .checksum import internet_checksum, ones_sum, verify
from .errors import TcpChecksumError, TcpHeaderError, TcpTruncatedError

FIN: Final = 0x01
SYN: Final = 0x02
RST: Final = 0x04
PSH: Final = 0x08
ACK: Final = 0x10
URG: Final = 0x20
ECE: Final = 0x40
CWR: Final = 0x80

OPT_EOL: Final = 0
OPT_NOP: Final = 1
OPT_MSS: Final = 2
OPT_WSCALE: Final = 3
OPT_SACK_PERM: Final = 4
OPT_SACK: Final = 5
OPT_TS: Final = 8

IPPROTO_TCP: Final = 6

_HDR: Final = struct.Struct("!HHIIBBHHH")
_MSS: Final = struct.Struct("!BBH")
_TS_SACKPERM: Final = struct.Struct("!BBBBII")
_TS_NOPS: Final = struct.Struct("!BBBBII")
_U32: Final = struct.Struct("!I")
_U16: Final = struct.Struct("!H")

_FLAG_NAMES: Final = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, "."), (URG, "U"),
               (ECE, "E"), (CWR, "W"))


def flag_str(flags: int) -> str:
    """tcpdump-style flag letters, e.g. 'S.' for SYN|ACK."""
    return "".join(ch for bit, ch in _FLAG_NAMES if flags & bit) or "none"


class TcpSegment:
    """One TCP segment: header fields, typed options and payload. Treat as immutable."""

    __slots__ = ("sport", "dport", "seq", "ack", "flags", "window", "urg", "res", "mss",
                 "wscale", "sack_perm", "tsval", "tsecr", "sack", "extra", "payload", "hdr_len",
                 "gso_size")

    def __init__(self, sport: int, dport: int, seq: int, ack: int, flags: int, window: int,
                 payload: bytes = b"", *, mss: int | None = None, wscale: int | None = None,
                 sack_perm: bool = False, tsval: int | None = None, tsecr: int = 0,
                 sack: tuple[tuple[int, int], ...] = (),
                 extra: tuple[tuple[int, bytes], ...] = (), urg: int = 0, res: int = 0) -> None:
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urg = urg
        self.res = res
        self.mss = mss
        self.wscale = wscale
        self.sack_perm = sack_perm
        self.tsval = tsval
        self.tsecr = tsecr if tsval is not None else 0
        self.sack = sack
        self.extra = extra
        self.payload = payload
        self.hdr_len = 0  # the data offset it arrived with (0: built here)
        # skb_shinfo(skb)->gso_size: sent, the MSS a TSO packet is cut at; received from a
        # device with offloads, the size of the segments GRO merged into it. 0: one segment
        self.gso_size = 0

    # -- derived ------------------------------------------------------------------------------
    @property
    def seg_len(self) -> int:
        """Sequence space occupied: payload + SYN + FIN."""
        f = self.flags
        return len(self.payload) + (f & SYN and 1) + (f & FIN and 1)

    @property
    def end_seq(self) -> int:
        return (self.seq + self.seg_len) & 0xFFFFFFFF

    def _key(self) -> tuple[object, ...]:
        return (self.sport, self.dport, self.seq, self.ack, self.flags, self.window, self.urg,
                self.res, self.mss, self.wscale, self.sack_perm, self.tsval, self.tsecr,
                self.sack, self.extra, self.payload)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TcpSegment) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        opts = []
        if self.mss is not None:
            opts.append(f"mss {self.mss}")
        if self.sack_perm:
            opts.append("sackOK")
        if self.tsval is not None:
            opts.append(f"TS val {self.tsval} ecr {self.tsecr}")
        if self.wscale is not None:
            opts.append(f"wscale {self.wscale}")
        if self.sack:
            opts.append("sack " + " ".join(f"{a}:{b}" for a, b in self.sack))
        for kind, val in self.extra:
            opts.append(f"opt-{kind}:{val.hex()}")
        return (f"TcpSegment({self.sport} > {self.dport} [{flag_str(self.flags)}] seq {self.seq} "
                f"ack {self.ack} win {self.window} [{', '.join(opts)}] len {len(self.payload)})")

    def header_len(self) -> int:
        """The TCP header's length in bytes: as it arrived, or as options_bytes() lays the
        options out (each padded as emitted, the whole to four bytes)."""
        if self.hdr_len:
            return self.hdr_len
        n = 0
        if self.mss is not None:
            n += 4
        if self.tsval is not None:
            n += 12  # with SACK_PERM or two NOPs
        elif self.sack_perm:
            n += 4
        if self.wscale is not None:
            n += 4
        if self.sack:
            n += 4 + 8 * len(self.sack)
        for _, value in self.extra:
            n += 2 + len(value)
        return 20 + ((n + 3) & ~3)

    # -- codec --------------------------------------------------------------------------------
    def options_bytes(self) -> bytes:
        out = bytearray()
        if self.mss is not None:
            out += _MSS.pack(OPT_MSS, 4, self.mss)
        if self.tsval is not None:
            if self.sack_perm:
                out += _TS_SACKPERM.pack(OPT_SACK_PERM, 2, OPT_TS, 10, self.tsval, self.tsecr)
            else:
                out += _TS_NOPS.pack(OPT_NOP, OPT_NOP, OPT_TS, 10, self.tsval, self.tsecr)
        if self.sack_perm and self.tsval is None:
            out += bytes((OPT_NOP, OPT_NOP, OPT_SACK_PERM, 2))
        if self.wscale is not None:
            out += bytes((OPT_NOP, OPT_WSCALE, 3, self.wscale))
        if self.sack:
            out += bytes((OPT_NOP, OPT_NOP, OPT_SACK, 2 + 8 * len(self.sack)))
            for left, right in self.sack:
                out += _U32.pack(left) + _U32.pack(right)
        for kind, val in self.extra:
            out += bytes((kind, len(val) + 2)) + val
        if len(out) & 3:
            out += bytes(4 - (len(out) & 3))  # EOL padding
        if len(out) > 40:
            raise ValueError(f"TCP options too long: {len(out)} bytes")
        return bytes(out)

    def to_bytes(self, src: int, dst: int, partial: bool = False) -> bytes:
        """Emit with a correct checksum over the IPv4 pseudo-header (src, dst as u32).
        `partial`: checksum offload (CHECKSUM_PARTIAL): the field holds only the folded
        pseudo-header sum, for the device to complete over the segment."""
        opts = self.options_bytes()
        hlen = 20 + len(opts)
        length = hlen + len(self.payload)
        if partial:
            csum = ones_sum(b"", src + dst + IPPROTO_TCP + length)
            hdr = _HDR.pack(self.sport, self.dport, self.seq, self.ack, (hlen << 2) | self.res,
                            self.flags, self.window, csum, self.urg)
            return hdr + opts + self.payload
        hdr = _HDR.pack(self.sport, self.dport, self.seq, self.ack, (hlen << 2) | self.res,
                        self.flags, self.window, 0, self.urg)
        data = hdr + opts + self.payload
        csum = internet_checksum(data, src + dst + IPPROTO_TCP + length)
        return data[:16] + _U16.pack(csum) + data[18:]


def _parse_options(seg: TcpSegment, opts: bytes) -> None:
    i = 0
    n = len(opts)
    extra: list[tuple[int, bytes]] = []
    while i < n:
        kind = opts[i]
        if kind == OPT_EOL:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= n:
            break
        size = opts[i + 1]
        if size < 2 or i + size > n:  # tcp_parse_options: silly or partial option
            break
        body = opts[i + 2:i + size]
        if kind == OPT_MSS and size == 4:
            seg.mss = (body[0] << 8) | body[1]
        elif kind == OPT_WSCALE and size == 3:
            seg.wscale = body[0]
        elif kind == OPT_SACK_PERM and size == 2:
            seg.sack_perm = True
        elif kind == OPT_TS and size == 10:
            seg.tsval, seg.tsecr = struct.unpack("!II", body)
        elif kind == OPT_SACK and size >= 10 and (size - 2) % 8 == 0:
            vals = struct.unpack(f"!{(size - 2) // 4}I", body)
            seg.sack = tuple(zip(vals[0::2], vals[1::2], strict=True))
        else:
            extra.append((kind, bytes(body)))
        i += size
    if extra:
        seg.extra = tuple(extra)


def parse_tcp(data: bytes, src: int, dst: int, check: bool = True) -> TcpSegment:
    """Parse a TCP segment carried from src to dst (u32 addresses). Raises a ParseError."""
    if len(data) < 20:
        raise TcpTruncatedError(f"TCP header needs 20 bytes, got {len(data)}")
    sport, dport, seq, ack, off, flags, window, _csum, urg = _HDR.unpack_from(data)
    doff = (off >> 4) * 4
    if doff < 20:
        raise TcpHeaderError(f"data offset {doff} < 20")
    if len(data) < doff:
        raise TcpTruncatedError(f"data offset {doff} past segment end {len(data)}")
    if check and not verify(data, src + dst + IPPROTO_TCP + len(data)):
        raise TcpChecksumError("bad TCP checksum")
    seg = TcpSegment(sport, dport, seq, ack, flags, window, bytes(data[doff:]), urg=urg,
                     res=off & 0x0F)
    seg.hdr_len = doff
    if doff > 20:
        _parse_options(seg, bytes(data[20:doff]))
    return seg
