"""The reliable byte stream: send queue and SACK scoreboard, Reno congestion control with fast
retransmit/recovery and RTO loss recovery, and the receive side's out-of-order queue.

Follows tcp_input.c (tcp_ack, tcp_sacktag_write_queue, tcp_fastretrans_alert, tcp_data_queue,
tcp_ofo_queue), tcp_output.c (tcp_write_xmit, tcp_xmit_retransmit_queue) and tcp_cong.c
(tcp_reno_cong_avoid, tcp_reno_ssthresh). Simplifications, named where they apply: Reno
instead of CUBIC, cwnd cut straight to ssthresh instead of PRR, no DSACK, no RACK/TLP, ACKs
sent at once (no delayed ACK).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ..wire.seq import after, before
from ..wire.tcp import ACK, FIN, PSH, SYN
from .constants import TCP_RTO_MAX, TCP_RTO_MIN
from .output import send_ack, transmit
from .states import CLOSE, CLOSE_WAIT, CLOSING, ESTABLISHED, FIN_WAIT1, LAST_ACK

if TYPE_CHECKING:
    from ..wire.tcp import TcpSegment
    from .sock import TcpSock

M32: Final = 0xFFFFFFFF
SNDBUF_DEFAULT: Final = 16384 * 64
CONGESTION_CONTROL: Final = "reno"


class TxSeg:
    """One segment in the retransmission queue (an skb with its TCP_SKB_CB sacked bits)."""

    __slots__ = ("seq", "end", "data", "flags", "sent", "sacked", "lost", "retrans")

    def __init__(self, seq: int, data: bytes, flags: int, sent: float) -> None:
        self.seq = seq
        self.end = (seq + len(data) + (1 if flags & (SYN | FIN) else 0)) & M32
        self.data = data
        self.flags = flags
        self.sent = sent  # -1 once retransmitted (Karn: no RTT sample)
        self.sacked = False
        self.lost = False
        self.retrans = 0


# --- sender ----------------------------------------------------------------------------------
def in_flight(sk: TcpSock) -> int:
    """tcp_packets_in_flight: packets_out - (sacked_out + lost_out) + retrans_out, where a
    non-SACK peer's dupacks count as SACKed (tcp_add_reno_sack)."""
    return max(0, len(sk.rtx_queue) - sk.sacked_out - sk.lost_out + sk.retrans_out
               - sk.reno_sacked)


def _set_sacked(sk: TcpSock, ts: TxSeg) -> None:
    ts.sacked = True
    sk.sacked_out += 1
    if ts.lost:
        sk.lost_out -= 1
        if ts.retrans:
            sk.retrans_out -= 1


def _set_lost(sk: TcpSock, ts: TxSeg) -> None:
    if not ts.lost and not ts.sacked:
        ts.lost = True
        sk.lost_out += 1


def _unlink(sk: TcpSock, ts: TxSeg) -> None:
    """Counters for a segment leaving the queue (cumulatively acknowledged)."""
    if ts.sacked:
        sk.sacked_out -= 1
    elif ts.lost:
        sk.lost_out -= 1
        if ts.retrans:
            sk.retrans_out -= 1


def arm_rto(sk: TcpSock, now: float) -> None:
    """inet_csk_reset_xmit_timer(ICSK_TIME_RETRANS, rto)."""
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    sk.rtx_timer = sk.ns.arm(now, sk.rto, retransmit_handler(), sk)


def ensure_rto(sk: TcpSock, now: float) -> None:
    """Arm the retransmission timer unless it is already pending."""
    if sk.rtx_timer is None or not sk.rtx_timer.alive:
        arm_rto(sk, now)


_RETRANSMIT_TIMER: Callable[[TcpSock, float], None] | None = None


def retransmit_handler() -> Callable[[TcpSock, float], None]:
    """established.retransmit_timer, bound on first use (established imports this module)."""
    global _RETRANSMIT_TIMER
    if _RETRANSMIT_TIMER is None:
        from .established import retransmit_timer

        _RETRANSMIT_TIMER = retransmit_timer
    return _RETRANSMIT_TIMER


def update_rtt(sk: TcpSock, rtt: float) -> None:
    """tcp_rtt_estimator / tcp_set_rto (RFC 6298 with Linux's 200 ms floor)."""
    if sk.srtt == 0.0:
        sk.srtt = rtt
        sk.rttvar = rtt / 2
    else:
        sk.rttvar = 0.75 * sk.rttvar + 0.25 * abs(sk.srtt - rtt)
        sk.srtt = 0.875 * sk.srtt + 0.125 * rtt
    sk.rto = min(max(sk.srtt + max(4 * sk.rttvar, TCP_RTO_MIN), TCP_RTO_MIN), TCP_RTO_MAX)


def push(sk: TcpSock, now: float) -> None:
    """tcp_xmit_retransmit_queue, then tcp_write_xmit: lost segments first, then new data, as
    far as cwnd and the peer's window allow."""
    if sk.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, CLOSING, LAST_ACK):
        return
    mib = sk.ns.mib
    pipe = in_flight(sk)
    sent_any = False
    if sk.lost_out > sk.retrans_out:
        for ts in sk.rtx_queue:
            if pipe >= sk.cwnd:
                break
            if ts.lost and not ts.sacked and not ts.retrans:
                transmit(sk, ts.flags, ts.seq, ts.data, now, retrans=True)
                ts.retrans += 1
                sk.retrans_out += 1
                ts.sent = -1.0
                pipe += 1
                sent_any = True
                mib.tcp["RetransSegs"] += 1
                mib.tcp_ext["TCPFastRetrans" if sk.in_recovery else "TCPSlowStartRetrans"] += 1
                sk.num_retrans_total += 1
    mss = max(sk.mss_cache, 1)
    buf = sk.send_buf
    while buf and pipe < sk.cwnd:
        room = (sk.snd_una + sk.snd_wnd - sk.snd_nxt) & M32
        if room & 0x80000000:
            room = 0
        n = min(mss, len(buf), room)
        if n <= 0 or (n < mss and n < len(buf)):
            break  # wait for the window to open a full segment
        if n < mss and (sk.cork or (not sk.nodelay and sk.rtx_queue)):
            break  # tcp_nagle_test: hold a small segment while data is unacknowledged
        chunk = bytes(buf[:n])
        del buf[:n]
        flags = ACK | (PSH if not buf else 0)
        transmit(sk, flags, sk.snd_nxt, chunk, now)
        sk.rtx_queue.append(TxSeg(sk.snd_nxt, chunk, flags, now))
        sk.snd_nxt = (sk.snd_nxt + n) & M32
        pipe += 1
        sent_any = True
    if sk.fin_queued and not buf and not sk.fin_sent and not sk.fin_acked:
        transmit(sk, FIN | ACK, sk.snd_nxt, b"", now)
        sk.rtx_queue.append(TxSeg(sk.snd_nxt, b"", FIN | ACK, now))
        sk.snd_nxt = (sk.snd_nxt + 1) & M32
        sk.fin_sent = True
        sent_any = True
    if sent_any and sk.rtx_timer is None:
        arm_rto(sk, now)
    if buf and not sk.rtx_queue:
        check_probe_timer(sk, now)  # nothing in flight, data waiting: the window is shut


def check_probe_timer(sk: TcpSock, now: float) -> None:
    """tcp_check_probe_timer: arm the zero-window probe (persist) timer."""
    if sk.probe_timer is None or not sk.probe_timer.alive:
        sk.probe_timer = sk.ns.arm(now, _probe_interval(sk), probe_timer, sk)


def _probe_interval(sk: TcpSock) -> float:
    """tcp_probe0_when: max(rto, 200 ms) << probes_out, capped at 120 s."""
    return min(max(sk.rto, 0.2) * (1 << min(sk.probes_out, 16)), 120.0)


def probe_timer(sk: TcpSock, now: float) -> None:
    """tcp_probe_timer + tcp_write_wakeup: if the window opened, send; else a window probe
    (an ACK with an old sequence number, tcp_xmit_probe_skb) and back off."""
    sk.probe_timer = None
    if sk.state == CLOSE or not sk.send_buf or sk.rtx_queue:
        sk.probes_out = 0
        return
    room = (sk.snd_una + sk.snd_wnd - sk.snd_nxt) & M32
    if room and not room & 0x80000000:
        # tcp_write_wakeup: send what the (small) window takes, even a partial segment
        n = min(room, max(sk.mss_cache, 1), len(sk.send_buf))
        chunk = bytes(sk.send_buf[:n])
        del sk.send_buf[:n]
        flags = ACK | (PSH if not sk.send_buf else 0)
        transmit(sk, flags, sk.snd_nxt, chunk, now)
        sk.rtx_queue.append(TxSeg(sk.snd_nxt, chunk, flags, now))
        sk.snd_nxt = (sk.snd_nxt + n) & M32
        arm_rto(sk, now)
        return
    transmit(sk, ACK, (sk.snd_una - 1) & M32, b"", now)
    sk.ns.mib.tcp_ext["TCPWinProbe"] += 1
    sk.probes_out += 1
    sk.probe_timer = sk.ns.arm(now, _probe_interval(sk), probe_timer, sk)


def _sacktag(sk: TcpSock, blocks: tuple[tuple[int, int], ...]) -> None:
    """tcp_sacktag_write_queue: mark segments the peer holds; RFC 6675 marks the unSACKed
    segments below the highest SACKed one lost once three segments above them are SACKed."""
    q = sk.rtx_queue
    una = sk.snd_una
    for left, right in blocks:
        if not after(right, una) or after(right, sk.snd_nxt):
            continue  # old or invalid block
        # binary search for the first segment at or after `left` (the queue is in order)
        lo, hi = 0, len(q)
        rel_left = (left - una) & M32
        while lo < hi:
            mid = (lo + hi) // 2
            if (q[mid].seq - una) & M32 < rel_left:
                lo = mid + 1
            else:
                hi = mid
        rel_right = (right - una) & M32
        for i in range(lo, len(q)):
            ts = q[i]
            if (ts.end - una) & M32 > rel_right:
                break
            if not ts.sacked:
                _set_sacked(sk, ts)
                if after(ts.end, sk.high_sacked):
                    sk.high_sacked = ts.end


def _mark_lost(sk: TcpSock) -> None:
    if sk.sack_ok:
        above = 0
        for ts in reversed(sk.rtx_queue):
            if ts.sacked:
                above += 1
            elif above >= 3 and before(ts.seq, sk.high_sacked) and not ts.lost:
                _set_lost(sk, ts)
    head = sk.rtx_queue[0] if sk.rtx_queue else None
    if head is not None:
        _set_lost(sk, head)


def _enter_recovery(sk: TcpSock) -> None:
    """tcp_enter_recovery: ssthresh = max(cwnd/2, 2) (tcp_reno_ssthresh), cwnd to ssthresh."""
    mib = sk.ns.mib
    mib.tcp_ext["TCPSackRecovery" if sk.sack_ok else "TCPRenoRecovery"] += 1
    sk.ssthresh = max(sk.cwnd >> 1, 2)
    sk.cwnd = sk.ssthresh
    sk.cwnd_cnt = 0
    sk.in_recovery = True
    sk.recover = sk.snd_nxt
    _mark_lost(sk)


def _cong_avoid(sk: TcpSock, acked: int) -> None:
    """tcp_reno_cong_avoid: slow start below ssthresh, then one segment per cwnd ACKed."""
    if sk.cwnd < sk.ssthresh:
        grow = min(acked, sk.ssthresh - sk.cwnd)
        sk.cwnd += grow
        acked -= grow
        if not acked:
            return
    sk.cwnd_cnt += acked
    if sk.cwnd_cnt >= sk.cwnd:
        sk.cwnd += sk.cwnd_cnt // sk.cwnd
        sk.cwnd_cnt %= sk.cwnd if sk.cwnd else 1
    sk.cwnd = min(sk.cwnd, 10_000)


def on_ack(sk: TcpSock, seg: TcpSegment, now: float) -> bool:
    """tcp_ack. False for an ACK of something never sent (answered with an ACK, dropped)."""
    ack = seg.ack
    if after(ack, sk.snd_nxt):
        send_ack(sk, now)
        return False
    if before(ack, sk.snd_una):
        return True  # an old duplicate
    nwin = seg.window << sk.snd_wscale
    pure = not seg.payload and not seg.flags & (FIN | SYN)
    is_dup = ack == sk.snd_una and pure and nwin == sk.snd_wnd and bool(sk.rtx_queue)
    if after(ack, sk.snd_una) or after(seg.seq, sk.snd_wl1) or (
            seg.seq == sk.snd_wl1 and nwin > sk.snd_wnd):  # tcp_may_update_window
        if nwin:
            sk.probes_out = 0
        sk.snd_wnd = nwin
        sk.max_window = max(sk.max_window, nwin)
        sk.snd_wl1 = seg.seq
    if sk.sack_ok and seg.sack:
        _sacktag(sk, seg.sack)
    if after(ack, sk.snd_una):
        acked = 0
        rtt = None
        q = sk.rtx_queue
        while q and not after(q[0].end, ack):
            ts = q.popleft()
            _unlink(sk, ts)
            acked += 1
            if ts.flags & FIN:
                sk.fin_acked = True
            if ts.sent >= 0:
                rtt = now - ts.sent
        if q and before(q[0].seq, ack):
            # a partly acknowledged segment: keep only the unacknowledged tail
            head = q[0]
            cut = (ack - head.seq) & M32
            head.data = head.data[cut:]
            head.seq = ack
        sk.snd_una = ack
        sk.reno_sacked = 0
        sk.dupacks = 0
        if rtt is not None:
            update_rtt(sk, rtt)
        sk.retransmits = 0
        if sk.in_recovery or sk.in_loss:
            if not before(ack, sk.recover):
                if sk.in_recovery:
                    sk.cwnd = max(sk.ssthresh, 2)
                sk.in_recovery = sk.in_loss = False
            elif sk.in_recovery:
                _mark_lost(sk)  # a partial ACK: the next hole is lost too (NewReno)
            else:
                _cong_avoid(sk, acked)
        else:
            _cong_avoid(sk, acked)
        if q:
            arm_rto(sk, now)
        elif sk.rtx_timer is not None:
            sk.rtx_timer.cancel()
            sk.rtx_timer = None
    elif is_dup:
        sk.dupacks += 1
        if not sk.sack_ok:
            sk.reno_sacked = min(sk.reno_sacked + 1, max(0, len(sk.rtx_queue) - 1))
        if not sk.in_recovery and not sk.in_loss:
            if sk.dupacks >= 3 or sk.sacked_out >= 3:
                _enter_recovery(sk)
        elif sk.in_recovery and sk.sack_ok:
            _mark_lost(sk)
    if pure:
        sk.ns.mib.tcp_ext["TCPPureAcks"] += 1
    return True


def enter_loss(sk: TcpSock) -> None:
    """tcp_enter_loss after an RTO: ssthresh halves, cwnd 1, everything unSACKed is lost."""
    if not sk.in_loss:
        sk.ssthresh = max(sk.cwnd >> 1, 2)
    sk.cwnd = 1
    sk.cwnd_cnt = 0
    sk.in_recovery = False
    sk.in_loss = True
    sk.recover = sk.snd_nxt
    sk.dupacks = 0
    sk.reno_sacked = 0
    for ts in sk.rtx_queue:
        if not ts.sacked:
            _set_lost(sk, ts)
            ts.retrans = 0  # everything lost may go again
    sk.retrans_out = 0


def send(sk: TcpSock, data: bytes, now: float) -> int:
    """tcp_sendmsg: copy what fits in the send buffer and push."""
    inflight_bytes = (sk.snd_nxt - sk.snd_una) & M32
    room = _sndbuf(sk) - len(sk.send_buf) - inflight_bytes
    n = min(room, len(data))
    if n <= 0:
        return 0
    sk.send_buf += data[:n]
    sk.write_seq = (sk.write_seq + n) & M32
    push(sk, now)
    return n


TCP_WMEM_MAX: Final = 4 * 1024 * 1024  # tcp_wmem[2]
TCP_RMEM_MAX: Final = 6 * 1024 * 1024  # tcp_rmem[2]


def _sndbuf(sk: TcpSock) -> int:
    """sk_sndbuf, grown like tcp_sndbuf_expand (about 4 x cwnd segments) unless SO_SNDBUF."""
    if sk.buf_locked & 1:
        return sk.sndbuf
    return min(max(sk.sndbuf, 4 * sk.cwnd * max(sk.mss_cache, 536)), TCP_WMEM_MAX)


def send_room(sk: TcpSock) -> int:
    return _sndbuf(sk) - len(sk.send_buf) - ((sk.snd_nxt - sk.snd_una) & M32)


def rcv_space_adjust(sk: TcpSock, now: float) -> None:
    """tcp_rcv_space_adjust (dynamic right-sizing): once per RTT, if the application read
    more than last time, offer a window of twice that (up to tcp_rmem[2])."""
    rtt = max(sk.srtt, 0.001)
    if now - sk.space_time < rtt:
        return
    copied = (sk.copied_seq - sk.space_seq) & M32
    if copied > sk.space:
        sk.space = copied
        if not sk.buf_locked & 2:
            want = min(2 * copied + 2 * max(sk.rcv_mss, 536) * 16, TCP_RMEM_MAX)
            if want > sk.rcv_wnd:
                sk.rcv_wnd = want
                sk.rcvbuf = max(sk.rcvbuf, 2 * want)
    sk.space_seq = sk.copied_seq
    sk.space_time = now


TCP_ATO_MIN: Final = 0.04  # HZ/25
TCP_MAX_QUICKACKS: Final = 16


def event_data_recv(sk: TcpSock, seg_len: int) -> None:
    """tcp_event_data_recv: the first data starts the delayed-ACK engine in quickack mode."""
    if seg_len > sk.rcv_mss:
        sk.rcv_mss = seg_len
    if not sk.ato:
        rcv_mss = max(sk.rcv_mss, 1)
        sk.quick = min(max(sk.rcv_wnd // (2 * rcv_mss), 2), TCP_MAX_QUICKACKS)
        sk.ato = TCP_ATO_MIN


def ack_snd_check(sk: TcpSock, now: float) -> None:
    """__tcp_ack_snd_check: ACK at once in quickack mode or when more than one full segment is
    unacknowledged; otherwise arm the delayed-ACK timer (ato, 40 ms at first)."""
    unacked = (sk.rcv_nxt - sk.rcv_wup) & M32
    if sk.quick or unacked > max(sk.rcv_mss, 1):
        send_ack(sk, now)
        return
    if sk.delack_timer is None or not sk.delack_timer.alive:
        sk.delack_timer = sk.ns.arm(now, sk.ato, delack_timer, sk)


def delack_timer(sk: TcpSock, now: float) -> None:
    """tcp_delack_timer_handler: send the ACK we held back (DelayedACKs)."""
    sk.delack_timer = None
    if sk.state == CLOSE or sk.rcv_nxt == sk.rcv_wup:
        return
    sk.ns.mib.tcp_ext["DelayedACKs"] += 1
    send_ack(sk, now)


# --- receiver --------------------------------------------------------------------------------
def sack_blocks(sk: TcpSock) -> tuple[tuple[int, int], ...]:
    """The SACK option for our ACKs: out-of-order ranges, the most recent first (max 3 with
    timestamps, 4 without)."""
    if not sk.ooo_ranges:
        return ()
    recent = sk.ooo_recent
    ranges = sorted(sk.ooo_ranges, key=lambda r: 0 if (
        recent is not None and not before(recent, r[0]) and before(recent, r[1])) else 1)
    limit = 3 if sk.tstamp_ok else 4
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
    sk.ooo_ranges = [[a if after(a, nxt) else nxt, b] for a, b in sk.ooo_ranges
                     if after(b, nxt)]


def data_queue(sk: TcpSock, seg: TcpSegment) -> tuple[bool, bool]:
    """tcp_data_queue + tcp_ofo_queue. Returns (ack_now, fin_reached)."""
    mib = sk.ns.mib
    data = seg.payload
    fin = 1 if seg.flags & FIN else 0
    seq = seg.seq
    end = (seq + len(data) + fin) & M32
    if not after(end, sk.rcv_nxt):
        mib.tcp_ext["DelayedACKLost"] += 1  # a retransmission of what we have: ACK at once
        return True, False
    if after(seq, sk.rcv_nxt):
        if seq not in sk.ooo or len(sk.ooo[seq][0]) < len(data):
            sk.ooo[seq] = (bytes(data), fin)
            _ooo_add_range(sk, seq, end)
            mib.tcp_ext["TCPOFOQueue"] += 1
        sk.ooo_recent = seq
        return True, False
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
        sk.ooo.clear()
        sk.ooo_ranges = []
    elif had_ooo:
        _ooo_trim(sk)
    # filling a hole (or leaving one) is ACKed at once; plain in-order data may wait
    return had_ooo or bool(sk.ooo), fin_reached


def _append(sk: TcpSock, data: bytes, fin: int) -> bool:
    if data and not (sk.rcv_shutdown and sk.orphan):
        sk.recv_buf += data
    sk.rcv_nxt = (sk.rcv_nxt + len(data)) & M32
    return bool(fin)
