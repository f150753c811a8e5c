"""The receive queue: in-order data, the out-of-order queue and the SACK blocks it yields,
the delayed-ACK engine's state and receive-buffer auto-tuning (tcp_input.c: tcp_data_queue,
tcp_ofo_queue, tcp_event_data_recv, tcp_rcv_space_adjust; tcp_output.c: the SACK option)."""

from __future__ import annotations

from typing import Final

from ..net import drops as dr
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import FIN, TcpSegment
from .constants import TCP_ATO_MIN, TCP_ECN_DEMAND_CWR, TCP_ECN_SEEN
from .mem import SK_MEM_RECV, SKB_OVERHEAD, mem_schedule, mem_sync, rmem_alloc
from .sock import EMPTY_OOO, EMPTY_RANGES, TcpSock

__all__ = ["SKB_OVERHEAD", "data_queue", "rmem_alloc"]

TCP_MAX_QUICKACKS: Final = 16
# what data_queue did (bits)
DQ_ACK_NOW: Final = 1  # ACK at once (a hole filled or left, or a duplicate)
DQ_FIN: Final = 2  # the peer's FIN is reached
DQ_OLD_DATA: Final = 4  # nothing new: freed with TCP_OLD_DATA
DQ_OFOMERGE: Final = 8  # out of order and already held: freed with TCP_OFOMERGE
DQ_ZEROWINDOW: Final = 16  # in order but the window is closed: freed with TCP_ZEROWINDOW
DQ_OVERWINDOW: Final = 32  # starts at or beyond the window's right edge: TCP_OVERWINDOW
DQ_RCVQ_DROP: Final = 64  # no receive memory left: freed with PROTO_MEM (TCPRcvQDrop)
DQ_OFO_DROP: Final = 128  # no memory for it out of order: freed with TCP_OFO_DROP
# what data_queue's drop bits mean, as the kernel names the reason it frees the segment with
DQ_DROP_REASONS: Final = (
    (DQ_OLD_DATA, dr.TCP_OLD_DATA), (DQ_OFOMERGE, dr.TCP_OFOMERGE),
    (DQ_ZEROWINDOW, dr.TCP_ZEROWINDOW), (DQ_OVERWINDOW, dr.TCP_OVERWINDOW),
    (DQ_RCVQ_DROP, dr.PROTO_MEM), (DQ_OFO_DROP, dr.TCP_OFO_DROP),
)


DQ_DROPPED: Final = sum(bit for bit, _ in DQ_DROP_REASONS)  # any of the drop bits


def dq_drop_reason(dq: int) -> str:
    """The drop reason for data_queue's result ("" when the segment was taken)."""
    if not dq & DQ_DROPPED:
        return dr.CONSUMED
    for bit, reason in DQ_DROP_REASONS:
        if dq & bit:
            return reason
    return dr.CONSUMED


def receive_window(sk: TcpSock) -> int:
    """tcp_receive_window: what is left of the window we last advertised (never negative)."""
    win = (sk.rcv_adv - sk.rcv_nxt) & M32
    return 0 if win & 0x80000000 else win


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
            want = min(2 * copied + 2 * max(sk.icsk_ack.rcv_mss, 536) * 16,
                       sk.ns.sysctl.tcp_rmem[2])
            if want > sk.rcv_wnd:
                sk.rcv_wnd = want
                sk.rcvbuf = max(sk.rcvbuf, 2 * want)
    sk.rcvq_space.seq = sk.copied_seq
    sk.rcvq_space.time = now


def _incr_quickack(sk: TcpSock) -> None:
    """tcp_incr_quickack: rcv_wnd / (2 * rcv_mss) quick ACKs (at least 2, at most 16)."""
    ack = sk.icsk_ack
    quick = min(max(sk.rcv_wnd // (2 * max(ack.rcv_mss, 1)), 2), TCP_MAX_QUICKACKS)
    if quick > ack.quick:
        ack.quick = quick


def ecn_rcv_data(sk: TcpSock, tos: int, cwr: bool, has_data: bool) -> bool:
    """tcp_ecn_accept_cwr and tcp_ecn_check_ce for a data segment of an ECN connection: the
    sender's CWR ends our echo (and its data is ACKed at once); a CE mark starts echoing ECE
    (DEMAND_CWR) with quick ACKs (tcp_enter_quickack_mode(sk, 2)); a segment without ECT
    after ECT was seen (a retransmission, most likely) gets quick ACKs too. Returns whether
    the segment is to be ACKed at once (ICSK_ACK_NOW: data with CWR)."""
    if cwr:
        sk.ecn_flags &= ~TCP_ECN_DEMAND_CWR
    if not has_data:
        return False
    codepoint = tos & 3
    if codepoint == 0:
        if sk.ecn_flags & TCP_ECN_SEEN:
            _enter_quickack_mode(sk, 2)
        return cwr
    if codepoint == 3 and not sk.ecn_flags & TCP_ECN_DEMAND_CWR:
        _enter_quickack_mode(sk, 2)
        sk.ecn_flags |= TCP_ECN_DEMAND_CWR
    sk.ecn_flags |= TCP_ECN_SEEN
    return cwr


def _enter_quickack_mode(sk: TcpSock, max_quickacks: int) -> None:
    """tcp_enter_quickack_mode: up to `max_quickacks` quick ACKs, out of pingpong mode."""
    ack = sk.icsk_ack
    quick = sk.rcv_wnd // (2 * max(ack.rcv_mss, 1)) or 2
    ack.quick = max(ack.quick, min(quick, max_quickacks))
    ack.pingpong = 0
    ack.ato = TCP_ATO_MIN


def event_data_recv(sk: TcpSock, seg_len: int, now: float) -> None:
    """tcp_event_data_recv: the first data starts the delayed-ACK engine in quickack mode;
    later, ato follows the gap between data segments (halved towards 20 ms for back-to-back
    data, towards the gap when it is shorter than ato, at most the RTO), and a gap longer than
    the RTO gives quick ACKs again."""
    ack = sk.icsk_ack
    if seg_len >= ack.rcv_mss:
        # tcp_measure_rcv_mss: never above our advmss, whatever size a segment arrives in
        ack.rcv_mss = min(seg_len, sk.advmss)
    if not ack.ato:
        _incr_quickack(sk)
        ack.ato = TCP_ATO_MIN
    else:
        m = now - ack.lrcvtime
        if m <= TCP_ATO_MIN / 2:
            ack.ato = ack.ato / 2 + TCP_ATO_MIN / 2
        elif m < ack.ato:
            ack.ato = min(ack.ato / 2 + m, sk.rto)
        elif m > sk.rto:
            _incr_quickack(sk)
    ack.lrcvtime = now


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


def data_queue(sk: TcpSock, seg: TcpSegment, now: float) -> int:
    """tcp_data_queue + tcp_data_queue_ofo + tcp_ofo_queue. Returns DQ_* bits; the socket's
    TCP memory follows what was queued (mem_sync)."""
    dq = _data_queue(sk, seg, now)
    mem_sync(sk, now)
    return dq


def _data_queue(sk: TcpSock, seg: TcpSegment, now: float) -> int:
    mib = sk.ns.mib
    data = seg.payload
    fin = 1 if seg.flags & FIN else 0
    seq = seg.seq
    end = (seq + len(data) + fin) & M32
    if seq == sk.rcv_nxt and not receive_window(sk) and data:
        # in sequence, but the window is closed (a bare FIN still goes in)
        mib.tcp_ext.TCPZeroWindowDrop += 1
        return DQ_ACK_NOW | DQ_ZEROWINDOW
    if not after(end, sk.rcv_nxt):
        mib.tcp_ext.DelayedACKLost += 1  # a retransmission of what we have: ACK at once
        return DQ_ACK_NOW | DQ_OLD_DATA
    if not before(seq, (sk.rcv_nxt + receive_window(sk)) & M32):
        return DQ_ACK_NOW | DQ_OVERWINDOW  # out of window (a zero-window probe, say)
    if before(seq, sk.rcv_nxt) and not receive_window(sk):
        # a partial packet whose new tail lies beyond a closed window
        mib.tcp_ext.TCPZeroWindowDrop += 1
        return DQ_ACK_NOW | DQ_ZEROWINDOW
    if after(seq, sk.rcv_nxt):
        return DQ_ACK_NOW | _data_queue_ofo(sk, seq, end, data, fin, now)
    # queue_and_out: tcp_try_rmem_schedule, forced when the receive queue is empty
    if data and not _try_rmem_schedule(sk, len(data), None, now) and sk.recv_buf:
        mib.tcp_ext.TCPRcvQDrop += 1
        return DQ_ACK_NOW | DQ_RCVQ_DROP
    # in order (perhaps overlapping what we have): take the new part
    skip = (sk.rcv_nxt - seq) & M32
    had_ooo = bool(sk.ooo)
    fin_reached = _append(sk, data[skip:], fin)
    while sk.ooo and not fin_reached:
        item = sk.ooo.pop(sk.rcv_nxt, None)  # tcp_ofo_queue: the segment that fits next
        if item is not None:
            sk.ooo_bytes -= len(item[0]) + SKB_OVERHEAD
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
        sk.ooo_bytes -= len(odata) + SKB_OVERHEAD
        oend = (nxt + len(odata) + ofin) & M32
        if after(oend, sk.rcv_nxt):
            fin_reached = _append(sk, odata[(sk.rcv_nxt - nxt) & M32:], ofin)
    if fin_reached:
        sk.ooo = EMPTY_OOO
        sk.ooo_bytes = 0
        sk.ooo_ranges = EMPTY_RANGES
    elif had_ooo:
        if not sk.ooo:
            sk.ooo = EMPTY_OOO
        _ooo_trim(sk)
    # filling a hole (or leaving one) is ACKed at once; plain in-order data may wait
    return (DQ_ACK_NOW if had_ooo or sk.ooo else 0) | (DQ_FIN if fin_reached else 0)


def _data_queue_ofo(sk: TcpSock, seq: int, end: int, data: bytes, fin: int,
                    now: float) -> int:
    """tcp_data_queue_ofo: a segment that is already covered by what the queue holds is
    dropped (TCPOFOMerge); one that covers queued segments replaces them (one TCPOFOMerge
    each). Partial overlaps stay, as in the kernel, and the queue is charged against rcvbuf.
    (The kernel tests "already covered" against one queued segment at a time, tuxtcp against
    the union of them: a segment spanning two adjacent queued ones is dropped here, queued
    there with the second one merged away. The bytes held are the same.)"""
    mib = sk.ns.mib
    if not _try_rmem_schedule(sk, len(data) + SKB_OVERHEAD, seq, now):
        mib.tcp_ext.TCPOFODrop += 1
        return DQ_OFO_DROP
    mib.tcp_ext.TCPOFOQueue += 1
    sk.ooo_recent = seq
    base = sk.rcv_nxt
    s, e = (seq - base) & M32, (end - base) & M32
    overlaps = False
    for a, b in sk.ooo_ranges:
        ra, rb = (a - base) & M32, (b - base) & M32
        if ra < e and s < rb:
            overlaps = True
        if ra <= s and e <= rb:
            held = sk.ooo.get(seq)
            if held is not None and len(held[0]) + held[1] < len(data) + fin:
                break  # a longer copy of a queued segment's start is taken (below)
            mib.tcp_ext.TCPOFOMerge += 1  # "all the bits are present"
            return DQ_OFOMERGE
    if sk.ooo is EMPTY_OOO:
        sk.ooo = {}
    ooo = sk.ooo
    if overlaps:  # (the usual case, a segment next to what is queued, covers nothing)
        covered = [q for q, (qd, qf) in ooo.items()
                   if q != seq and s <= (q - base) & M32
                   and ((q + len(qd) + qf - base) & M32) <= e]
        for q in covered:
            sk.ooo_bytes -= len(ooo.pop(q)[0]) + SKB_OVERHEAD
            mib.tcp_ext.TCPOFOMerge += 1
    old = ooo.get(seq)
    if old is not None:
        sk.ooo_bytes -= len(old[0]) + SKB_OVERHEAD
    ooo[seq] = (bytes(data), fin)
    sk.ooo_bytes += len(data) + SKB_OVERHEAD
    _ooo_add_range(sk, seq, end)
    return 0


def _try_rmem_schedule(sk: TcpSock, size: int, in_seq: int | None, now: float) -> bool:
    """tcp_try_rmem_schedule: room for `size` more within rcvbuf and TCP memory
    (sk_rmem_schedule against tcp_mem), else tcp_prune_queue (PruneCalled; under memory
    pressure the window is clamped to 4 * advmss as tcp_adjust_rcv_ssthresh does; collapsing
    is implicit, the receive queue being one buffer) and tcp_prune_ofo_queue: out-of-order
    segments go from the highest sequence down, never one below the arriving segment's
    `in_seq` (OfoPruned), each giving its memory back. False: still no room (RcvPruned)."""
    if rmem_alloc(sk) + size <= sk.rcvbuf and mem_schedule(sk, size, SK_MEM_RECV, now):
        return True
    mib = sk.ns.mib
    mib.tcp_ext.PruneCalled += 1
    if sk.ns.tcp_memory_pressure >= 0:
        sk.rcv_wnd = min(sk.rcv_wnd, 4 * sk.advmss)
    ooo = sk.ooo
    if ooo:
        base = sk.rcv_nxt
        floor = (in_seq - base) & M32 if in_seq is not None else -1
        pruned = False
        for q in sorted(ooo, key=lambda q: (q - base) & M32, reverse=True):
            if (q - base) & M32 <= floor or (
                    rmem_alloc(sk) + size <= sk.rcvbuf
                    and mem_schedule(sk, size, SK_MEM_RECV, now)):
                break
            sk.ooo_bytes -= len(ooo.pop(q)[0]) + SKB_OVERHEAD
            mem_sync(sk, now)
            pruned = True
        if pruned:
            mib.tcp_ext.OfoPruned += 1
            if not ooo:
                sk.ooo = EMPTY_OOO
            sk.ooo_ranges = EMPTY_RANGES
            for q, (d, f) in sk.ooo.items():
                _ooo_add_range(sk, q, (q + len(d) + f) & M32)
    if rmem_alloc(sk) + size <= sk.rcvbuf and mem_schedule(sk, size, SK_MEM_RECV, now):
        return True
    mib.tcp_ext.RcvPruned += 1
    return False


def _append(sk: TcpSock, data: bytes, fin: int) -> bool:
    if data and not (sk.rcv_shutdown and sk.orphan):
        sk.recv_buf += data
    sk.rcv_nxt = (sk.rcv_nxt + len(data)) & M32
    return bool(fin)
