"""Software GSO (net/gso.py) and where it runs: a TSO packet the engine builds leaves as its
MSS segments unless the device takes TSO packets (a TUN device with offloads)."""

from __future__ import annotations

from helpers import Harness
from states import established
from tuxtcp.net.gso import gso_segment
from tuxtcp.tunnet.offload import complete_checksum
from tuxtcp.wire.checksum import verify
from tuxtcp.wire.ipv4 import Packet, parse_packet
from tuxtcp.wire.tcp import ACK, CWR, FIN, PSH, TcpSegment


def _tso(data: bytes, gso_size: int, flags: int = ACK | PSH | CWR) -> Packet:
    seg = TcpSegment(80, 40000, 1000, 7, flags, 502, data, tsval=5, tsecr=6)
    seg.gso_size = gso_size
    return Packet(0xC6120002, 0xC6120001, seg, ip_id=100)


def test_a_tso_packet_is_cut_as_tcp_gso_segment_cuts_it() -> None:
    data = bytes(range(256)) * 20  # 5120 bytes: three 1448-byte pieces and a 776-byte one
    pieces = gso_segment(_tso(data, 1448))
    assert [len(p.seg.payload) for p in pieces] == [1448, 1448, 1448, 776]
    assert [p.seg.seq for p in pieces] == [1000, 2448, 3896, 5344]
    assert [p.ip_id for p in pieces] == [100, 101, 102, 103]
    assert [p.seg.flags for p in pieces] == [ACK | CWR, ACK, ACK, ACK | PSH]
    assert all((p.seg.tsval, p.seg.tsecr, p.seg.window) == (5, 6, 502) for p in pieces)
    assert b"".join(p.seg.payload for p in pieces) == data
    raw = [p.to_bytes() for p in pieces]
    assert max(len(r) for r in raw) == 1500
    assert [parse_packet(r).seg.payload for r in raw] == [p.seg.payload for p in pieces]


def test_the_cut_follows_gso_size_not_the_mtu() -> None:
    # a peer that announced MSS 500: the pieces are 500 bytes, FIN on the last only
    pieces = gso_segment(_tso(b"z" * 1200, 500, ACK | PSH | FIN))
    assert [len(p.seg.payload) for p in pieces] == [500, 500, 200]
    assert [p.seg.flags for p in pieces] == [ACK, ACK, ACK | PSH | FIN]


def test_one_segment_stays_as_it_is() -> None:
    one = _tso(b"x" * 1448, 1448)
    assert gso_segment(one) == [one]
    plain = _tso(b"x" * 3000, 0)
    assert gso_segment(plain) == [plain]


def test_partial_checksum_completed_as_the_device_would() -> None:
    pkt = _tso(b"abc" * 999, 0)
    partial = pkt.to_bytes(partial=True)
    full = pkt.to_bytes()
    assert partial != full and complete_checksum(partial) == full
    assert verify(full[20:], 0xC6120002 + 0xC6120001 + 6 + len(full) - 20)
    # the kernel's CHECKSUM_PARTIAL convention: the field holds the folded pseudo-header sum
    tcp_len = len(full) - 20
    pseudo = (0xC6120002 >> 16) + (0xC6120002 & 0xFFFF) + (0xC6120001 >> 16) + \
        (0xC6120001 & 0xFFFF) + 6 + tcp_len
    while pseudo > 0xFFFF:
        pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
    assert int.from_bytes(partial[36:38], "big") == pseudo


def test_the_engine_sends_one_tso_packet_a_device_with_tso_takes_whole() -> None:
    """A 10-segment write at cwnd 10: one tcp_transmit_skb (Ip.OutRequests 1, Tcp.OutSegs
    10); without TSO the outbox holds its ten segments (PSH on the last, consecutive IP
    IDs), with TSO the one packet, gso_size the MSS."""
    for tso in (False, True):
        h = Harness()
        h.ns.tso = tso
        c = established(h)
        mss = c.sock.sk.mss_cache
        before = h.counters()
        h.ns.outbox.clear()
        c.sock.send(b"d" * (10 * mss))
        out = h.take()
        assert h.delta(before) == {"Ip.OutRequests": 1, "Ip.OutTransmits": 1,
                                   "Tcp.OutSegs": 10}
        if tso:
            assert len(out) == 1 and out[0].seg.gso_size == mss
            assert len(out[0].seg.payload) == 10 * mss
            assert out[0].seg.flags == ACK | PSH
        else:
            assert [len(p.seg.payload) for p in out] == [mss] * 10
            assert [p.seg.flags for p in out] == [ACK] * 9 + [ACK | PSH]
            assert [p.ip_id for p in out] == [out[0].ip_id + i for i in range(10)]
