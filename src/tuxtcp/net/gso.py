"""Software GSO: the engine builds TSO packets of several segments (as Linux's TCP does,
whatever the device: GSO is always on, tcp_transmit_skb runs once a packet); a device
without segmentation offload gets them cut at their gso_size first, as the kernel's
skb_gso_segment (tcp_gso_segment, inet_gso_segment) cuts them on the way to the device:
each piece has the same options and window, the next sequence number and the next IP ID;
CWR stays on the first piece only, PSH and FIN on the last only."""

from __future__ import annotations

from ..wire.ipv4 import Packet
from ..wire.tcp import CWR, FIN, PSH, TcpSegment


def gso_segment(pkt: Packet) -> list[Packet]:
    """`pkt` as the segments of its gso_size it stands for (itself when it is one)."""
    seg = pkt.seg
    data = seg.payload
    room = seg.gso_size
    if len(data) <= room or room <= 0:
        return [pkt]
    out = []
    last = len(data) - 1
    for i, off in enumerate(range(0, len(data), room)):
        flags = seg.flags
        if i:
            flags &= ~CWR
        if off + room <= last:
            flags &= ~(PSH | FIN)
        piece = TcpSegment(seg.sport, seg.dport, (seg.seq + off) & 0xFFFFFFFF, seg.ack, flags,
                           seg.window, data[off:off + room], mss=seg.mss, wscale=seg.wscale,
                           sack_perm=seg.sack_perm, tsval=seg.tsval, tsecr=seg.tsecr,
                           sack=seg.sack, extra=seg.extra, urg=seg.urg, res=seg.res)
        out.append(Packet(pkt.src, pkt.dst, piece, ttl=pkt.ttl,
                          ip_id=(pkt.ip_id + i) & 0xFFFF, df=pkt.df, tos=pkt.tos))
    return out
