"""The receive queue: in-order data, the out-of-order queue and the SACK blocks it yields,
the delayed-ACK engine's state and receive-buffer auto-tuning (tcp_input.c: tcp_data_queue,
tcp_ofo_queue, tcp_event_data_recv, tcp_rcv_space_adjust; tcp_output.c: the SACK option)."""

from __future__ import annotations

from typing import Final

from ..net import drops as dr
from ..net.clock import round_int
from ..net.tcp_states import FIN_WAIT1, FIN_WAIT2
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import FIN, PSH, SYN, URG, TcpSegment
from .constants import TCP_ATO_MIN, TCP_ECN_DEMAND_CWR, TCP_ECN_SEEN
from .mem import (
    COLLAPSE_CHUNK,
    SK_MEM_RECV,
    alloc_skb_truesize,
    mem_schedule,
    mem_sync,
    rmem_alloc,
    skb_truesize,
    under_memory_pressure,
)
from .rcvwin import (
    adjust_rcv_ssthresh,
    clamp_window,
    grow_window,
    measure_rcv_mss,
    rcvbuf_grow,
)
from .sock import EMPTY_OOO, EMPTY_RANGES, EMPTY_RCVQ, TcpSock

__all__ = ["data_queue", "rmem_alloc"]

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


def _rcv_rtt_update(sk: TcpSock, sample_us: int, win_dep: bool) -> None:
    """tcp_rcv_rtt_update: the receiver's RTT, kept times 8: from timestamps a smoothed
    average (1/8 gain), from the window only a minimum."""
    est = sk.rcvq_space
    m = sample_us
    if est.rtt_us:
        if not win_dep:
            est.rtt_us += m - (est.rtt_us >> 3)
        elif m << 3 < est.rtt_us:
            est.rtt_us = m << 3
    else:
        est.rtt_us = m << 3


def rcv_rtt_measure(sk: TcpSock, now: float) -> None:
    """tcp_rcv_rtt_measure, for in-order data: the time for the window offered when the
    measure began to be filled is one RTT sample (at least 1 us); then a new measure."""
    est = sk.rcvq_space
    if est.rtt_time:
        if before(sk.rcv_nxt, est.rtt_seq):
            return
        _rcv_rtt_update(sk, max(round_int((now - est.rtt_time) * 1e6), 1), True)
    est.rtt_seq = (sk.rcv_nxt + sk.rcv_wnd) & M32
    est.rtt_time = now


def rcv_rtt_measure_ts(sk: TcpSock, seg_len: int, tsecr: int, now_ts: int) -> None:
    """tcp_rcv_rtt_measure_ts: a full-sized segment echoing a new timestamp of ours gives an
    RTT sample (ms granularity, at least 1 ms). `now_ts`: our timestamp clock now."""
    est = sk.rcvq_space
    if tsecr == est.last_tsecr:
        return
    est.last_tsecr = tsecr
    if seg_len >= sk.icsk_ack.rcv_mss:
        delta = (now_ts - tsecr) & M32
        if delta < 0x7FFFFFFF // 1000:
            _rcv_rtt_update(sk, max(delta, 1) * 1000, False)


def rcv_space_adjust(sk: TcpSock, now: float) -> None:
    """tcp_rcv_space_adjust (dynamic right-sizing): once per receiver RTT (none yet: not at
    all), if the application took more than last time (what it read less what still waits
    unread), the buffer grows for it (tcp_rcvbuf_grow)."""
    rtt_us = sk.rcvq_space.rtt_us
    if not rtt_us or (now - sk.rcvq_space.time) * 1e6 < rtt_us >> 3:
        return
    copied = ((sk.copied_seq - sk.rcvq_space.seq) & M32) - ((sk.rcv_nxt - sk.copied_seq) & M32)
    if copied > sk.rcvq_space.space:
        rcvbuf_grow(sk, copied, ooo_end(sk))
    sk.rcvq_space.seq = sk.copied_seq
    sk.rcvq_space.time = now


def ooo_end(sk: TcpSock) -> int | None:
    """The end of the out-of-order queue's last segment (tp->ooo_last_skb), None if empty."""
    return sk.ooo_ranges[-1][1] if sk.ooo_ranges else None


def rcvq_free(sk: TcpSock, copied_to: int) -> None:
    """The application read up to `copied_to`: the segments it finished are freed
    (sk_eat_skb), their truesize given back."""
    skbs = sk.rcvq_skbs
    n = 0
    for end, truesize in skbs:
        if after(end, copied_to):
            break
        sk.rcvq_truesize -= truesize
        n += 1
    if n == len(skbs):
        sk.rcvq_skbs = EMPTY_RCVQ
    elif n:
        del skbs[:n]


def rcvq_purge(sk: TcpSock) -> None:
    """The receive queue is dropped whole (close with unread data)."""
    sk.recv_buf.clear()
    sk.rcvq_skbs = EMPTY_RCVQ
    sk.rcvq_truesize = 0


def _incr_quickack(sk: TcpSock) -> None:
    """tcp_incr_quickack: rcv_wnd / (2 * rcv_mss) quick ACKs (2 if that is 0, at most 16)."""
    ack = sk.icsk_ack
    quick = min(sk.rcv_wnd // (2 * max(ack.rcv_mss, 1)) or 2, TCP_MAX_QUICKACKS)
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


def enter_quickack_mode(sk: TcpSock) -> None:
    """tcp_enter_quickack_mode(sk, TCP_MAX_QUICKACKS): what a segment the receiver cannot use
    (a duplicate, one outside the window) starts: quick ACKs, so the sender learns soon."""
    _enter_quickack_mode(sk, TCP_MAX_QUICKACKS)


def dsack_set(sk: TcpSock, seq: int, end: int) -> None:
    """tcp_dsack_set: report [seq, end) as received twice in the first SACK block of the next
    segment (RFC 2883), counted as old (below rcv_nxt: TCPDSACKOldSent) or out of order
    (TCPDSACKOfoSent); a D-SACK not yet sent is replaced. SACK connections with tcp_dsack."""
    if sk.rx_opt.sack_ok and sk.ns.sysctl.tcp_dsack:
        if before(seq, sk.rcv_nxt):
            sk.ns.mib.tcp_ext.TCPDSACKOldSent += 1
        else:
            sk.ns.mib.tcp_ext.TCPDSACKOfoSent += 1
        sk.dsack = (seq, end)


def dsack_extend(sk: TcpSock, seq: int, end: int) -> None:
    """tcp_dsack_extend: grow the pending D-SACK by [seq, end) where the two touch or overlap
    (tcp_sack_extend; a range apart from it is not reported), or set one."""
    d = sk.dsack
    if d is None:
        dsack_set(sk, seq, end)
    elif not after(seq, d[1]) and not after(d[0], end):
        sk.dsack = (seq if before(seq, d[0]) else d[0], end if after(end, d[1]) else d[1])


def _ofo_dsack(sk: TcpSock, seq: int, end: int) -> None:
    """tcp_data_queue_ofo's D-SACKs for [seq, end) against what the queue holds, each run of
    it taken as the one skb the kernel's coalescing (tcp_ooo_try_coalesce) makes of it: a
    segment inside a run is all duplicate; one starting inside a run reports the overlap to
    the run's end, or, starting where the run starts, the run it replaces; runs it covers
    further right are reported as it merges them (merge_right), a run it reaches into up to
    its end. A segment starting where a run ends is coalesced into it, which skips
    merge_right."""
    base = sk.rcv_nxt
    s, e = (seq - base) & M32, (end - base) & M32
    merging = False
    for a, b in sk.ooo_ranges:
        ra, rb = (a - base) & M32, (b - base) & M32
        if not merging:
            if rb < s:
                continue
            if rb == s:
                return  # coalesced with the run before it
            if ra <= s:
                if e <= rb:
                    dsack_set(sk, seq, end)  # all the bits are present
                    return
                if ra < s:
                    dsack_set(sk, seq, b)  # a partial overlap
                else:
                    dsack_extend(sk, a, b)  # it replaces the run
                merging = True
                continue
            merging = True
        if e <= ra:
            return
        if e < rb:
            dsack_extend(sk, a, end)
            return
        dsack_extend(sk, a, b)


def event_data_recv(sk: TcpSock, seg_len: int, truesize: int, hdr_len: int, remnant: bool,
                    now: float, gso_size: int = 0) -> None:
    """tcp_event_data_recv, for in-order data once queued: the peer's segment size and the
    scaling ratio are measured (tcp_measure_rcv_mss); the first data starts the delayed-ACK
    engine in quickack mode; later, ato follows the gap between data segments (halved
    towards 20 ms for back-to-back data, towards the gap when it is shorter than ato, at most
    the RTO), and a gap longer than the RTO gives quick ACKs again; a segment of 128 bytes
    or more may grow rcv_ssthresh (tcp_grow_window)."""
    ack = sk.icsk_ack
    measure_rcv_mss(sk, gso_size or seg_len, truesize, hdr_len, remnant, seg_len)
    rcv_rtt_measure(sk, now)
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
    if seg_len >= 128:
        grow_window(sk, seg_len, truesize)


def sack_blocks(sk: TcpSock) -> tuple[tuple[int, int], ...]:
    """The SACK option for our next segment (tcp_established_options, tcp_options_write): a
    pending D-SACK first, then the SACK blocks, the most recently changed first; as many as
    the option space takes (3 with timestamps, 4 without). Writing it sends the D-SACK:
    once."""
    d = sk.dsack
    limit = 3 if sk.rx_opt.tstamp_ok else 4
    blocks = [(a, b) for a, b in sk.sack_list]
    if d is not None:
        sk.dsack = None
        blocks.insert(0, d)
    return tuple(blocks[:limit])


TCP_NUM_SACKS: Final = 4


def _sack_extend(block: list[int], seq: int, end: int) -> bool:
    """tcp_sack_extend: grow `block` by [seq, end) where they touch or overlap."""
    if not after(seq, block[1]) and not after(block[0], end):
        if before(seq, block[0]):
            block[0] = seq
        if after(end, block[1]):
            block[1] = end
        return True
    return False


def _sack_new_ofo(sk: TcpSock, seq: int, end: int) -> None:
    """tcp_sack_new_ofo_skb: an out-of-order segment (queued, merged or a duplicate): the
    block it extends moves to the front (and swallows those it now reaches,
    tcp_sack_maybe_coalesce); else a new block goes in front, the oldest dropped past four."""
    blocks = [list(b) for b in sk.sack_list]
    for i, b in enumerate(blocks):
        if _sack_extend(b, seq, end):
            blocks.insert(0, blocks.pop(i))
            head = blocks[0]
            blocks = [head] + [x for x in blocks[1:] if not _sack_extend(head, x[0], x[1])]
            sk.sack_list = blocks
            return
    blocks.insert(0, [seq, end])
    sk.sack_list = blocks[:TCP_NUM_SACKS]


def _sack_remove(sk: TcpSock) -> None:
    """tcp_sack_remove: rcv_nxt moved; blocks it reached go (all of them once the
    out-of-order queue is empty)."""
    if not sk.ooo:
        sk.sack_list = EMPTY_RANGES
        return
    nxt = sk.rcv_nxt
    kept = [b for b in sk.sack_list if before(nxt, b[0])]
    sk.sack_list = kept if kept else EMPTY_RANGES


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
    dlen = len(data)  # (a length is read inline when compiled; `if data` is a call)
    fin = 1 if seg.flags & FIN else 0
    seq = seg.seq
    end = (seq + dlen + fin) & M32
    sk.dsack = None  # tcp_data_queue: a D-SACK not sent yet is forgotten
    in_sequence = seq == sk.rcv_nxt
    # tcp_data_queue's out_of_window: what cannot be used starts quick ACKs
    if in_sequence:
        if dlen and not receive_window(sk):
            # in sequence, but the window is closed (a bare FIN still goes in: some stacks
            # send FINs into a closed window; taking it breaks a FIN/ACK loop)
            mib.tcp_ext.TCPZeroWindowDrop += 1
            enter_quickack_mode(sk)
            return DQ_ACK_NOW | DQ_ZEROWINDOW
    else:
        if not after(end, sk.rcv_nxt):
            mib.tcp_ext.DelayedACKLost += 1  # a retransmission of what we have: ACK at once
            dsack_set(sk, seq, end)
            enter_quickack_mode(sk)
            return DQ_ACK_NOW | DQ_OLD_DATA
        if not before(seq, (sk.rcv_nxt + receive_window(sk)) & M32):
            enter_quickack_mode(sk)
            return DQ_ACK_NOW | DQ_OVERWINDOW  # out of window (a zero-window probe, say)
        if before(seq, sk.rcv_nxt):
            dsack_set(sk, seq, sk.rcv_nxt)  # a partial packet: its head is a duplicate
            if not receive_window(sk):
                # its new tail lies beyond a closed window
                mib.tcp_ext.TCPZeroWindowDrop += 1
                enter_quickack_mode(sk)
                return DQ_ACK_NOW | DQ_ZEROWINDOW
    # what the segment costs as an skb (IPv4 header, TCP header, payload) and what
    # tcp_measure_rcv_mss looks at
    hdr_len = seg.header_len()
    truesize = skb_truesize(20 + hdr_len + dlen)
    remnant = bool(seg.flags & (FIN | URG | SYN | PSH))
    if after(seq, sk.rcv_nxt):
        return DQ_ACK_NOW | _data_queue_ofo(sk, seq, end, data, fin, truesize, hdr_len,
                                            remnant, now, seg.gso_size)
    ack_now = 0
    if not _try_rmem_schedule(sk, dlen, truesize, None, now):
        # queue_and_out: no room: a zero window on the ACK that goes at once (ICSK_ACK_NOMEM);
        # dropped if it carries data and the receive queue holds some (else
        # sk_forced_mem_schedule). (A bare FIN is not charged: the kernel merges it into the
        # queue's last segment.)
        sk.ack_nomem = True
        ack_now = DQ_ACK_NOW
        if dlen and sk.rcvq_skbs:
            mib.tcp_ext.TCPRcvQDrop += 1
            return DQ_ACK_NOW | DQ_RCVQ_DROP
    # in order (perhaps overlapping what we have): take the new part
    skip = (sk.rcv_nxt - seq) & M32
    had_ooo = bool(sk.ooo)
    fin_reached = _append(sk, data[skip:], fin, truesize)
    if dlen:
        event_data_recv(sk, dlen, truesize, hdr_len, remnant, now, seg.gso_size)
    dsack_high = sk.rcv_nxt
    while sk.ooo and not fin_reached:
        item = sk.ooo.pop(sk.rcv_nxt, None)  # tcp_ofo_queue: the segment that fits next
        if item is not None:
            sk.ooo_bytes -= item[2]
            fin_reached = _append(sk, item[0], item[1], item[2])
            continue
        nxt = None
        for s in sk.ooo:  # rare: a queued segment overlapping rcv_nxt
            if not after(s, sk.rcv_nxt):
                nxt = s
                break
        if nxt is None:
            break
        odata, ofin, otruesize = sk.ooo.pop(nxt)
        sk.ooo_bytes -= otruesize
        oend = (nxt + len(odata) + ofin) & M32
        if before(nxt, dsack_high):
            # tcp_ofo_queue: what this segment repeats of the data before it
            dsack_extend(sk, nxt, dsack_high)
            if before(oend, dsack_high):
                dsack_high = oend
        if after(oend, sk.rcv_nxt):
            fin_reached = _append(sk, odata[(sk.rcv_nxt - nxt) & M32:], ofin, otruesize)
    if fin_reached:
        sk.ooo = EMPTY_OOO
        sk.ooo_bytes = 0
        sk.ooo_ranges = EMPTY_RANGES
        sk.sack_list = EMPTY_RANGES  # tcp_fin: tcp_sack_reset
        if sk.state not in (FIN_WAIT1, FIN_WAIT2):
            # tcp_sack_reset forgets a pending D-SACK too; from FIN_WAIT1/2 tcp_fin's ACK
            # went first, carrying it
            sk.dsack = None
    elif had_ooo:
        if not sk.ooo:
            sk.ooo = EMPTY_OOO
        _ooo_trim(sk)
        if sk.sack_list:
            _sack_remove(sk)
    # filling a hole (or leaving one) is ACKed at once; plain in-order data may wait
    return (DQ_ACK_NOW if had_ooo or sk.ooo else ack_now) | (DQ_FIN if fin_reached else 0)


def _data_queue_ofo(sk: TcpSock, seq: int, end: int, data: bytes, fin: int, truesize: int,
                    hdr_len: int, remnant: bool, now: float, gso_size: int) -> int:
    """tcp_data_queue_ofo: the segment's size is measured (6.18 does it for out-of-order
    data too); a segment that is already covered by what the queue holds is dropped
    (TCPOFOMerge); one that covers queued segments replaces them (one TCPOFOMerge each).
    Partial overlaps stay, as in the kernel. A queued segment may grow rcv_ssthresh (SACK
    flows only: without SACK the window stays, so the sender's duplicate ACKs come); then,
    unless the socket has no owner yet (not accepted) or any more (closed), the buffer grows
    to hold the queue's span (tcp_rcvbuf_grow). (The kernel tests "already covered" against
    one queued segment at a time, tuxtcp against the union of them: a segment spanning two
    adjacent queued ones is dropped here, queued there with the second one merged away. The
    bytes held are the same.)"""
    mib = sk.ns.mib
    if data:
        measure_rcv_mss(sk, gso_size or len(data), truesize, hdr_len, remnant, len(data))
    if not _try_rmem_schedule(sk, len(data), truesize, seq, now):
        mib.tcp_ext.TCPOFODrop += 1
        return DQ_OFO_DROP
    sk.rcv_ooopack += -(-len(data) // gso_size) if gso_size and data else 1
    mib.tcp_ext.TCPOFOQueue += 1
    if sk.ooo_ranges:
        _ofo_dsack(sk, seq, end)
    if sk.rx_opt.sack_ok:
        if not sk.ooo:
            sk.sack_list = [[seq, end]]  # the first out-of-order segment: one block
        else:
            _sack_new_ofo(sk, seq, end)  # add_sack (a duplicate or merged one too)
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
            _ofo_rcvbuf_grow(sk)
            return DQ_OFOMERGE
    if sk.ooo is EMPTY_OOO:
        sk.ooo = {}
    ooo = sk.ooo
    if overlaps:  # (the usual case, a segment next to what is queued, covers nothing)
        covered = [q for q, (qd, qf, _) in ooo.items()
                   if q != seq and s <= (q - base) & M32
                   and ((q + len(qd) + qf - base) & M32) <= e]
        for q in covered:
            sk.ooo_bytes -= ooo.pop(q)[2]
            mib.tcp_ext.TCPOFOMerge += 1
    old = ooo.get(seq)
    if old is not None:
        sk.ooo_bytes -= old[2]
    if data and sk.rx_opt.sack_ok:
        grow_window(sk, len(data), truesize)  # before it is charged, as the kernel does
    ooo[seq] = (bytes(data), fin, truesize)
    sk.ooo_bytes += truesize
    _ooo_add_range(sk, seq, end)
    _ofo_rcvbuf_grow(sk)
    return 0


def _ofo_rcvbuf_grow(sk: TcpSock) -> None:
    """tcp_data_queue_ofo's last step: grow the buffer for the out-of-order span, for a
    socket with an owner (sk->sk_socket: accepted, or opened by connect, and not closed)."""
    if sk.parent is None and not sk.orphan:
        rcvbuf_grow(sk, sk.rcvq_space.space, ooo_end(sk))


def _can_ingest(sk: TcpSock, length: int) -> bool:
    """tcp_can_ingest: the segment's payload fits under rcvbuf with what is charged (the
    payload, not the truesize, so a small SO_RCVBUF still takes data)."""
    return rmem_alloc(sk) + length <= sk.rcvbuf


def _try_rmem_schedule(sk: TcpSock, length: int, truesize: int, in_seq: int | None,
                       now: float) -> bool:
    """tcp_try_rmem_schedule: the payload fits under rcvbuf and TCP memory has the truesize
    (sk_rmem_schedule against tcp_mem), else tcp_prune_queue, then out-of-order segments go
    until TCP memory has it. False: still no room."""
    if _can_ingest(sk, length) and mem_schedule(sk, truesize, SK_MEM_RECV, now):
        return True
    if not _prune_queue(sk, length, in_seq, now):
        return False
    while not mem_schedule(sk, truesize, SK_MEM_RECV, now):
        if not _prune_ofo_queue(sk, length, in_seq, now):
            return False
    return True


def _prune_queue(sk: TcpSock, length: int, in_seq: int | None, now: float) -> bool:
    """tcp_prune_queue (PruneCalled): over rcvbuf, tcp_clamp_window (an auto-tuned buffer
    grows to what is charged); under memory pressure rcv_ssthresh comes down to four
    segments; then out-of-order segments go (tcp_prune_ofo_queue). False, RcvPruned: still
    over rcvbuf. Before that, the receive queue is collapsed (tcp_collapse); the
    out-of-order queue is not (tcp_collapse_ofo_queue is not modelled)."""
    sk.ns.mib.tcp_ext.PruneCalled += 1
    if not _can_ingest(sk, length):
        clamp_window(sk)
    elif under_memory_pressure(sk):
        adjust_rcv_ssthresh(sk)
    if _can_ingest(sk, length):
        return True
    _collapse_rcvq(sk)
    if _can_ingest(sk, length):
        return True
    _prune_ofo_queue(sk, length, in_seq, now)
    if _can_ingest(sk, length):
        return True
    sk.ns.mib.tcp_ext.RcvPruned += 1
    return False


def _collapse_rcvq(sk: TcpSock) -> None:
    """tcp_collapse on the receive queue, from copied_seq to rcv_nxt: what the application has
    not read is copied into dense skbs of a page each (SKB_MAX_ORDER(0, 0) bytes), which
    frees the overhead of many small segments (TCPRcvCollapsed: the segments copied). Done
    only when it frees something. (The kernel starts at the first bloated segment; here the
    whole unread queue is copied.)"""
    skbs = sk.rcvq_skbs
    if len(skbs) < 2:
        return
    remaining = (sk.rcv_nxt - sk.copied_seq) & M32
    pos = sk.copied_seq
    dense: list[tuple[int, int]] = []
    total = 0
    while remaining > 0:
        n = min(COLLAPSE_CHUNK, remaining)
        pos = (pos + n) & M32
        size = alloc_skb_truesize(n)
        dense.append((pos, size))
        total += size
        remaining -= n
    if total >= sk.rcvq_truesize:
        return
    sk.ns.mib.tcp_ext.TCPRcvCollapsed += len(skbs)
    sk.rcvq_skbs = dense if dense else EMPTY_RCVQ
    sk.rcvq_truesize = total


def _prune_ofo_queue(sk: TcpSock, length: int, in_seq: int | None, now: float) -> bool:
    """tcp_prune_ofo_queue: out-of-order segments go from the highest sequence down, never
    one below the arriving segment's `in_seq`, an eighth of rcvbuf at a time until the
    segment fits and TCP memory is not under pressure (OfoPruned), each giving its memory
    back. True: something went."""
    ooo = sk.ooo
    if not ooo:
        return False
    base = sk.rcv_nxt
    floor = (in_seq - base) & M32 if in_seq is not None else -1
    goal = sk.rcvbuf >> 3
    pruned = False
    order = sorted(ooo, key=lambda q: (q - base) & M32, reverse=True)
    for i, q in enumerate(order):
        if (q - base) & M32 < floor:
            break
        pruned = True
        truesize = ooo.pop(q)[2]
        goal -= truesize
        sk.ooo_bytes -= truesize
        mem_sync(sk, now)
        if i == len(order) - 1 or goal <= 0:
            if _can_ingest(sk, length) and not under_memory_pressure(sk):
                break
            goal = sk.rcvbuf >> 3
    if pruned:
        sk.ns.mib.tcp_ext.OfoPruned += 1
        sk.dsack = None  # tcp_sack_reset: no D-SACK and no SACK blocks until new data comes
        sk.sack_list = EMPTY_RANGES
        if not ooo:
            sk.ooo = EMPTY_OOO
        sk.ooo_ranges = EMPTY_RANGES
        for q, (d, f, _) in sk.ooo.items():
            _ooo_add_range(sk, q, (q + len(d) + f) & M32)
    return pruned


def _append(sk: TcpSock, data: bytes, fin: int, truesize: int) -> bool:
    """In-order data onto the receive queue, charged its segment's truesize."""
    if len(data) and not (sk.rcv_shutdown and sk.orphan):
        sk.recv_buf += data
        if sk.rcvq_skbs is EMPTY_RCVQ:
            sk.rcvq_skbs = []
        sk.rcvq_skbs.append(((sk.rcv_nxt + len(data)) & M32, truesize))
        sk.rcvq_truesize += truesize
    sk.rcv_nxt = (sk.rcv_nxt + len(data)) & M32
    return bool(fin)
