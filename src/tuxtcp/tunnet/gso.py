"""Software GSO for the wire: the engine builds TSO packets of several segments (as Linux's
TCP does, whatever the device: GSO is always on); a device without segmentation offload gets
them cut to its MTU first, as the kernel's tcp_gso_segment/inet_gso_segment cut them: each
piece has the same options, the next sequence number and the next IP ID; CWR stays on the
first piece only, PSH and FIN on the last only."""

from __future__ import annotations

from ..wire.ipv4 import Packet
from ..wire.tcp import CWR, FIN, PSH, TcpSegment


def segment(pkt: Packet, mtu: int) -> list[Packet]:
    """`pkt` as datagrams of at most `mtu` bytes (itself when it fits)."""
    seg = pkt.seg
    data = seg.payload
    room = mtu - 20 - seg.header_len()
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
