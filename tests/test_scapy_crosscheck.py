"""Cross-check the codecs against scapy (an independent implementation; GPL, tests only)."""

import pytest

scapy_all = pytest.importorskip("scapy.all")

from states import syn_recv  # noqa: E402
from tuxtcp.wire.ipv4 import parse_packet  # noqa: E402


def test_our_synack_decodes_identically_in_scapy() -> None:
    pkt = syn_recv(ts=1234, wscale=9).sent[0]
    raw = pkt.to_bytes()
    sp = scapy_all.IP(raw)
    assert sp[scapy_all.IP].ttl == 64 and sp[scapy_all.IP].flags == "DF"
    tcp = sp[scapy_all.TCP]
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack) == (8080, 40000, pkt.seg.seq, pkt.seg.ack)
    assert str(tcp.flags) == "SA" and tcp.window == 65160
    opts = dict((k, v) for k, v in tcp.options if k != "NOP")
    assert opts["MSS"] == 1460 and opts["WScale"] == 10 and "SAckOK" in opts
    assert opts["Timestamp"] == (pkt.seg.tsval, 1234)
    # scapy recomputes both checksums from scratch: they must equal ours
    del sp[scapy_all.IP].chksum
    del sp[scapy_all.TCP].chksum
    assert bytes(sp) == raw


def test_scapy_built_segment_parses_in_tuxtcp() -> None:
    sp = scapy_all.IP(src="198.18.0.2", dst="198.18.0.1", id=7) / scapy_all.TCP(
        sport=1234, dport=80, seq=99, ack=5, flags="PA", window=502,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (11, 22)),
                 ("SAck", (1000, 2000))]) / b"payload"
    pkt = parse_packet(bytes(sp))
    s = pkt.seg
    assert (s.sport, s.dport, s.seq, s.ack, s.window) == (1234, 80, 99, 5, 502)
    assert (s.tsval, s.tsecr, s.sack, s.payload) == (11, 22, ((1000, 2000),), b"payload")
