"""`tuxtcp simulate flows`: two captures compared flow by flow (simulate/flowdiff.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tuxtcp.cli import main
from tuxtcp.link.flowloss import FlowLoss
from tuxtcp.simulate.flowdiff import compare_flows, read_flows
from tuxtcp.wire.ipv4 import Packet, ip_to_int
from tuxtcp.wire.pcap import PcapTap
from tuxtcp.wire.tcp import ACK, FIN, SYN, TcpSegment

SRV, CLI = ip_to_int("198.18.0.1"), ip_to_int("198.18.0.2")


def _handshake_and_close(port: int, cisn: int, sisn: int, ack_alone: bool) -> list[Packet]:
    """A connection from `port`: the handshake, the server's FIN, then the client's FIN with
    (or after, `ack_alone`) its ACK of the server's, and the server's last ACK."""
    c = lambda seq, ack, flags: Packet(CLI, SRV, TcpSegment(port, 80, seq, ack, flags, 500))  # noqa: E731
    s = lambda seq, ack, flags: Packet(SRV, CLI, TcpSegment(80, port, seq, ack, flags, 500))  # noqa: E731
    out = [c(cisn, 0, SYN), s(sisn, cisn + 1, SYN | ACK), c(cisn + 1, sisn + 1, ACK),
           s(sisn + 1, cisn + 1, FIN | ACK)]
    if ack_alone:
        out.append(c(cisn + 1, sisn + 2, ACK))
    return out + [c(cisn + 1, sisn + 2, FIN | ACK), s(sisn + 2, cisn + 2, ACK)]


def _pcap(path: Path, packets: list[Packet]) -> str:
    tap = PcapTap(str(path))
    for i, p in enumerate(packets):
        tap.write(0.001 * i, p)
    tap.close()
    return str(path)


def test_flows_differ_from_their_first_different_packet(tmp_path: Path) -> None:
    """Sequence numbers are compared relative to each side's SYN (the two runs pick other
    ISNs); the flow whose client ACKed the FIN on its own differs from its fifth packet; a
    port used again after a close starts its numbers anew."""
    a = _pcap(tmp_path / "a.pcap", _handshake_and_close(40000, 1000, 5000, False)
              + _handshake_and_close(40002, 7, 9, True)
              + _handshake_and_close(40000, 90_000, 70_000, False))
    b = _pcap(tmp_path / "b.pcap", _handshake_and_close(40000, 2000, 8000, False)
              + _handshake_and_close(40002, 3, 4, False)
              + _handshake_and_close(40000, 123_456, 654_321, False))
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fl_a, fl_b = read_flows(fa), read_flows(fb)
    assert len(fl_a) == len(fl_b) == 2
    [d] = compare_flows(fl_a, fl_b)
    assert d.name[1] == 40002 and d.index == 4
    assert (d.a[4].from_client, d.a[4].flags, d.a[4].seq, d.a[4].ack) == (True, ".", 1, 2)
    assert (d.b[4].flags, d.b[4].seq, d.b[4].ack) == ("F.", 1, 2)
    again = [p for p in fl_a[(CLI, 40000, SRV, 80)].packets if p.flags == "S"]
    assert [p.seq for p in again] == [0, 0]  # the reused port's second SYN: numbers anew


def test_flows_marks_what_the_lossy_link_lost(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    packets = _handshake_and_close(40004, 1, 1, False)
    path = _pcap(tmp_path / "l.pcap", packets)
    loss = FlowLoss(7, 0.5)
    expect = [loss.lost(p.src, p.seg.sport, p.dst, p.seg.dport) for p in packets]
    with open(path, "rb") as f:
        flow = read_flows(f, 7, 0.5)[(CLI, 40004, SRV, 80)]
    assert [p.lost for p in flow.packets] == expect and any(expect)
    assert main(["simulate", "flows", path, path, "--seed", "7", "--loss", "0.5",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"flows": 1, "differ": 0, "shown": []}


def test_flows_command_lists_the_flows_that_differ(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = _pcap(tmp_path / "a.pcap", _handshake_and_close(40002, 7, 9, True))
    b = _pcap(tmp_path / "b.pcap", _handshake_and_close(40002, 3, 4, False))
    assert main(["simulate", "flows", a, b]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 of 1 flows differ") and "client port 40002: packet 5 differs" in out
    assert main(["simulate", "flows", a, str(tmp_path / "missing.pcap")]) == 2
    assert "tuxtcp simulate flows:" in capsys.readouterr().err
