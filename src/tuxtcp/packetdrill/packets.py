"""Script packets against wire packets, as packetdrill maps and checks them (run_packet.c).

Sequence spaces: the remote ISN is the script's own inbound SYN (or SYN-ACK) sequence number,
used as it is; the local ISN is learned from the stack's first SYN or SYN-ACK. Inbound
sequence numbers after the SYN are offsets from the remote ISN, inbound `ack` values and SACK
blocks offsets from the local ISN; outbound sequence numbers are read back as offsets from the
local ISN and outbound acks and SACK blocks from the remote ISN (a SYN's own numbers absolute).
An inbound TS ecr is the stack's real TSval of the outbound packet whose script TSval it names.

`check_outbound` compares field by field in packetdrill's order and with its messages, so a
failure reads the same on both targets. Both work on raw IPv4 bytes: target tuxtcp hands over
what the engine emits, target kernel what the TUN device gives.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from ..wire.checksum import internet_checksum
from .script import TcpOption, TcpPacket

_IP: Final = struct.Struct("!BBHHHBBH4s4s")
_TCP: Final = struct.Struct("!HHIIBBHHH")
M32: Final = 0xFFFFFFFF
OPT_KINDS: Final = {"eol": 0, "nop": 1, "mss": 2, "wscale": 3, "sackOK": 4, "sack": 5, "TS": 8,
                    "md5": 19, "FO": 34, "FOEXP": 254}
KIND_NAMES: Final = {v: k for k, v in OPT_KINDS.items()}
FOEXP_MAGIC: Final = b"\xf9\x89"
# TCP header flag bits in packetdrill's checking order (the letters scripts write)
FLAG_FIELDS: Final = (("fin", 0x01, "F"), ("syn", 0x02, "S"), ("rst", 0x04, "R"),
                      ("psh", 0x08, "P"), ("ack", 0x10, "."), ("urg", 0x20, "U"))
ECE: Final = 0x40
CWR: Final = 0x80
AE: Final = 0x100
ECN_CODEPOINTS: Final = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}


class PacketMismatch(ValueError):
    """An outbound packet that is not the one the script expects (packetdrill's message)."""


@dataclass
class Wire:
    """One IPv4/TCP packet as the checks see it."""

    src: bytes
    dst: bytes
    tos: int
    ttl: int
    total_length: int
    sport: int
    dport: int
    seq: int
    ack: int
    doff: int  # header length in bytes
    flags: int  # including ECE, CWR and the AE (NS) bit as 0x100
    window: int
    urg: int
    options: bytes
    payload: bytes

    @classmethod
    def parse(cls, data: bytes) -> Wire:
        vihl, tos, total, _id, _frag, ttl, proto, _csum, src, dst = _IP.unpack_from(data)
        ihl = (vihl & 15) * 4
        if vihl >> 4 != 4 or proto != 6 or len(data) < ihl + 20:
            raise PacketMismatch("not an IPv4 TCP packet")
        t = data[ihl:total]
        sport, dport, seq, ack, off, flags, win, _sum, urg = _TCP.unpack_from(t)
        doff = (off >> 4) * 4
        return cls(src, dst, tos, ttl, total, sport, dport, seq, ack, doff,
                   flags | ((off & 1) << 8), win, urg, t[20:doff], t[doff:])


@dataclass
class SeqState:
    """What packetdrill learns as the script runs: the ISNs and the TSval map."""

    local_isn_script: int | None = None
    local_isn_live: int | None = None
    remote_isn: int | None = None
    ts_val_map: dict[int, int] = field(default_factory=dict)
    first_ts: tuple[int, int] | None = None  # (script, live) TSval of the first outbound TS


def option_bytes(opts: tuple[TcpOption, ...], sack_offset: int = 0,
                 ecr_map: dict[int, int] | None = None, is_ack: bool = False,
                 ecr_base: tuple[int, int] | None = None) -> bytes:
    """Script options encoded as written (inbound SACK blocks shifted by `sack_offset`, TS
    ecr rewritten through `ecr_map` when the packet has ACK set, or, with
    --tcp_ts_ecr_scaled, moved by the first outbound TSval's offset `ecr_base`)."""
    out = bytearray()
    for o in opts:
        k = o.kind
        if k in ("nop", "eol"):
            out.append(OPT_KINDS[k])
        elif k == "mss":
            out += struct.pack("!BBH", 2, 4, o.values[0])
        elif k == "wscale":
            out += bytes((3, 3, o.values[0]))
        elif k == "sackOK":
            out += bytes((4, 2))
        elif k == "sack":
            out += bytes((5, 2 + 4 * len(o.values)))
            for v in o.values:
                out += struct.pack("!I", (v + sack_offset) & M32)
        elif k == "TS":
            val, ecr = o.values
            if is_ack and ecr_map is not None:
                if ecr in ecr_map:
                    ecr = ecr_map[ecr]
                elif ecr_base is not None:
                    ecr = (ecr - ecr_base[0] + ecr_base[1]) & M32
                else:
                    raise PacketMismatch(f"unable to infer live TS ecr for script TS ecr {ecr}; "
                                         "no matching or preceding outbound TS val")
            out += struct.pack("!BBII", 8, 10, val, ecr)
        elif k in ("FO", "FOEXP", "md5"):
            body = bytes.fromhex(o.cookie)
            if k == "FOEXP":
                body = FOEXP_MAGIC + body
            out += bytes((OPT_KINDS[k], 2 + len(body))) + body
        else:
            raise PacketMismatch(f"unknown TCP option {k!r}")
    return bytes(out)


def flag_bits(letters: str) -> int:
    bits = 0
    for _, bit, letter in FLAG_FIELDS:
        if letter in letters:
            bits |= bit
    if "E" in letters:
        bits |= ECE
    if "W" in letters:
        bits |= CWR
    if "A" in letters:
        bits |= AE
    return bits


def build_inbound(p: TcpPacket, st: SeqState, src: bytes, dst: bytes, sport: int,
                  dport: int, ecr_scaled: bool = False) -> bytes:
    """The raw IPv4 datagram for an inbound script packet (map_inbound_packet)."""
    flags = flag_bits(p.flags)
    syn = bool(flags & 0x02)
    if syn:
        st.remote_isn = p.seq  # the script's ISN (of a SYN, or a SYN-ACK) is the real one
    remote = st.remote_isn or 0
    seq = p.seq if syn else (p.seq + remote) & M32
    local_off = 0
    if st.local_isn_live is not None:
        local_off = st.local_isn_live - (st.local_isn_script or 0) if syn else st.local_isn_live
    ack = ((p.ack or 0) + local_off) & M32 if flags & 0x10 else (p.ack or 0)
    opts = option_bytes(p.options or (), local_off if flags & 0x10 else 0, st.ts_val_map,
                        bool(flags & 0x10), st.first_ts if ecr_scaled else None)
    if len(opts) % 4:
        opts += bytes(4 - len(opts) % 4)
    payload = bytes(p.length)
    off = ((20 + len(opts)) // 4) << 4 | (1 if flags & AE else 0)
    tcp = _TCP.pack(sport, dport, seq, ack, off, flags & 0xFF, p.window or 0, 0, p.urg)
    data = tcp + opts + payload
    pseudo = (int.from_bytes(src, "big") + int.from_bytes(dst, "big") + 6 + len(data))
    csum = internet_checksum(data, pseudo)
    data = data[:16] + csum.to_bytes(2, "big") + data[18:]
    tos = p.ip.tos if p.ip.tos is not None else ECN_CODEPOINTS.get(p.ip.ecn or "noecn", 0)
    ttl = p.ip.ttl if p.ip.ttl is not None else 255
    hdr = _IP.pack(0x45, tos, 20 + len(data), 0, 0, ttl, 6, 0, src, dst)
    hdr = hdr[:10] + internet_checksum(hdr).to_bytes(2, "big") + hdr[12:]
    return hdr + data


def decode_options(raw: bytes) -> list[tuple[int, bytes]]:
    """(kind, data) in wire order; EOL padding at the end is one EOL per byte, as written."""
    out: list[tuple[int, bytes]] = []
    i = 0
    while i < len(raw):
        k = raw[i]
        if k in (0, 1):
            out.append((k, b""))
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        n = raw[i + 1]
        out.append((k, raw[i + 2:i + n]))
        i += n
    return out


def _field(name: str, expected: int, actual: int) -> PacketMismatch:
    return PacketMismatch(f"live packet field {name}: expected: {expected} ({expected:#x}) vs "
                          f"actual: {actual} ({actual:#x})")


def learn_outbound(p: TcpPacket, w: Wire, st: SeqState) -> None:
    """Learn the local ISN from our SYN or SYN-ACK and the TSval map from any TS option."""
    if w.flags & 0x02:
        st.local_isn_script = p.seq
        st.local_isn_live = w.seq
    if p.options:
        live_ts = [d for k, d in decode_options(w.options) if k == 8 and len(d) == 8]
        script_ts = [o.values[0] for o in p.options if o.kind == "TS"]
        if live_ts and script_ts:
            live_val = int.from_bytes(live_ts[0][:4], "big")
            st.ts_val_map[script_ts[0]] = live_val
            if st.first_ts is None:
                st.first_ts = (script_ts[0], live_val)


def check_outbound(p: TcpPacket, w: Wire, st: SeqState, ts_tick_usecs: int = 0,
                   ts_tolerance_usecs: int = 0) -> None:
    """verify_outbound_live_packet's header, option and payload checks (not the timing)."""
    learn_outbound(p, w, st)
    opts_len = None if p.options is None else len(option_bytes(p.options))
    if opts_len is not None:
        padded = opts_len + (-opts_len) % 4
        expected_total = 40 + padded + p.length
        if expected_total != w.total_length:
            raise _field("ipv4_total_length", expected_total, w.total_length)
    if p.ip.tos is not None and p.ip.tos != w.tos:
        raise _field("tos", p.ip.tos, w.tos)
    if p.ip.ecn is not None:
        if p.ip.ecn == "ect01":
            if w.tos & 3 not in (1, 2):
                raise PacketMismatch(f"live packet field ip_ecn: expected: 0x1 or 0x2 vs "
                                     f"actual: {w.tos & 3:#x}")
        elif ECN_CODEPOINTS[p.ip.ecn] != w.tos & 3:
            raise _field("ip_ecn", ECN_CODEPOINTS[p.ip.ecn], w.tos & 3)
    if p.ip.ttl is not None and p.ip.ttl != w.ttl:
        raise _field("ttl", p.ip.ttl, w.ttl)
    if opts_len is not None:
        expected_doff = (20 + opts_len + (-opts_len) % 4) // 4
        if expected_doff != w.doff // 4:
            raise _field("tcp_data_offset", expected_doff, w.doff // 4)
    want = flag_bits(p.flags)
    for name, bit, _ in FLAG_FIELDS:
        if (want & bit) != (w.flags & bit):
            raise _field(f"tcp_{name}", int(bool(want & bit)), int(bool(w.flags & bit)))
    for name, bit in (("ece", ECE), ("cwr", CWR), ("ae", AE)):
        if (want & bit) != (w.flags & bit):
            raise _field(f"tcp_{name}", int(bool(want & bit)), int(bool(w.flags & bit)))
    syn = bool(w.flags & 0x02)
    live_isn = st.local_isn_live or 0
    if syn:
        seq = (w.seq - (live_isn - (st.local_isn_script or 0))) & M32
    else:
        seq = (w.seq - live_isn) & M32
    if seq != p.seq:
        raise _field("tcp_seq", p.seq, seq)
    remote = 0 if syn else (st.remote_isn or 0)
    ack = (w.ack - remote) & M32 if w.flags & 0x10 else w.ack
    if ack != (p.ack or 0):
        raise _field("tcp_ack_seq", p.ack or 0, ack)
    if p.window is not None and p.window != w.window:
        raise _field("tcp_window", p.window, w.window)
    if p.urg != w.urg:
        raise _field("tcp_urg_ptr", p.urg, w.urg)
    if p.options is not None:
        _check_options(p.options, w, remote, st, ts_tick_usecs, ts_tolerance_usecs)
    if len(w.payload) != p.length:
        raise PacketMismatch(f"live packet payload: expected {p.length} bytes vs actual "
                             f"{len(w.payload)} bytes")


def _check_options(opts: tuple[TcpOption, ...], w: Wire, ack_offset: int, st: SeqState,
                   tick: int, tolerance: int) -> None:
    live = decode_options(w.options)
    # EOL padding after the last option: packetdrill's script encoding pads with EOLs too
    expected = decode_options(option_bytes(opts))
    while len(live) > len(expected) and live[-1] == (0, b""):
        live.pop()
    if [k for k, _ in live] != [k for k, _ in expected]:
        raise PacketMismatch("bad outbound TCP options")
    for (kind, data), (_, want) in zip(live, expected, strict=True):
        if kind in (0, 1):
            continue
        if kind == 8:
            if tick and st.first_ts is not None:
                actual = (st.first_ts[0] + int.from_bytes(data[:4], "big") - st.first_ts[1])
                script = int.from_bytes(want[:4], "big")
                if abs(actual - script) * tick > tolerance:
                    raise PacketMismatch(f"bad outbound TCP timestamp value, tolerance "
                                         f"{tolerance}")
            continue
        if kind == 5:
            data = b"".join(((int.from_bytes(data[i:i + 4], "big") - ack_offset) & M32)
                            .to_bytes(4, "big") for i in range(0, len(data), 4))
        if len(data) != len(want):
            raise PacketMismatch(f"bad lengths for outbound TCP option {kind}")
        if data != want:
            raise PacketMismatch(f"bad value outbound TCP option {kind}")


def describe(w: Wire, st: SeqState) -> str:
    """An outbound packet the way a script would write it (for failure messages)."""
    letters = "".join(letter for _, bit, letter in FLAG_FIELDS if w.flags & bit and
                      letter != ".")
    letters += "E" if w.flags & ECE else ""
    letters += "W" if w.flags & CWR else ""
    letters += "." if w.flags & 0x10 else ""
    syn = bool(w.flags & 0x02)
    seq = w.seq if syn else (w.seq - (st.local_isn_live or 0)) & M32
    end = seq + len(w.payload)
    out = f"{letters or '-'} {seq}:{end}({len(w.payload)})"
    if w.flags & 0x10:
        out += f" ack {(w.ack - (0 if syn else (st.remote_isn or 0))) & M32}"
    out += f" win {w.window}"
    opts = []
    for k, d in decode_options(w.options):
        name = KIND_NAMES.get(k, str(k))
        if k == 2:
            opts.append(f"mss {int.from_bytes(d, 'big')}")
        elif k == 3:
            opts.append(f"wscale {d[0]}")
        elif k == 8:
            opts.append(f"TS val {int.from_bytes(d[:4], 'big')} ecr "
                        f"{int.from_bytes(d[4:8], 'big')}")
        elif k == 5:
            blocks = [((int.from_bytes(d[i:i + 4], "big") - (st.remote_isn or 0)) & M32)
                      for i in range(0, len(d), 4)]
            opts.append("sack " + " ".join(f"{blocks[i]}:{blocks[i + 1]}"
                                           for i in range(0, len(blocks) - 1, 2)))
        else:
            opts.append(name)
    if opts:
        out += " <" + ",".join(opts) + ">"
    return out


ICMP_TYPES: Final = {"echo_reply": 0, "unreachable": 3, "destination_unreachable": 3,
                     "source_quench": 4, "redirect": 5, "echo_request": 8,
                     "time_exceeded": 11, "parameter_problem": 12}
ICMP_UNREACH_CODES: Final = (
    "net_unreachable", "host_unreachable", "protocol_unreachable", "port_unreachable",
    "frag_needed", "source_route_failed", "net_unknown", "host_unknown",
    "source_host_isolated", "net_prohibited", "host_prohibited", "net_unreachable_for_tos",
    "host_unreachable_for_tos", "packet_filtered", "precedence_violation",
    "precedence_cutoff")


def build_icmp(type_: str, code: str | None, mtu: int | None,
               echoed: tuple[str, int, int] | None, st: SeqState, src: bytes, dst: bytes,
               sport: int, dport: int) -> bytes:
    """An inbound ICMP error about one of our TCP segments (icmp_packet.c): from the remote
    address, quoting our IPv4 header and the first 8 bytes of the TCP header (ports and the
    sequence number, an offset from our ISN)."""
    t = ICMP_TYPES.get(type_)
    if t is None:
        raise PacketMismatch(f"unknown ICMP type {type_!r}")
    c = 0
    if code is not None:
        if t == 3 and code in ICMP_UNREACH_CODES:
            c = ICMP_UNREACH_CODES.index(code)
        elif code.isdigit():
            c = int(code)
        else:
            raise PacketMismatch(f"unknown ICMP code {code!r}")
    proto, start, length = echoed or ("tcp", 0, 0)
    if proto != "tcp":
        raise PacketMismatch(f"ICMP quoting a {proto} packet")
    seq = (start + (st.local_isn_live or 0)) & M32
    inner = _IP.pack(0x45, 0, 40 + length, 0, 0x4000, 64, 6, 0, dst, src)
    inner = inner[:10] + internet_checksum(inner).to_bytes(2, "big") + inner[12:]
    quoted = inner + struct.pack("!HHI", dport, sport, seq)
    body = struct.pack("!BBHHH", t, c, 0, 0, mtu or 0) + quoted
    body = body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]
    hdr = _IP.pack(0x45, 0, 20 + len(body), 0, 0, 255, 1, 0, src, dst)
    hdr = hdr[:10] + internet_checksum(hdr).to_bytes(2, "big") + hdr[12:]
    return hdr + body
