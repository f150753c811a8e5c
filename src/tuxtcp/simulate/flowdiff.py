"""Two captures of one scenario compared flow by flow (`tuxtcp simulate flows A.pcap B.pcap`):
typically the simulation's `--pcap` and the kernel run's `--kernel-pcap`. A TCP flow is named
by its client end (the end that sent the first SYN); each packet by its direction, flags,
sequence and acknowledgement numbers relative to each side's first SYN, and payload length;
with the scenario's seed and loss, by whether the link lost it too (`link/flowloss.py`
decides by flow and index, as both links do). A flow differs when those lists differ."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

import dpkt

from ..link.flowloss import FlowLoss
from ..wire.errors import ParseError
from ..wire.ipv4 import parse_packet
from ..wire.tcp import ACK, SYN, flag_str


@dataclass(frozen=True)
class Seen:
    """One packet of a flow: when (seconds, the capture's clock), whether the client sent
    it, its flags in tcpdump's letters, relative seq and ack, payload length, lost or not."""

    t: float
    from_client: bool
    flags: str
    seq: int
    ack: int
    length: int
    lost: bool

    def key(self) -> tuple[bool, str, int, int, int, bool]:
        return (self.from_client, self.flags, self.seq, self.ack, self.length, self.lost)

    def __str__(self) -> str:
        side = "C>S" if self.from_client else "S>C"
        return (f"{self.t * 1000:10.3f} ms {side} {self.flags:<4} {self.seq}:{self.ack}"
                f" len {self.length}{' LOST' if self.lost else ''}")


@dataclass
class Flow:
    client: tuple[int, int]  # (address, port) of the end that sent the first SYN
    server: tuple[int, int]
    packets: list[Seen] = field(default_factory=list)


def read_flows(f: BinaryIO, seed: int | None = None, loss: float = 0.0) -> dict[tuple, Flow]:
    """The TCP flows of a pcap (raw IPv4, as tuxtcp writes them), by (client address, client
    port, server address, server port). A flow's client is the end of its first SYN; packets
    of a flow seen before any SYN count the lower port as the client's. A port reused for a
    new connection (a SYN after a FIN or RST) starts its sequence numbers anew."""
    lossy = FlowLoss(seed, loss) if seed is not None else None
    flows: dict[tuple, Flow] = {}
    isn: dict[tuple, int] = {}
    for ts, buf in dpkt.pcap.Reader(f):
        try:
            pkt = parse_packet(bytes(buf), check=False)
        except ParseError:
            continue  # not IPv4 and TCP (an IPv6 router solicitation on the TUN device, ...)
        tcp = pkt.seg
        src, dst = (pkt.src, tcp.sport), (pkt.dst, tcp.dport)
        syn_only = tcp.flags & SYN and not tcp.flags & ACK
        if (*src, *dst) in flows or syn_only and (*dst, *src) not in flows:
            client, server = src, dst
        elif (*dst, *src) in flows:
            client, server = dst, src
        else:
            client, server = (src, dst) if src[1] > dst[1] else (dst, src)
        name = (*client, *server)
        flow = flows.setdefault(name, Flow(client, server))
        from_client = src == client
        if syn_only and from_client and isn.get((name, True), tcp.seq) != tcp.seq and any(
                "F" in p.flags or "R" in p.flags for p in flow.packets):
            isn.pop((name, False), None)  # the port's next connection: numbers anew
            isn[(name, True)] = tcp.seq
        if tcp.flags & SYN:
            isn.setdefault((name, from_client), tcp.seq)
        mine, theirs = isn.get((name, from_client)), isn.get((name, not from_client))
        seq = (tcp.seq - mine) & 0xFFFFFFFF if mine is not None else tcp.seq
        ack = 0
        if tcp.flags & ACK:
            ack = (tcp.ack - theirs) & 0xFFFFFFFF if theirs is not None else tcp.ack
        lost = lossy is not None and lossy.lost(src[0], src[1], dst[0], dst[1])
        flow.packets.append(Seen(float(ts), from_client, flag_str(tcp.flags), seq, ack,
                                 len(tcp.payload), lost))
    return flows


@dataclass
class FlowDiff:
    name: tuple
    index: int  # the first packet that differs
    a: list[Seen]
    b: list[Seen]


def compare_flows(a: dict[tuple, Flow], b: dict[tuple, Flow]) -> list[FlowDiff]:
    """The flows whose packets differ (one missing on a side counts), each with the index of
    its first differing packet, in the order of the flows' first packets in `a`."""
    out: list[FlowDiff] = []
    order = sorted(set(a) | set(b), key=lambda n: (
        a[n].packets[0].t if n in a and a[n].packets else float("inf"), n))
    for n in order:
        pa = a[n].packets if n in a else []
        pb = b[n].packets if n in b else []
        if [p.key() for p in pa] == [p.key() for p in pb]:
            continue
        i = next((i for i, (x, y) in enumerate(zip(pa, pb, strict=False))
                  if x.key() != y.key()), min(len(pa), len(pb)))
        out.append(FlowDiff(n, i, pa, pb))
    return out
