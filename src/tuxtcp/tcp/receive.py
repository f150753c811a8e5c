"""The receive queue: in-order data, the out-of-order queue and the SACK blocks it yields,
the delayed-ACK engine's state and receive-buffer auto-tuning (tcp_input.c: tcp_data_queue,
tcp_ofo_queue, tcp_event_data_recv, tcp_rcv_space_adjust; tcp_output.c: the SACK option)."""

from __future__ import annotations

from typing import Final

from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import FIN, TcpSegment
from .sock import EMPTY_OOO, EMPTY_RANGES, TcpSock

TCP_RMEM_MAX: Final = 6 * 1024 * 1024  # tcp_rmem[2]
TCP_ATO_MIN: Final = 0.04  # HZ/25
TCP_MAX_QUICKACKS: Final = 16
# what data_queue did (bits)
DQ_ACK_NOW: Final = 1  # ACK at once (a hole filled or left, or a duplicate)
DQ_FIN: Final = 2  # the peer's FIN is reached
DQ_OLD_DATA: Final = 4  # nothing new: freed with TCP_OLD_DATA
DQ_OFOMERGE: Final = 8  # out of order and already held: freed with TCP_OFOMERGE


def rcv_space_adjust(sk: TcpSock, now: float) -> None:
    """tcp_rcv_space_adjust (dynamic right-sizing): once per RTT, if the application read
    more than last time, offer a window of twice that (up to tcp_rmem[2])."""
    rtt = max(sk.srtt, 0.001)
    if now - sk.rcvq_space.time < rtt:
        return
    copied = (sk.copied_seq - sk.rcvq_space.seq) & M32
    if copied > sk.rcvq_space.space:
        sk.rcvq_space.space = copied
        if not sk.buf_locked & 2:
            want = min(2 * copied + 2 * max(sk.icsk_ack.rcv_mss, 536) * 16, TCP_RMEM_MAX)
            if want > sk.rcv_wnd:
                sk.rcv_wnd = want
                sk.rcvbuf = max(sk.rcvbuf, 2 * want)
    sk.rcvq_space.seq = sk.copied_seq
    sk.rcvq_space.time = now


def event_data_recv(sk: TcpSock, seg_len: int) -> None:
    """tcp_event_data_recv: the first data starts the delayed-ACK engine in quickack mode."""
    if seg_len > sk.icsk_ack.rcv_mss:
        sk.icsk_ack.rcv_mss = seg_len
    if not sk.icsk_ack.ato:
        rcv_mss = max(sk.icsk_ack.rcv_mss, 1)
        sk.icsk_ack.quick = min(max(sk.rcv_wnd // (2 * rcv_mss), 2), TCP_MAX_QUICKACKS)
        sk.icsk_ack.ato = TCP_ATO_MIN


def sack_blocks(sk: TcpSock) -> tuple[tuple[int, int], ...]:
    """The SACK option for our ACKs: out-of-order ranges, the most recent first (max 3 with
    timestamps, 4 without)."""
    if not sk.ooo_ranges:
        return ()
    recent = sk.ooo_recent
    ranges = sorted(sk.ooo_ranges, key=lambda r: 0 if (
        recent is not None and not before(recent, r[0]) and before(recent, r[1])) else 1)
    limit = 3 if sk.rx_opt.tstamp_ok else 4
    return tuple((a, b) for a, b in ranges[:limit])


def _ooo_add_range(sk: TcpSock, seq: int, end: int) -> None:
    """Merge [seq, end) into the sorted, disjoint out-of-order ranges (few: one per hole)."""
    base = sk.rcv_nxt
    s, e = (seq - base) & M32, (end - base) & M32
    out: list[list[int]] = []
    placed = False
    for a, b in sk.ooo_ranges:
        ra, rb = (a - base) & M32, (b - base) & M32
        if rb < s:
            out.append([a, b])
        elif ra > e:
            if not placed:
                out.append([seq, end])
                placed = True
            out.append([a, b])
        else:
            if ra < s:
                seq, s = a, ra
            if rb > e:
                end, e = b, rb
    if not placed:
        out.append([seq, end])
    sk.ooo_ranges = out


def _ooo_trim(sk: TcpSock) -> None:
    nxt = sk.rcv_nxt
    kept = [[a if after(a, nxt) else nxt, b] for a, b in sk.ooo_ranges if after(b, nxt)]
    sk.ooo_ranges = kept if kept else EMPTY_RANGES


def data_queue(sk: TcpSock, seg: TcpSegment) -> int:
    """tcp_data_queue + tcp_data_queue_ofo + tcp_ofo_queue. Returns DQ_* bits."""
    mib = sk.ns.mib
    data = seg.payload
    fin = 1 if seg.flags & FIN else 0
    seq = seg.seq
    end = (seq + len(data) + fin) & M32
    if not after(end, sk.rcv_nxt):
        mib.tcp_ext.DelayedACKLost += 1  # a retransmission of what we have: ACK at once
        return DQ_ACK_NOW | DQ_OLD_DATA
    if after(seq, sk.rcv_nxt):
        merged = 0
        if seq not in sk.ooo or len(sk.ooo[seq][0]) < len(data):
            if sk.ooo is EMPTY_OOO:
                sk.ooo = {}
            sk.ooo[seq] = (bytes(data), fin)
            _ooo_add_range(sk, seq, end)
            mib.tcp_ext.TCPOFOQueue += 1
        else:
            merged = DQ_OFOMERGE  # "all the bits are present"
        sk.ooo_recent = seq
        return DQ_ACK_NOW | merged
    # in order (perhaps overlapping what we have): take the new part
    skip = (sk.rcv_nxt - seq) & M32
    had_ooo = bool(sk.ooo)
    fin_reached = _append(sk, data[skip:], fin)
    while sk.ooo and not fin_reached:
        item = sk.ooo.pop(sk.rcv_nxt, None)  # tcp_ofo_queue: the segment that fits next
        if item is not None:
            fin_reached = _append(sk, item[0], item[1])
            continue
        nxt = None
        for s in sk.ooo:  # rare: a queued segment overlapping rcv_nxt
            if not after(s, sk.rcv_nxt):
                nxt = s
                break
        if nxt is None:
            break
        odata, ofin = sk.ooo.pop(nxt)
        oend = (nxt + len(odata) + ofin) & M32
        if after(oend, sk.rcv_nxt):
            fin_reached = _append(sk, odata[(sk.rcv_nxt - nxt) & M32:], ofin)
    if fin_reached:
        sk.ooo = EMPTY_OOO
        sk.ooo_ranges = EMPTY_RANGES
    elif had_ooo:
        if not sk.ooo:
            sk.ooo = EMPTY_OOO
        _ooo_trim(sk)
    # filling a hole (or leaving one) is ACKed at once; plain in-order data may wait
    return (DQ_ACK_NOW if had_ooo or sk.ooo else 0) | (DQ_FIN if fin_reached else 0)


def _append(sk: TcpSock, data: bytes, fin: int) -> bool:
    if data and not (sk.rcv_shutdown and sk.orphan):
        sk.recv_buf += data
    sk.rcv_nxt = (sk.rcv_nxt + len(data)) & M32
    return bool(fin)
