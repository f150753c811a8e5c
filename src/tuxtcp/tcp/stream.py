"""The sending half of the byte stream: the send queue and the retransmission queue with its SACK
scoreboard, tcp_ack split into the kernel's steps, fast retransmit/recovery and RTO loss
recovery, zero-window probes, delayed ACKs and the FIN.

Follows tcp_input.c (tcp_ack, tcp_ack_update_window, tcp_sacktag_write_queue,
tcp_clean_rtx_queue, tcp_fastretrans_alert, tcp_enter_loss), tcp_output.c (tcp_write_xmit,
tcp_xmit_retransmit_queue, tcp_send_probe0, tcp_send_fin, __tcp_ack_snd_check) and the congestion
ops of cong.py, with PRR in Recovery and CWR (tcp_cwnd_reduction) and classic ECN's sender
side, and tail loss probes (tcp_send_loss_probe, tcp_process_tlp_ack; rto.py schedules them).
Loss detection is RACK's (rack.py) for SACK connections, NewReno's for the others; needless
reductions are undone (tcp_try_undo_*) and F-RTO judges RTOs; TSO deferral
(tcp_tso_should_defer) holds back a short packet when a fuller one is an ACK away.
Simplifications, named where they apply: a lost multi-segment packet is resent segment by
segment; the unsent bytes are one skb, the write queue's tail. The receiving half is
receive.py (which sends D-SACKs).
"""

from __future__ import annotations

from typing import Final

from ..net.clock import round_int
from ..net.drops import CONSUMED, TCP_ACK_UNSENT_DATA, TCP_TOO_OLD_ACK
from ..net.route import MTU_ETHERNET
from ..net.sysctl_specs import HZ
from ..net.tcp_states import CLOSE_WAIT, CLOSING, ESTABLISHED, FIN_WAIT1, LAST_ACK
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import ACK, ECE, FIN, PSH, SYN, TcpSegment
from . import tracepoints as tp
from .chrono import (
    CHRONO_BUSY,
    CHRONO_RWND_LIMITED,
    CHRONO_SNDBUF_LIMITED,
    chrono_start,
    chrono_stop,
)
from .cong import (
    TCP_CA_CWR,
    TCP_CA_DISORDER,
    TCP_CA_LOSS,
    TCP_CA_OPEN,
    TCP_CA_RECOVERY,
    set_ca_state,
)
from .constants import (
    TCP_DELACK_MAX,
    TCP_DELACK_MIN,
    TCP_ECN_OK,
    TCP_ECN_QUEUE_CWR,
    TCP_INIT_CWND,
    TCP_RTO_MAX,
    TCP_RTO_MIN,
    TCP_TIMEOUT_MIN,
    TIMER_DACK,
    TIMER_PROBE0,
)
from .lifecycle import wake
from .mem import SK_MEM_SEND, mem_schedule, mem_sync, sndbuf, under_memory_pressure
from .minisocks import oow_rate_limited
from .output import current_mss, send_ack, sync_mss, transmit, tsval_of
from .pacing import tso_segs
from .rack import (
    check_sack_reordering,
    highest_sack_seq,
    mark_skb_lost,
    rack,
    rack_advance,
    update_reo_wnd,
)
from .rack import detect_loss as rack_detect_loss
from .rack import mark_lost as rack_mark_lost
from .rack import us as rack_us
from .rate import RateSample, check_app_limited, copy_rate, rate_gen, skb_delivered, skb_sent
from .rcvwin import select_window_space
from .rto import arm_rto, rearm_rto, schedule_loss_probe, update_rto_time, update_rtt
from .sock import (
    EMPTY_SCOREBOARD,
    TcpSock,
    TxSeg,
    fin_unsent,
    has_send_head,
    in_flight,
    in_pingpong_mode,
    in_quickack_mode,
    rtx_enqueue,
    rtx_give_up,
    scoreboard,
    stamp_tx,
)
from .undo import (
    any_retrans_done,
    current_ssthresh,
    init_undo,
    process_loss,
    try_keep_open,
    try_undo_dsack,
    try_undo_partial,
    try_undo_recovery,
)

SNDBUF_DEFAULT: Final = 16384 * 64


# --- the scoreboard --------------------------------------------------------------------------
def _set_sacked(sk: TcpSock, ts: TxSeg) -> None:
    """tcp_sacktag_one's marking: SACKed, no longer lost; a lost segment's retransmission
    is no longer out either (one resent without being lost, after an undo, stays counted in
    retrans_out until it is cumulatively acknowledged)."""
    ts.sacked = True
    sb = scoreboard(sk)
    sb.sacked_out += 1
    if ts.lost:
        sb.lost_out -= 1
        ts.lost = False
        if ts.retrans:
            sb.retrans_out -= 1
            ts.retrans = 0


def _set_lost(sk: TcpSock, ts: TxSeg) -> None:
    if not ts.lost and not ts.sacked:
        ts.lost = True
        scoreboard(sk).lost_out += 1


def _unlink(sk: TcpSock, ts: TxSeg) -> None:
    """Counters for a segment leaving the queue (cumulatively acknowledged)."""
    if ts.sacked:
        scoreboard(sk).sacked_out -= 1
    elif ts.lost:
        scoreboard(sk).lost_out -= 1
    if ts.retrans:
        scoreboard(sk).retrans_out -= 1


# --- sending --------------------------------------------------------------------------------
def push(sk: TcpSock, now: float, new_data: bool = True, rtx: bool = True) -> None:
    """tcp_xmit_retransmit_queue, then tcp_write_xmit: lost segments first, then new data, as
    far as cwnd and the peer's window allow (`new_data` False: the retransmissions only;
    `rtx` False: new data only)."""
    if sk.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, CLOSING, LAST_ACK):
        return
    if sk.frto_new and new_data:
        # tcp_xmit_recovery(REXMIT_NEW): F-RTO's new data first; only if none went beyond
        # high_seq does F-RTO end and the retransmissions follow
        sk.frto_new = False
        push(sk, now, True, False)
        if after(sk.snd_nxt, sk.recover):
            return
        sk.frto = False
        push(sk, now, False)
        return
    if not has_send_head(sk) and (not rtx or sk.sack.lost_out <= sk.sack.retrans_out):
        # tcp_push_pending_frames: no send head, so tcp_write_xmit (and its cwnd validation)
        # does not run; nor does tcp_xmit_retransmit_queue find anything lost
        return
    mib = sk.ns.mib
    mss = max(current_mss(sk, now), 1)
    max_segs = tso_segs(sk, mss)
    pipe = in_flight(sk)
    sent_any = False
    rearm = False
    if rtx and sk.sack.lost_out > sk.sack.retrans_out:
        if sk.pmtu_cookie < MTU_ETHERNET:
            recut_lost(sk, mss, max_segs, sk.cwnd - pipe)  # the path MTU fell
        for ts in sk.rtx_queue:
            if pipe >= sk.cwnd:
                break
            if ts.lost and not ts.sacked and not ts.retrans:
                transmit(sk, ts.flags, ts.seq, ts.data, now, retrans=True)
                if sk.ns.trace.on_retransmit_skb:
                    tp.retransmit_skb(sk, ts.seq, now)
                ts.retrans += 1
                ts.ever_retrans = True
                scoreboard(sk).retrans_out += 1
                # tcp_retransmit_skb: one more a D-SACK would have to show needless
                sk.undo_retrans = max(sk.undo_retrans, 0) + 1
                if sk.retrans_stamp < 0:
                    # tcp_retransmit_skb: the segment's timestamp after it left again, so the
                    # time of the episode's first retransmission (checked on 6.18)
                    sk.retrans_stamp = now
                ts.sent = -1.0
                stamp_tx(sk, ts, now)
                skb_sent(sk, ts, now)
                pipe += 1
                sent_any = True
                rearm = rearm or ts is sk.rtx_queue[0]
                if sk.ca_state in (TCP_CA_CWR, TCP_CA_RECOVERY):
                    sk.prr_out += 1
                mib.tcp.RetransSegs += 1
                if sk.ca_state != TCP_CA_LOSS:
                    mib.tcp_ext.TCPFastRetrans += 1
                else:
                    mib.tcp_ext.TCPSlowStartRetrans += 1
                sk.num_retrans_total += 1
    if rearm and not sk.reo_armed:
        # tcp_xmit_retransmit_queue: the head went again, so the RTO counts from now (not
        # while RACK's reordering timer holds the slot)
        arm_rto(sk, now)
    if not new_data:
        return
    buf = sk.send_buf
    sent_new = 0
    cwnd_limited = False
    rwnd_limited = False
    send_head = has_send_head(sk)
    prior_packets = len(sk.rtx_queue)
    while buf and pipe < sk.cwnd:
        # tcp_write_xmit: one TSO packet a pass, of at most min(cwnd room, tso_segs) segments
        # (tcp_grow_skb lets it span the skbs the writes made)
        quota = min(sk.cwnd - pipe, max_segs)
        room = (sk.snd_una + sk.snd_wnd - sk.snd_nxt) & M32
        if room & 0x80000000:
            room = 0
        avail = len(buf)
        if min(mss, avail) > room:
            rwnd_limited = True
            break  # tcp_snd_wnd_test: the first segment must fit the window
        if avail <= mss:
            n = avail
            if n < mss and not fin_unsent(sk) and _nagle_holds(sk):
                break  # tcp_nagle_test (a FIN bypasses it)
        else:
            defer = _tso_should_defer(sk, avail, room, pipe, max_segs, now)
            if defer:
                cwnd_limited = cwnd_limited or defer == _DEFER_CWND
                rwnd_limited = defer == _DEFER_RWND
                break
            # tcp_mss_split_point: whole segments, or a partial one where Nagle allows
            max_len = mss * quota
            n = min(avail, room)
            if max_len <= n:
                n = max_len
            elif n % mss and _nagle_holds(sk):
                n -= n % mss
        # PSH: 6.18 marks every TSO packet of new data; a single segment cut from the front
        # of a longer unsent skb has none (tso_fragment leaves it on the tail). The writes
        # queued while cwnd-limited join one skb (size_goal is ~64 KB), so only the segment
        # that empties the queue carries the last write's PSH (checked with
        # tcp_min_tso_segs=1). (Skbs split at size_goal are not modelled.)
        _send_new(sk, bytes(buf[:n]), mss, now, PSH if n > mss or n == avail else 0)
        del buf[:n]
        segs = -(-n // mss)
        pipe += segs
        sent_new += segs
    if send_head:  # the end of tcp_write_xmit, which runs only with a send head
        if rwnd_limited:
            chrono_start(sk, CHRONO_RWND_LIMITED, now)
        else:
            chrono_stop(sk, CHRONO_RWND_LIMITED, now)
    cwnd_limited = cwnd_limited or pipe >= sk.cwnd
    if sent_new or cwnd_limited:
        if sk.ca_state in (TCP_CA_CWR, TCP_CA_RECOVERY):
            sk.prr_out += sent_new
        _cwnd_validate(sk, cwnd_limited, now)  # the end of tcp_write_xmit
        sent_any = sent_any or bool(sent_new)
    if not buf and fin_unsent(sk):
        # tcp_send_fin found nothing unsent to put the FIN on: a FIN of its own
        transmit(sk, FIN | ACK, sk.snd_nxt, b"", now)
        ts = TxSeg(sk.snd_nxt, b"", FIN | ACK, now)
        skb_sent(sk, ts, now)
        rtx_enqueue(sk, ts)
        sk.snd_nxt = (sk.snd_nxt + 1) & M32
        sk.fin_sent = True
        sent_any = True
        sent_new += 1
    # tcp_event_new_data_sent re-arms the RTO with the first packet out (a pending loss probe
    # gives way to it); the end of tcp_write_xmit then schedules a probe, which replaces that
    # timer: so the RTO is armed only when no probe is
    if (sent_new and not schedule_loss_probe(sk, now, False)
            and (not prior_packets or sk.loss_probe_armed)):
        rearm_rto(sk, now)
    if sent_any and sk.rtx_timer is None:
        arm_rto(sk, now)
    if buf and not sk.rtx_queue:
        check_probe_timer(sk, now)  # nothing in flight, data waiting: the window is shut


_DEFER_CWND: Final = 1  # held back, cwnd-limited (tcp_tso_should_defer's is_cwnd_limited)
_DEFER_RWND: Final = 2  # held back by the receive window (is_rwnd_limited)
_DEFER_MORE: Final = 3  # held back for more data
TSO_DEFER_RECENT: Final = 0.001  # only a socket that wrote within the last ms may wait
TCP_MAX_TSO_DEFERRED_MSS: Final = 3  # tcp_max_tso_deferred_mss (tcp_tso_win_divisor 0)


def _tso_should_defer(sk: TcpSock, skb_len: int, send_win: int, pipe: int, max_segs: int,
                      now: float) -> int:
    """tcp_tso_should_defer: hold back a packet of more than one segment that could leave only
    short of a full TSO packet, when an ACK that would let a fuller one go is due within
    min(1 ms, srtt / 2) and the socket sent something within the last millisecond. Returns 0
    to send now, else why it waits. The unsent bytes are taken as the write queue's tail skb
    (the writes join one skb up to size_goal, which is not modelled), so skb_len is all of
    them; MSG_EOR is not modelled. Checked on 6.18: tests/packetdrill/tso-defer*.pkt."""
    if sk.ca_state >= TCP_CA_RECOVERY:
        return 0  # Recovery and Loss send what they may
    if now - sk.wstamp > TSO_DEFER_RECENT:
        return 0  # tcp_wstamp_ns more than a millisecond ago: no burst to wait for
    mss = sk.mss_cache
    cong_win = (sk.cwnd - pipe) * mss
    limit = min(send_win, cong_win)
    if limit >= max_segs * mss:
        return 0  # a full-sized TSO packet can go
    divisor = sk.ns.sysctl.tcp_tso_win_divisor
    if divisor:
        if limit >= min(sk.snd_wnd, sk.cwnd * mss) // divisor:
            return 0  # at least that share of the window is open: use it
    elif limit > TCP_MAX_TSO_DEFERRED_MSS * mss:
        return 0
    if not sk.rtx_queue:
        return 0
    # when is the ACK of the head of the retransmission queue expected, and how soon is that
    srtt_ns = int(sk.srtt * 1e9)
    how_far_ns = int((sk.rtx_queue[0].xmit - now) * 1e9) + srtt_ns
    if how_far_ns > min(srtt_ns >> 1, 1_000_000):
        return 0  # the ACK would come too late to wait for
    if cong_win < send_win:
        if cong_win <= skb_len:
            return _DEFER_CWND
    elif send_win <= skb_len:
        return _DEFER_RWND
    if fin_unsent(sk):
        return 0  # the FIN rides this skb: it will get no more data
    return _DEFER_MORE


def recut_lost(sk: TcpSock, mss: int, max_segs: int, budget: int) -> None:
    """tcp_fragment in the retransmission queue, after the path MTU fell: a run of lost,
    unSACKed, not yet retransmitted segments that one TSO packet sent (ended by its PSH),
    holding a segment longer than `mss`, becomes segments of `mss`, grouped into packets of
    at most `max_segs` (tcp_xmit_retransmit_queue's tcp_tso_segs cap), each packet ending in
    PSH, the last keeping the run's FIN. Only the runs the next `budget` retransmitted
    segments reach are cut (and counted anew), as the kernel re-counts an skb only when it
    resends it: packets_out and lost_out lag until then. (Observed on 6.18: a 2920-byte
    packet resent at MSS 960 leaves as 1920 and 1000 bytes, both PSH; an RTO's one-segment
    split does not get PSH, which the queue's own flags give.)"""
    queue = sk.rtx_queue
    out: list[TxSeg] = []
    run: list[TxSeg] = []
    changed = False
    sb = scoreboard(sk)
    left = budget

    def flush() -> None:
        nonlocal changed, left
        if not run:
            return
        if left <= 0 or not any(len(ts.data) > mss for ts in run):
            left -= len(run)
            out.extend(run)
            run.clear()
            return
        data = b"".join(ts.data for ts in run)
        tail = run[-1].flags & (PSH | FIN)
        base = run[0].flags & ~(PSH | FIN)
        seq = run[0].seq
        group = max(max_segs, 1) * mss
        pieces = []
        for off in range(0, len(data), mss):
            last = off + mss >= len(data)
            flags = base | (tail if last else (PSH if (off + mss) % group == 0 else 0))
            piece = TxSeg(seq, data[off:off + mss], flags, run[0].sent)
            piece.xmit = run[0].xmit
            piece.order = run[0].order
            copy_rate(piece, run[0])
            piece.lost = True
            pieces.append(piece)
            seq = piece.end
        sb.lost_out += len(pieces) - len(run)
        left -= len(pieces)
        out.extend(pieces)
        changed = True
        run.clear()

    for ts in queue:
        if ts.lost and not ts.sacked and not ts.retrans and ts.data:
            run.append(ts)
            if ts.flags & (PSH | FIN):
                flush()
        else:
            flush()
            out.append(ts)
    flush()
    if changed:
        queue.clear()
        queue.extend(out)


def _nagle_holds(sk: TcpSock) -> bool:
    """tcp_nagle_check for a packet ending in a partial segment: always held while corked;
    with TCP_NODELAY never; otherwise held only while an earlier partial packet is still
    unacknowledged (tcp_minshall_check: Linux's Nagle is Minshall's variant)."""
    if sk.cork:
        return True
    if sk.nodelay or not sk.rtx_queue:
        return False
    return after(sk.snd_sml, sk.snd_una) and not after(sk.snd_sml, sk.snd_nxt)


def _send_new(sk: TcpSock, data: bytes, mss: int, now: float, psh: int = PSH) -> None:
    """One TSO packet of new data (one tcp_transmit_skb; GSO, in the device or in software,
    cuts it into MSS segments with PSH on the last one). 6.18 marks every new-data TSO packet
    PSH (checked: each 2000-byte packet of a 100 KB write carries it), and a FIN
    tcp_send_fin put on the unsent tail rides the packet that empties the send queue. The
    retransmission queue keeps the segments one by one. A packet ending in a partial segment
    is tcp_minshall_update's snd_sml."""
    end = len(data)
    fin = FIN if sk.fin_queued and end == len(sk.send_buf) and not sk.fin_sent else 0
    transmit(sk, ACK | psh | fin, sk.snd_nxt, data, now)
    first: TxSeg | None = None
    for off in range(0, end, mss):
        chunk = data[off:off + mss]
        last = off + mss >= end
        flags = ACK | ((psh | fin) if last else 0)
        ts = TxSeg(sk.snd_nxt, chunk, flags, now)
        if first is None:
            skb_sent(sk, ts, now)  # (before the packet's first segment is queued)
            first = ts
        else:
            copy_rate(ts, first)  # the packet's segments share its record
        rtx_enqueue(sk, ts)
        sk.snd_nxt = (sk.snd_nxt + len(chunk) + (1 if flags & FIN else 0)) & M32
    if fin:
        sk.fin_sent = True
    if end % mss:
        sk.snd_sml = sk.snd_nxt


def check_probe_timer(sk: TcpSock, now: float) -> None:
    """tcp_check_probe_timer: arm the zero-window probe (persist) timer."""
    if sk.probe_timer is None or not sk.probe_timer.pending:
        sk.probe_timer = sk.ns.arm(now, probe_interval(sk), TIMER_PROBE0, sk)


def probe0_base(sk: TcpSock) -> float:
    """tcp_probe0_base: max(rto, TCP_RTO_MIN)."""
    return max(sk.rto, TCP_RTO_MIN)


def probe_interval(sk: TcpSock) -> float:
    """tcp_probe0_when: probe0_base << icsk_backoff, capped at TCP_RTO_MAX."""
    return min(probe0_base(sk) * (1 << min(sk.backoff, 16)), TCP_RTO_MAX)


def clamp_probe0_to_user_timeout(sk: TcpSock, when: float, now: float) -> float:
    """tcp_clamp_probe0_to_user_timeout: not past TCP_USER_TIMEOUT since probing began (but
    at least TCP_TIMEOUT_MIN)."""
    if not sk.user_timeout or not sk.probes_tstamp:
        return when
    remaining = max(sk.user_timeout / 1000 - max(now - sk.probes_tstamp, 0.0), TCP_TIMEOUT_MIN)
    return min(remaining, when)


def send_probe0(sk: TcpSock, now: float) -> None:
    """tcp_send_probe0 + tcp_write_wakeup: if the window opened, send; else a window probe
    (an ACK with an old sequence number, tcp_xmit_probe_skb) and back off."""
    room = (sk.snd_una + sk.snd_wnd - sk.snd_nxt) & M32
    if room and not room & 0x80000000:
        # tcp_write_wakeup: send what the (small) window takes, even a partial segment
        n = min(min(room, max(sk.mss_cache, 1)), len(sk.send_buf))
        chunk = bytes(sk.send_buf[:n])
        del sk.send_buf[:n]
        flags = ACK | PSH  # tcp_write_wakeup marks what it sends PSH
        transmit(sk, flags, sk.snd_nxt, chunk, now)
        ts = TxSeg(sk.snd_nxt, chunk, flags, now)
        skb_sent(sk, ts, now)
        rtx_enqueue(sk, ts)
        sk.snd_nxt = (sk.snd_nxt + n) & M32
        arm_rto(sk, now)
        # packets out: the probe timer is not needed any more
        sk.probes_out = 0
        sk.backoff = 0
        sk.probes_tstamp = 0.0
        return
    transmit(sk, ACK, (sk.snd_una - 1) & M32, b"", now)
    sk.ns.mib.tcp_ext.TCPWinProbe += 1
    sk.probes_out += 1
    if sk.backoff < sk.ns.sysctl.tcp_retries2:
        sk.backoff += 1
    when = clamp_probe0_to_user_timeout(sk, probe_interval(sk), now)
    sk.probe_timer = sk.ns.arm(now, when, TIMER_PROBE0, sk)


def send(sk: TcpSock, data: bytes, now: float) -> int:
    """tcp_sendmsg: copy what fits in the send buffer (and what sk_wmem_schedule lets TCP
    memory take: under pressure or over tcp_mem[2] the writer waits) and push. With nothing
    queued the first segment's worth is forced (tcp_stream_alloc_skb's force_schedule), so a
    socket can always send something."""
    check_app_limited(sk)  # is sending application-limited?
    inflight_bytes = (sk.snd_nxt - sk.snd_una) & M32
    room = sndbuf(sk) - len(sk.send_buf) - inflight_bytes
    n = min(room, len(data))
    if n < len(data):
        sk.nospace = True  # tcp_sendmsg_locked: wait_for_space
    if n <= 0:
        return 0
    if not mem_schedule(sk, n, SK_MEM_SEND, now):
        if sk.send_buf or sk.rtx_queue:
            return 0
        n = min(n, max(sk.mss_cache, 1))
    if not sk.send_buf:
        if not sk.rtx_queue:
            _slow_start_after_idle_check(sk, now)  # tcp_skb_entail of a new skb
        chrono_start(sk, CHRONO_BUSY, now)  # tcp_add_write_queue_tail: the first unsent skb
    sk.send_buf += data[:n]
    sk.write_seq = (sk.write_seq + n) & M32
    push(sk, now)
    mem_sync(sk, now)
    return n


def _slow_start_after_idle_check(sk: TcpSock, now: float) -> None:
    """tcp_slow_start_after_idle_check and tcp_cwnd_restart (RFC 5681 4.1): data queued with
    nothing in flight more than an RTO after data last went out: cwnd is halved for each RTO
    of the idle time after the first, down to the initial window (or to cwnd, if smaller);
    ssthresh keeps at least 3/4 of the cwnd before. Off with tcp_slow_start_after_idle 0."""
    if not sk.ns.sysctl.tcp_slow_start_after_idle or sk.rtx_queue:
        return  # (nor with packets out)
    clock = sk.ns.clock
    delta = (clock.jiffies(now) - clock.jiffies(sk.lsndtime)) & M32
    if delta & 0x80000000:
        return
    rto = max(round_int(sk.rto * HZ), 1)  # icsk_rto, in jiffies
    if delta <= rto:
        return
    restart = min(TCP_INIT_CWND, sk.cwnd)  # tcp_init_cwnd (no route initcwnd)
    sk.ssthresh = current_ssthresh(sk)
    cwnd = sk.cwnd
    delta -= rto
    while delta > 0 and cwnd > restart:
        cwnd >>= 1
        delta -= rto
    sk.cwnd = max(cwnd, restart)
    sk.snd_cwnd_stamp = now
    sk.snd_cwnd_used = 0


def send_room(sk: TcpSock) -> int:
    return sndbuf(sk) - len(sk.send_buf) - ((sk.snd_nxt - sk.snd_una) & M32)


def send_fin(sk: TcpSock, now: float) -> None:
    """tcp_send_fin: FIN after the queued data."""
    if not sk.send_buf:
        chrono_start(sk, CHRONO_BUSY, now)  # the FIN is an skb of its own
    sk.fin_queued = True
    sk.write_seq = (sk.write_seq + 1) & M32
    push(sk, now)


def ack_snd_check(sk: TcpSock, now: float) -> None:
    """__tcp_ack_snd_check: ACK at once in quickack mode, or when more than one full segment
    is unacknowledged and either everything received was read (SO_RCVLOWAT's default of 1)
    or the window we would offer now is no smaller than the one last offered (else the read
    that frees the buffer sends it, tcp_cleanup_rbuf); otherwise arm the delayed-ACK timer
    (ato, 40 ms at first)."""
    unacked = (sk.rcv_nxt - sk.rcv_wup) & M32
    # in the kernel's order: __tcp_select_window ends quickack mode when less than half the
    # clamp is free, before quickack mode is looked at
    if (unacked > max(sk.icsk_ack.rcv_mss, 1) and (
            sk.rcv_nxt == sk.copied_seq or select_window_space(sk) >= sk.rcv_wnd)
            ) or in_quickack_mode(sk):
        send_ack(sk, now)
        return
    if sk.delack_timer is None or not sk.delack_timer.pending:
        sk.delack_timer = sk.ns.arm(now, delack_timeout(sk), TIMER_DACK, sk)


def delack_timeout(sk: TcpSock) -> float:
    """tcp_send_delayed_ack: ato, but once above TCP_DELACK_MIN no more than half a second
    (TCP_DELACK_MAX in pingpong mode or after a small segment) nor the smoothed RTT (at
    least TCP_DELACK_MIN)."""
    ato = sk.icsk_ack.ato
    if ato > TCP_DELACK_MIN:
        max_ato = TCP_DELACK_MAX if in_pingpong_mode(sk) or sk.icsk_ack.pushed else 0.5
        if sk.srtt:
            max_ato = min(max_ato, max(sk.srtt, TCP_DELACK_MIN))
        ato = min(ato, max_ato)
    return ato


# --- ACK processing (tcp_ack) ------------------------------------------------------------
def _sackblock_valid(sk: TcpSock, dup_sack: bool, start: int, end: int, una: int) -> bool:
    """tcp_is_sackblock_valid: inside what was sent, not reversed, above snd_una; a D-SACK
    below snd_una only while an undo is possible, above undo_marker (or reaching it from at
    most a window below)."""
    if after(end, sk.snd_nxt) or not before(start, end):
        return False
    if not before(start, sk.snd_nxt):
        return False
    if after(start, una):
        return True
    if not dup_sack or sk.undo_marker < 0:
        return False
    if after(end, una):
        return False
    if not before(start, sk.undo_marker):
        return True
    if not after(end, sk.undo_marker):
        return False
    return not before(start, (end - sk.max_window) & M32)


def _dsack_seen(sk: TcpSock, start: int, end: int) -> int:
    """tcp_dsack_seen: how many duplicate segments a D-SACK reports; 0 when dubious (longer
    than the largest window offered, or more duplicates than we ever retransmitted)."""
    if not before(start, end):
        return 0
    seq_len = (end - start) & M32
    if seq_len > sk.max_window:
        return 0
    mss = max(sk.mss_cache, 1)
    dup_segs = -(-seq_len // mss) if seq_len > mss else 1
    # FLAG_DSACK_TLP: a one-segment D-SACK of the loss probe
    of_probe = seq_len <= mss and bool(sk.tlp_high_seq) and sk.tlp_high_seq == end
    sk.dsack_dups += dup_segs
    if sk.dsack_dups > sk.num_retrans_total:
        return 0  # duplicates we never sent
    if sk.reord_seen and not of_probe:
        # RACK may have resent it too early: widen its window (not for a probe, which a
        # timer sent)
        rack(sk).dsack_seen = True
    return dup_segs


def _check_dsack(sk: TcpSock, ack: int, blocks: tuple[tuple[int, int], ...]) -> int:
    """tcp_check_dsack: the first block is a D-SACK when it lies below the ACK
    (TCPDSACKRecv) or inside the second block (TCPDSACKOfoRecv)."""
    mib = sk.ns.mib
    start0, end0 = blocks[0]
    if before(start0, ack):
        mib.tcp_ext.TCPDSACKRecv += 1
    elif len(blocks) > 1:
        start1, end1 = blocks[1]
        if after(end0, end1) or before(start0, start1):
            return 0
        mib.tcp_ext.TCPDSACKOfoRecv += 1
    else:
        return 0
    dup_segs = _dsack_seen(sk, start0, end0)
    if not dup_segs:
        mib.tcp_ext.TCPDSACKIgnoredDubious += 1
        return 0
    mib.tcp_ext.TCPDSACKRecvSegs += dup_segs
    if (sk.undo_marker >= 0 and sk.undo_retrans > 0 and not after(end0, sk.snd_una)
            and after(end0, sk.undo_marker)):
        # a D-SACK of data already acknowledged: that many retransmissions were needless
        sk.undo_retrans = max(0, sk.undo_retrans - dup_segs)
    return dup_segs


def _sacktag(sk: TcpSock, blocks: tuple[tuple[int, int], ...],
             ack: int, now: float, rs: RateSample) -> tuple[float, float, int, bool]:
    """tcp_sacktag_write_queue: mark segments the peer holds; RFC 6675 marks the unSACKed
    segments below the highest SACKed one lost once three segments above them are SACKed.
    Blocks are checked first: a D-SACK is recognised and counted, and a block outside what was
    sent is ignored (TCPSACKDiscard; a D-SACK: TCPDSACKIgnoredNoUndo). `ack` is the snd_una
    the kernel has by then. The valid blocks are walked in sequence order; each segment newly
    SACKed moves RACK's reference (tcp_rack_advance), and one never sent again that lies below
    the highest SACKed is reordering (tcp_check_sack_reordering, outside Loss). Returns
    first_sackt and last_sackt: the earliest and the latest send time of a segment newly
    SACKed that was never retransmitted (tcp_sacktag_one), -1 if none, and the segments a
    valid D-SACK reported (they count as delivered), and whether a segment sent only once,
    below high_seq, was newly SACKed (FLAG_ORIG_SACK_ACKED, for F-RTO)."""
    first_sackt = -1.0
    last_sackt = -1.0
    q = sk.rtx_queue
    una = sk.snd_una
    mib = sk.ns.mib
    dup_segs = _check_dsack(sk, ack, blocks)
    found_dup_sack = dup_segs > 0
    valid: list[tuple[int, int]] = []
    dsack_block: tuple[int, int] | None = None
    for i, (left, right) in enumerate(blocks):
        if not _sackblock_valid(sk, i == 0 and found_dup_sack, left, right, ack):
            if i == 0 and found_dup_sack:
                if sk.undo_marker < 0:
                    mib.tcp_ext.TCPDSACKIgnoredNoUndo += 1
                else:
                    mib.tcp_ext.TCPDSACKIgnoredOld += 1
            else:
                mib.tcp_ext.TCPSACKDiscard += 1
            continue
        if not after(right, una):
            continue  # very old
        if i == 0 and found_dup_sack:
            dsack_block = (left, right)
        valid.append((left, right))
    if len(valid) > 1:
        valid.sort(key=lambda b: (b[0] - una) & M32)
    reord = sk.snd_nxt
    orig_acked = False
    if dsack_block is not None:
        reord = _dsack_retransmitted(sk, dsack_block, reord)
    for left, right in valid:
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
        for j in range(lo, len(q)):
            ts = q[j]
            if (ts.end - una) & M32 > rel_right:
                break
            if not after(ts.end, ack):
                continue  # acknowledged by this ACK: about to go (tcp_sacktag_one)
            if not ts.sacked:
                rack_advance(sk, ts, now)
                skb_delivered(sk, ts, rs)
                ts.has_rate = False  # SACKed: no second sample when acknowledged
                if (not ts.ever_retrans and before(ts.seq, highest_sack_seq(sk))
                        and before(ts.seq, reord)):
                    reord = ts.seq  # a hole filled by a SACK: the original came late
                if not ts.ever_retrans and not after(ts.end, sk.recover):
                    orig_acked = True
                _set_sacked(sk, ts)
                if after(ts.end, sk.sack.high_sacked) or sk.sack.sacked_out == 1:
                    sk.sack.high_sacked = ts.end
                if ts.sent >= 0:
                    if first_sackt < 0 or ts.sent < first_sackt:
                        first_sackt = ts.sent
                    if ts.sent > last_sackt:
                        last_sackt = ts.sent
    if sk.ca_state != TCP_CA_LOSS:
        check_sack_reordering(sk, reord, False)
    return first_sackt, last_sackt, dup_segs, orig_acked


def _dsack_retransmitted(sk: TcpSock, block: tuple[int, int], reord: int) -> int:
    """tcp_sacktag_one for the segments a D-SACK above snd_una covers: each one resent is a
    needless retransmission (undo_retrans), one SACKed before was reordered, and a resent
    one still counted out is out no longer. Returns the lowest reordered sequence."""
    left, right = block
    una = sk.snd_una
    sb = sk.sack
    for ts in sk.rtx_queue:
        if not before(ts.seq, right):
            break
        if before(ts.seq, left) or after(ts.end, right) or not ts.ever_retrans:
            continue
        if sk.undo_marker >= 0 and sk.undo_retrans > 0 and after(ts.end, sk.undo_marker):
            sk.undo_retrans -= 1
        if ts.sacked and before(ts.seq, reord):
            reord = ts.seq
        if ts.retrans and after(ts.end, una) and (ts.sacked or not ts.lost):
            ts.retrans = 0
            sb.retrans_out -= 1
    return reord


def _mark_lost(sk: TcpSock) -> None:
    if sk.rx_opt.sack_ok:
        above = 0
        for ts in reversed(sk.rtx_queue):
            if ts.sacked:
                above += 1
            elif above >= 3 and before(ts.seq, sk.sack.high_sacked) and not ts.lost:
                _set_lost(sk, ts)
    head = sk.rtx_queue[0] if sk.rtx_queue else None
    if head is not None:
        _set_lost(sk, head)


def _init_cwnd_reduction(sk: TcpSock) -> None:
    """tcp_init_cwnd_reduction: the start of PRR (Recovery) or of CWR: high_seq, ssthresh from
    the congestion ops (Reno: max(cwnd/2, 2)); cwnd is left to PRR. An ECN sender tells the
    peer with CWR on its next new segment (tcp_ecn_queue_cwr)."""
    sk.recover = sk.snd_nxt
    sk.tlp_high_seq = 0
    sk.cwnd_cnt = 0
    sk.prior_cwnd = sk.cwnd
    sk.prr_delivered = 0
    sk.prr_out = 0
    sk.ssthresh = sk.ca_ops.ssthresh(sk)
    if sk.ecn_flags & TCP_ECN_OK:
        sk.ecn_flags |= TCP_ECN_QUEUE_CWR


def _enter_recovery(sk: TcpSock, mark: bool = True, ece: bool = False) -> None:
    """tcp_enter_recovery: counted by kind (TCPSackRecovery, TCPRenoRecovery); a reduction
    already under way (CWR) goes on. A SACK connection's losses were marked by RACK before
    (`mark` False); a non-SACK one marks the head (tcp_newreno_mark_lost)."""
    mib = sk.ns.mib
    if not any_retrans_done(sk):
        sk.retrans_stamp = -1.0  # tcp_retrans_stamp_cleanup
    if sk.rx_opt.sack_ok:
        mib.tcp_ext.TCPSackRecovery += 1
    else:
        mib.tcp_ext.TCPRenoRecovery += 1
    sk.prior_ssthresh = 0
    init_undo(sk)
    if sk.ca_state not in (TCP_CA_CWR, TCP_CA_RECOVERY):
        if not ece:
            sk.prior_ssthresh = current_ssthresh(sk)
        _init_cwnd_reduction(sk)
    sk.ca_state = TCP_CA_RECOVERY
    if mark:
        _mark_lost(sk)


def _fastretrans_alert_sack(sk: TcpSock, ece: bool, advanced: bool, prior_una: int,
                            tsecr: int, now: float, orig_acked: bool, data_sacked: bool,
                            dupack: bool) -> bool:
    """tcp_fastretrans_alert for a SACK connection (6.17+: RACK alone marks losses). First
    the exits once snd_una reaches high_seq: CWR (once beyond it) ends with cwnd at ssthresh;
    Recovery ends Open, undone if nothing resent was needed (tcp_try_undo_recovery), else
    with cwnd at ssthresh. In Recovery an ACK that shows the first retransmission was not
    needed (timestamps) undoes at once (tcp_try_undo_partial), as do D-SACKs for every
    retransmission (tcp_try_undo_dsack); in Loss, timestamps or D-SACKs undo it
    (tcp_try_undo_loss). Then RACK (tcp_identify_packet_loss); outside Recovery and Loss
    anything lost starts Recovery (tcp_time_to_recover: lost_out), else tcp_try_to_open; in
    Loss a retransmission lost again does too. True: RACK armed its timer, which the ACK's
    tcp_set_xmit_timer then leaves alone."""
    if ece:
        sk.prior_ssthresh = 0  # an ECN signal is not undone
    st = sk.ca_state
    if st == TCP_CA_OPEN:
        sk.retrans_stamp = -1.0
    elif not before(sk.snd_una, sk.recover):
        if st == TCP_CA_CWR:
            if sk.snd_una != sk.recover:
                _end_cwnd_reduction(sk, now)
                sk.ca_state = TCP_CA_OPEN
        elif st == TCP_CA_RECOVERY:
            try_undo_recovery(sk, tsecr, now)
            _end_cwnd_reduction(sk, now)
    st = sk.ca_state
    if st == TCP_CA_RECOVERY:
        if advanced and try_undo_partial(sk, prior_una, tsecr, now):
            return False
        if try_undo_dsack(sk, now):
            _try_to_open(sk, ece)
        reo = _identify_packet_loss(sk, now)[0]
        if sk.ca_state != TCP_CA_RECOVERY and sk.sack.lost_out:
            _enter_recovery(sk, mark=False, ece=ece)  # undone, then a real loss
        return reo
    reo = False
    if st == TCP_CA_LOSS:
        process_loss(sk, advanced, tsecr, now, orig_acked, data_sacked, dupack)
        if sk.ca_state != TCP_CA_LOSS:
            update_rto_time(sk, now)
        reo, lost_retrans = _identify_packet_loss(sk, now)
        if sk.ca_state != TCP_CA_OPEN and not lost_retrans:
            return reo
    if sk.ca_state <= TCP_CA_DISORDER:
        try_undo_dsack(sk, now)
    more, _ = _identify_packet_loss(sk, now)
    reo = reo or more
    if not sk.sack.lost_out:
        _try_to_open(sk, ece)
        return reo
    _enter_recovery(sk, mark=False, ece=ece)
    return reo


def _identify_packet_loss(sk: TcpSock, now: float) -> tuple[bool, bool]:
    """tcp_identify_packet_loss: RACK marks what is lost. Returns (its timer was armed, a
    retransmission was found lost: FLAG_LOST_RETRANS)."""
    if not sk.rtx_queue:
        return False, False
    prior_retrans = sk.sack.retrans_out
    reo = rack_mark_lost(sk, now)
    return reo, prior_retrans > sk.sack.retrans_out


def rack_reo_timeout(sk: TcpSock, now: float) -> None:
    """tcp_rack_reo_timeout: the REO timer fired: what RACK finds lost now starts Recovery
    (cwnd as PRR's first step) and goes again at once; then the RTO for the rest."""
    lost_before = sk.rack.lost if sk.rack is not None else 0
    prior = in_flight(sk)
    rack_detect_loss(sk, now)
    if prior != in_flight(sk):
        if sk.ca_state != TCP_CA_RECOVERY:
            _enter_recovery(sk, mark=False)
            _cwnd_reduction(sk, 1, False, _newly_lost(sk, lost_before))
        push(sk, now, new_data=False)  # tcp_xmit_retransmit_queue
    rearm_rto(sk, now)


def enter_cwr(sk: TcpSock) -> None:
    """tcp_enter_cwr: the peer echoed congestion (ECE): reduce cwnd as PRR does, without a
    retransmission."""
    sk.prior_ssthresh = 0
    if sk.ca_state < TCP_CA_CWR:
        sk.undo_marker = -1  # an ECN reduction is never undone
        _init_cwnd_reduction(sk)
        sk.ca_state = TCP_CA_CWR


def _cwnd_reduction(sk: TcpSock, delivered: int, una_advanced: bool, newly_lost: int) -> None:
    """tcp_cwnd_reduction (PRR, RFC 6937 as 6.18 has it): while more than ssthresh is in
    flight send ssthresh/prior_cwnd of what is delivered; below it catch up towards ssthresh
    (one more on an ACK that moved snd_una); the first ACK always lets one segment go (the
    fast retransmission; not when the ACK also marked something lost)."""
    if delivered <= 0 or not sk.prior_cwnd:
        return
    pipe = in_flight(sk)
    delta = sk.ssthresh - pipe
    sk.prr_delivered += delivered
    if delta < 0:
        sndcnt = (sk.ssthresh * sk.prr_delivered + sk.prior_cwnd - 1) // sk.prior_cwnd
        sndcnt -= sk.prr_out
    else:
        sndcnt = max(sk.prr_delivered - sk.prr_out, delivered)
        if una_advanced and not newly_lost:
            sndcnt += 1
        sndcnt = min(delta, sndcnt)
    sndcnt = max(sndcnt, 0 if sk.prr_out else 1)
    sk.cwnd = pipe + sndcnt


def _end_cwnd_reduction(sk: TcpSock, now: float) -> None:
    """tcp_end_cwnd_reduction: cwnd down to ssthresh, in CWR or while the reduction was not
    undone."""
    if sk.ssthresh < 0x7FFFFFFF and (sk.ca_state == TCP_CA_CWR or sk.undo_marker >= 0):
        sk.cwnd = sk.ssthresh
        sk.snd_cwnd_stamp = now


def _is_cwnd_limited(sk: TcpSock) -> bool:
    """tcp_is_cwnd_limited: cwnd grows only while it is what limits sending (or, in slow start,
    while it is under twice the most that was in flight)."""
    if sk.is_cwnd_limited:
        return True
    if sk.cwnd < sk.ssthresh:
        return sk.cwnd < 2 * sk.max_packets_out
    return False


def _cwnd_validate(sk: TcpSock, is_cwnd_limited: bool, now: float) -> None:
    """tcp_cwnd_validate: remember, for the current window of data, whether cwnd limited us
    (else the most packets that were out); a sender that left cwnd unused for an RTO has it
    cut towards what it used (RFC 2861, tcp_cwnd_application_limited)."""
    packets_out = len(sk.rtx_queue)
    if (not before(sk.snd_una, sk.cwnd_usage_seq) or is_cwnd_limited
            or (not sk.is_cwnd_limited and packets_out > sk.max_packets_out)):
        sk.is_cwnd_limited = is_cwnd_limited
        sk.max_packets_out = packets_out
        sk.cwnd_usage_seq = sk.snd_nxt
    if _is_cwnd_limited(sk):
        sk.snd_cwnd_used = 0  # the network is fed in full
        sk.snd_cwnd_stamp = now
        return
    sk.snd_cwnd_used = max(sk.snd_cwnd_used, packets_out)
    if sk.ns.sysctl.tcp_slow_start_after_idle and _jiffies_since(sk, sk.snd_cwnd_stamp, now) \
            >= max(round_int(sk.rto * HZ), 1):  # (neither reno nor cubic has cong_control)
        _cwnd_application_limited(sk, now)
    # all sent, not for want of cwnd, and the writer waits for send-buffer room: the send
    # buffer is what limits
    if (not has_send_head(sk) and sk.nospace and not sk.dead
            and sk.state in (ESTABLISHED, CLOSE_WAIT)):
        chrono_start(sk, CHRONO_SNDBUF_LIMITED, now)


def _cwnd_application_limited(sk: TcpSock, now: float) -> None:
    """tcp_cwnd_application_limited: in Open, a socket whose writer is not waiting for send
    buffer room (SOCK_NOSPACE; an orphan has no writer and keeps its cwnd) was limited by the
    application or the receive window: cwnd drops halfway to the most it used (at least the
    initial window), ssthresh keeping 3/4 of it."""
    if sk.ca_state == TCP_CA_OPEN and not sk.dead and not sk.nospace:
        win_used = max(sk.snd_cwnd_used, TCP_INIT_CWND)  # tcp_init_cwnd (no route initcwnd)
        if win_used < sk.cwnd:
            sk.ssthresh = current_ssthresh(sk)
            sk.cwnd = (sk.cwnd + win_used) >> 1
        sk.snd_cwnd_used = 0
    sk.snd_cwnd_stamp = now


def _jiffies_since(sk: TcpSock, then: float, now: float) -> int:
    """(s32)(tcp_jiffies32 - then): jiffies from `then` to `now`, negative if before."""
    clock = sk.ns.clock
    d = (clock.jiffies(now) - clock.jiffies(then)) & M32
    return d - (1 << 32) if d & 0x80000000 else d


def check_space(sk: TcpSock, now: float) -> None:
    """tcp_check_space, after an ACK was processed: a writer that found the send buffer full
    (SOCK_NOSPACE) is woken once a third of it is free (tcp_new_space ->
    sk_stream_write_space: free space at least half of what is queued); where the buffer may
    still grow (tcp_should_expand_sndbuf: not locked, no memory pressure, cwnd not full) that
    counts as cwnd in use (snd_cwnd_stamp)."""
    if not sk.nospace:
        return
    if (not sk.buf_locked & 1 and not under_memory_pressure(sk)
            and in_flight(sk) < sk.cwnd):
        sk.snd_cwnd_stamp = now
    queued = len(sk.send_buf) + ((sk.snd_nxt - sk.snd_una) & M32)
    if sndbuf(sk) - queued >= queued >> 1:
        sk.nospace = False
        wake(sk)
        chrono_stop(sk, CHRONO_SNDBUF_LIMITED, now)


def _cong_control(sk: TcpSock, delivered: int, data_acked: bool, una_advanced: bool,
                  now: float, newly_lost: int = 0) -> None:
    """tcp_cong_control: in Recovery or CWR, PRR sets cwnd; otherwise an ACK of new data may
    grow it (tcp_may_raise_cwnd: with a reordering degree above the sysctl's, any delivery
    does; then the congestion ops when cwnd-limited)."""
    if sk.ca_state in (TCP_CA_CWR, TCP_CA_RECOVERY):
        _cwnd_reduction(sk, delivered, una_advanced, newly_lost)
    elif data_acked or (delivered and sk.reordering > sk.ns.sysctl.tcp_reordering):
        if _is_cwnd_limited(sk):  # (the ops' own first test)
            sk.ca_ops.cong_avoid(sk, delivered, now)
        sk.snd_cwnd_stamp = now  # tcp_cong_avoid


def _newly_lost(sk: TcpSock, lost_before: int) -> int:
    """rate_sample.losses: segments this ACK marked lost (tp->lost's growth)."""
    return sk.rack.lost - lost_before if sk.rack is not None else 0


def _ack_update_window(sk: TcpSock, seg: TcpSegment, nwin: int, now: float) -> None:
    """tcp_ack_update_window: take the peer's window if the ACK is newer (tcp_may_update_window);
    a window larger than any before lifts tcp_bound_to_half_wnd's cap (tcp_sync_mss); a change
    with unsent data checks for slow start after idle."""
    if after(seg.ack, sk.snd_una) or after(seg.seq, sk.snd_wl1) or (
            seg.seq == sk.snd_wl1 and nwin > sk.snd_wnd):
        if nwin != sk.snd_wnd and sk.send_buf:
            # a window that changes with data waiting may end an idle period too (a zero
            # window that opens more than an RTO after data last left restarts cwnd)
            _slow_start_after_idle_check(sk, now)
        sk.snd_wnd = nwin
        sk.snd_wl1 = seg.seq
        if nwin > sk.max_window:
            sk.max_window = nwin
            sync_mss(sk, now, sk.pmtu_cookie)


def _clean_rtx_queue(sk: TcpSock, ack: int, tsecr: int, prior_fack: int, now: float,
                     rs: RateSample) -> tuple[int, float, float, bool]:
    """tcp_clean_rtx_queue: drop what `ack` covers and move snd_una. Returns the number of
    segments newly delivered (tcp_count_delivered: those not SACKed before; from a non-SACK
    peer, those its duplicate ACKs did not stand for, at least one: tcp_remove_reno_sacks)
    and the sequence RTT sample: from the oldest acknowledged segment
    that was sent once and not SACKed before (first_ackt), none (-1) when the ACK covers any
    retransmitted segment (FLAG_RETRANS_DATA_ACKED, Karn); and the congestion control's
    sample, from the newest such segment (last_ackt: ca_rtt_us), or -1. A SACK connection's
    segments acknowledged without having been SACKed move RACK's reference (unless the echoed
    timestamp says a retransmitted one's original arrived: tcp_skb_spurious_retrans), and
    one never sent again below what was SACKed before the ACK (`prior_fack`) was
    reordering."""
    acked = 0
    delivered = 0
    reno_sacked = sk.sack.reno_sacked
    first_ackt = -1.0
    last_ackt = -1.0
    retrans_acked = False
    q = sk.rtx_queue
    sack_ok = sk.rx_opt.sack_ok
    reord = sk.snd_nxt
    orig_acked = False
    n = len(q)
    while acked < n and not after(q[acked].end, ack):
        ts = q[acked]
        skb_delivered(sk, ts, rs)
        if ts.sent < 0:
            retrans_acked = True
        elif not ts.sacked:
            last_ackt = ts.sent
            if first_ackt < 0:
                first_ackt = ts.sent
        if not ts.sacked:
            delivered += 1
            if sack_ok:
                if not ts.ever_retrans and before(ts.seq, reord):
                    reord = ts.seq
                if not ts.ever_retrans and not after(ts.end, sk.recover):
                    orig_acked = True
                if not (ts.ever_retrans and tsecr and before(
                        tsecr, tsval_of(sk.ns, sk.ts_off, ts.xmit))):
                    rack_advance(sk, ts, now)
        _unlink(sk, ts)
        acked += 1
        if ts.flags & FIN:
            sk.fin_acked = True
    if acked:
        del q[:acked]  # (nothing above reads the queue: the acknowledged head goes at once)
    if q and before(q[0].seq, ack):
        # a partly acknowledged segment: keep only the unacknowledged tail
        head = q[0]
        cut = (ack - head.seq) & M32
        head.data = head.data[cut:]
        head.seq = ack
    if not q:
        rtx_give_up(sk)  # an idle connection holds no queue (q stays empty below)
        chrono_stop(sk, CHRONO_BUSY, now)
    if not sack_ok and (not q or q[0].sent >= 0):
        # a non-SACK connection (NewReno marking, no lost-retransmit detection): the head
        # was never retransmitted, so no retransmission episode goes on. (A SACK
        # connection's stamp stays until tcp_fastretrans_alert clears it, as in the kernel:
        # the undo checks read it first)
        sk.retrans_stamp = -1.0
    sk.bytes_acked += (ack - sk.snd_una) & M32  # tcp_snd_una_update
    sk.snd_una = ack
    sb = sk.sack
    if sb is not EMPTY_SCOREBOARD:
        sb.reno_sacked = 0
        if not q and sb.empty():
            sk.sack = EMPTY_SCOREBOARD  # everything acknowledged: the scoreboard goes back
    sk.dupacks = 0
    sk.retransmits = 0
    if sack_ok and acked and before(reord, prior_fack):
        check_sack_reordering(sk, reord, False)
    if not sk.rx_opt.sack_ok and acked:
        delivered = max(acked - reno_sacked, 1)
    if first_ackt < 0 or retrans_acked:
        return delivered, -1.0, -1.0, orig_acked
    return delivered, now - first_ackt, now - last_ackt, orig_acked


def _ack_update_rtt(sk: TcpSock, seg: TcpSegment, seq_rtt: float, sack_rtt: float,
                    ca_rtt: float, acked: bool, now: float) -> float:
    """tcp_ack_update_rtt: the sequence sample, else the SACK sample, else (for an ACK that
    moved snd_una) the timestamp echo in whole milliseconds, at least 1 (tcp_rtt_tsopt_us).
    A valid sample resets the backoff (update_rtt). Returns the congestion control's sample
    (rate_sample.rtt_us: the last (S)ACKed segment's, or the echo's), -1 without one."""
    rtt = seq_rtt if seq_rtt >= 0 else sack_rtt
    if rtt < 0 and acked and sk.rx_opt.tstamp_ok and seg.tsval is not None and seg.tsecr:
        delta = (tsval_of(sk.ns, sk.ts_off, now) - seg.tsecr) & M32
        if delta < 0x7FFFFFFF // 1000:
            rtt = ca_rtt = max(delta, 1) / 1000
    if rtt >= 0:
        update_rtt(sk, rtt)
    return ca_rtt


def _pkts_acked(sk: TcpSock, ca_rtt: float, now: float) -> None:
    """The end of tcp_clean_rtx_queue: the congestion ops' pkts_acked with the sample in
    microseconds (tcp_stamp_us_delta)."""
    sk.ca_ops.pkts_acked(sk, int(ca_rtt * 1_000_000) if ca_rtt >= 0 else -1, now)


def _fastretrans_alert(sk: TcpSock, advanced: bool, ece: bool, now: float) -> None:
    """tcp_fastretrans_alert, as far as Reno/NewReno with SACK goes. Exits once snd_una reaches
    high_seq: Recovery ends with cwnd at ssthresh, Loss as it is, CWR once something above
    high_seq is ACKed; a non-SACK peer holds Recovery and Loss until then too (RFC 6582). A
    partial ACK in Recovery marks the next hole lost; three duplicate ACKs (or three SACKed
    segments) enter Recovery; an ECE enters CWR (tcp_try_to_open)."""
    st = sk.ca_state
    if advanced:
        if st >= TCP_CA_CWR:
            if before(sk.snd_una, sk.recover):
                if st == TCP_CA_RECOVERY:
                    _mark_lost(sk)  # a partial ACK: the next hole is lost too (NewReno)
                return
            if sk.snd_una == sk.recover and (st == TCP_CA_CWR or not sk.rx_opt.sack_ok):
                return  # held until something above high_seq is ACKed
            if st != TCP_CA_LOSS:
                _end_cwnd_reduction(sk, now)
            sk.ca_state = TCP_CA_OPEN
        _try_to_open(sk, ece)
        return
    sk.dupacks += 1
    if not sk.rx_opt.sack_ok:
        sb = scoreboard(sk)
        sb.reno_sacked = min(sb.reno_sacked + 1, max(0, len(sk.rtx_queue) - 1))
    if st != TCP_CA_RECOVERY and st != TCP_CA_LOSS:
        if sk.dupacks >= 3 or sk.sack.sacked_out >= 3:
            _enter_recovery(sk)
        else:
            _try_to_open(sk, ece)
    elif st == TCP_CA_RECOVERY and sk.rx_opt.sack_ok:
        _mark_lost(sk)


def _try_ece(sk: TcpSock, ece: bool) -> None:
    """An ACK neither new nor a duplicate (a window update, a SACK): an ECE on it still
    starts CWR."""
    if ece and sk.ca_state < TCP_CA_RECOVERY:
        enter_cwr(sk)


def _try_to_open(sk: TcpSock, ece: bool) -> None:
    """tcp_try_to_open: an ECE starts CWR; otherwise Disorder while anything is SACKed or
    marked lost (tcp_try_keep_open), else Open."""
    if ece:
        enter_cwr(sk)
    if sk.ca_state != TCP_CA_CWR:
        if sk.rx_opt.sack_ok:
            if not any_retrans_done(sk):
                sk.retrans_stamp = -1.0
            try_keep_open(sk)
            return
        sb = sk.sack
        sk.ca_state = (TCP_CA_DISORDER if sb.sacked_out or sb.lost_out or sb.reno_sacked
                       else TCP_CA_OPEN)


def send_challenge_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_challenge_ack: at most one per tcp_invalid_ratelimit per socket
    (TCPACKSkippedChallenge otherwise), then TCPChallengeACK and the ACK. (The namespace-wide
    tcp_challenge_ack_limit defaults to INT_MAX: never reached here.)"""
    ns = sk.ns
    if oow_rate_limited(ns, sk, now, "TCPACKSkippedChallenge"):
        return
    ns.mib.tcp_ext.TCPChallengeACK += 1
    send_ack(sk, now)


def on_ack(sk: TcpSock, seg: TcpSegment, now: float) -> str:
    """tcp_ack, in the kernel's steps: window update, SACK tagging, cleaning the retransmit
    queue, the fast-retransmit alert, congestion control. Returns CONSUMED, or the drop reason
    of an ACK older than the peer can have sent (TCP_TOO_OLD_ACK: before snd_una by more than
    min(max_window, bytes_acked), RFC 5961 5.2) or of one for data never sent
    (TCP_ACK_UNSENT_DATA); both are answered with a rate-limited challenge ACK (6.18)."""
    ack = seg.ack
    if before(ack, sk.snd_una):
        max_window = min(sk.max_window, sk.bytes_acked)
        if before(ack, (sk.snd_una - max_window) & M32):
            send_challenge_ack(sk, now)
            return TCP_TOO_OLD_ACK
        return CONSUMED  # old_ack: an old duplicate; its data is still processed
    if after(ack, sk.snd_nxt):
        send_challenge_ack(sk, now)
        return TCP_ACK_UNSENT_DATA
    sk.sk_err_soft = 0  # something worked
    sk.probes_out = 0
    sk.rcv_tstamp = now  # an acceptable ACK: the peer is alive (keepalive's idle clock)
    prior_packets = bool(sk.rtx_queue)
    nwin = seg.window << sk.rx_opt.snd_wscale
    pure = not seg.payload and not seg.flags & (FIN | SYN)
    is_dup = ack == sk.snd_una and pure and nwin == sk.snd_wnd and bool(sk.rtx_queue)
    prior_wnd = sk.snd_wnd
    _ack_update_window(sk, seg, nwin, now)
    sack_rtt = -1.0
    ca_rtt = -1.0
    sacked_before = sk.sack.sacked_out
    sack_ok = sk.rx_opt.sack_ok
    prior_fack = highest_sack_seq(sk) if sack_ok else sk.snd_una
    lost_before = sk.rack.lost if sk.rack is not None else 0
    prior_una = sk.snd_una
    tsecr = (seg.tsecr or 0) if seg.tsval is not None else 0
    dup_segs = 0
    orig_acked = False
    rs = RateSample()
    if sack_ok and seg.sack:
        first_sackt, last_sackt, dup_segs, orig_acked = _sacktag(sk, seg.sack, ack, now, rs)
        if first_sackt >= 0:
            sack_rtt = now - first_sackt
            ca_rtt = now - last_sackt
    # newly SACKed, and what a D-SACK says arrived twice (tcp_dsack_seen: sack_delivered)
    data_sacked = sk.sack.sacked_out > sacked_before
    delivered = sk.sack.sacked_out - sacked_before + dup_segs
    # tcp_ecn_rcv_ecn_echo: ECE on an ACK of an ECN connection (FLAG_ECE)
    ece = bool(seg.flags & ECE) and bool(sk.ecn_flags & TCP_ECN_OK)
    # FLAG_CA_ALERT's SACK part: something newly SACKed (FLAG_DATA_SACKED) or a valid D-SACK
    # (FLAG_DSACKING_ACK: a dubious one raises nothing)
    alert = delivered > 0
    if after(ack, sk.snd_una):
        acked, seq_rtt, seq_ca_rtt, orig = _clean_rtx_queue(sk, ack, tsecr, prior_fack, now,
                                                            rs)
        orig_acked = orig_acked or orig
        delivered += acked
        sk.delivered += delivered  # (tcp_count_delivered)
        if ece:
            sk.delivered_ce += acked  # tcp_clean_rtx_queue's tcp_count_delivered(ece_ack)
        update_reo_wnd(sk, rs.prior_delivered)
        if ca_rtt < 0:
            ca_rtt = seq_ca_rtt
        _pkts_acked(sk, _ack_update_rtt(sk, seg, seq_rtt, sack_rtt, ca_rtt, True, now), now)
        if sk.tlp_high_seq:
            _process_tlp_ack(sk, seg, True, sacked_before, now)
        rtx = sk.rtx_queue
        if rtx and rtx[0].sacked:
            # tcp_check_sack_reneging: the new head was SACKed, so the receiver reneged on
            # it; rather than retransmit at once (reneging may be transient), the RTO comes
            # in max(srtt / 2, 10 ms), and then finds the head SACKed (enter_loss)
            rate_gen(sk, delivered, True, rs, now)
            _cong_control(sk, delivered, True, True, now, _newly_lost(sk, lost_before))
            arm_rto(sk, now, max(sk.srtt / 2, 0.01))
        else:
            reo = False
            if not sack_ok:
                _fastretrans_alert(sk, True, ece, now)
            elif alert or ece or sk.ca_state != TCP_CA_OPEN:
                # tcp_ack_is_dubious
                reo = _fastretrans_alert_sack(sk, ece, True, prior_una, tsecr, now,
                                              orig_acked, data_sacked, False)
            rate_gen(sk, delivered, False, rs, now)
            _cong_control(sk, delivered, True, True, now, _newly_lost(sk, lost_before))
            # tcp_set_xmit_timer: a loss probe, else the RTO (not when RACK armed its timer)
            if not reo and not schedule_loss_probe(sk, now, True):
                rearm_rto(sk, now)
        mem_sync(sk, now)
    else:
        sk.delivered += delivered  # (tcp_count_delivered)
        update_reo_wnd(sk, rs.prior_delivered)
        if sk.tlp_high_seq:
            _process_tlp_ack(sk, seg, nwin != prior_wnd, sacked_before, now)
        if sack_rtt >= 0:
            _ack_update_rtt(sk, seg, -1.0, sack_rtt, ca_rtt, False, now)
        if prior_packets:
            _pkts_acked(sk, ca_rtt, now)  # tcp_clean_rtx_queue runs for a dupack too
        reno_before = sk.sack.reno_sacked
        if sack_ok:
            dupack = not (seg.payload or nwin != prior_wnd)
            if prior_packets and (alert or ece or sk.ca_state != TCP_CA_OPEN or dupack):
                _fastretrans_alert_sack(sk, ece, False, prior_una, tsecr, now,
                                        orig_acked, data_sacked, dupack)
        elif is_dup:
            _fastretrans_alert(sk, False, ece, now)
        elif ece:
            _try_ece(sk, ece)
        reno = sk.sack.reno_sacked - reno_before  # tcp_add_reno_sack
        delivered += reno
        sk.delivered += reno
        if ece:
            sk.delivered_ce += reno  # tcp_add_reno_sack(ece_ack)
        rate_gen(sk, delivered, False, rs, now)
        if prior_packets:
            _cong_control(sk, delivered, False, False, now, _newly_lost(sk, lost_before))
    if not prior_packets and sk.send_buf:
        _ack_probe(sk, now)
    if pure:
        sk.ns.mib.tcp_ext.TCPPureAcks += 1
    return CONSUMED


def _process_tlp_ack(sk: TcpSock, seg: TcpSegment, not_dup: bool, sacked_before: int,
                     now: float) -> None:
    """tcp_process_tlp_ack, once an ACK reaches the probe's snd_nxt: a probe of new data, or a
    D-SACK of the probe (FLAG_DSACK_TLP: the original arrived too), or a pure duplicate ACK
    ends the episode without a loss; an ACK beyond it means the probe repaired a loss: cwnd
    comes down as in CWR at once (TCPLossProbeRecovery). `not_dup`: the ACK moved snd_una,
    carried data or updated the window (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP)."""
    ack = seg.ack
    high = sk.tlp_high_seq
    if before(ack, high):
        return
    if not sk.tlp_retrans or _dsack_of_probe(sk, seg):
        sk.tlp_high_seq = 0
    elif after(ack, high):
        _init_cwnd_reduction(sk)  # (tlp_high_seq = 0)
        sk.ca_state = TCP_CA_CWR
        _end_cwnd_reduction(sk, now)
        sb = sk.sack
        rtx = sk.rtx_queue
        # tcp_try_keep_open
        # (tcp_any_retrans_done: retrans_out, or a head ever sent twice, a probe's too)
        sk.ca_state = (TCP_CA_DISORDER if sb.sacked_out or sb.lost_out or sb.retrans_out
                       or (rtx and rtx[0].ever_retrans) else TCP_CA_OPEN)
        sk.recover = sk.snd_nxt
        sk.ns.mib.tcp_ext.TCPLossProbeRecovery += 1
    elif not (not_dup or bool(seg.payload) or sk.sack.sacked_out > sacked_before):
        sk.tlp_high_seq = 0  # a pure duplicate ACK: the original and the probe both arrived


def _dsack_of_probe(sk: TcpSock, seg: TcpSegment) -> bool:
    """FLAG_DSACK_TLP (tcp_dsack_seen): the ACK's first SACK block is a D-SACK of at most one
    segment ending at the probe's snd_nxt."""
    blocks = seg.sack
    if not blocks or not sk.rx_opt.sack_ok:
        return False
    start, end = blocks[0]
    if not before(start, seg.ack):
        if len(blocks) < 2:
            return False
        s1, e1 = blocks[1]
        if after(end, e1) or before(start, s1):
            return False
    size = (end - start) & M32
    return (before(start, end) and size <= sk.max_window and size <= max(sk.mss_cache, 1)
            and end == sk.tlp_high_seq)


def send_loss_probe(sk: TcpSock, now: float) -> None:
    """tcp_send_loss_probe, when the probe timer fires: at most one probe outstanding; new data
    if the window takes its next segment (sent whatever cwnd says: tcp_write_xmit's push_one
    2), else the last segment sent goes again (__tcp_retransmit_skb: RetransSegs, and
    TCPCB_EVER_RETRANS but not SACKED_RETRANS, so not in retrans_out; tcp_clean_rtx_queue's
    TCPCB_RETRANS test holds both bits, so the ACK that covers it is no sequence RTT sample:
    Karn, the echoed timestamp at most). Then TCPLossProbes, tlp_high_seq = snd_nxt and the
    RTO from now."""
    if sk.tlp_high_seq:
        rearm_rto(sk, now)
        return
    sk.tlp_retrans = False
    mss = max(current_mss(sk, now), 1)
    buf = sk.send_buf
    prior = len(sk.rtx_queue)
    n = min(mss, len(buf))
    if buf and not after((sk.snd_nxt + n) & M32, (sk.snd_una + sk.snd_wnd) & M32):
        # tcp_snd_wnd_test passed; a probe cut from a longer unsent skb is its first part,
        # which tso_fragment leaves without PSH (checked on 6.18)
        _send_new(sk, bytes(buf[:n]), mss, now, PSH if n == len(buf) else 0)
        del buf[:n]
        if len(sk.rtx_queue) == prior:
            rearm_rto(sk, now)
            return
    else:
        if not sk.rtx_queue:
            sk.loss_probe_armed = False
            return
        ts = sk.rtx_queue[-1]
        transmit(sk, ts.flags, ts.seq, ts.data, now, retrans=True)
        if sk.ns.trace.on_retransmit_skb:
            tp.retransmit_skb(sk, ts.seq, now)
        sk.ns.mib.tcp.RetransSegs += 1
        sk.num_retrans_total += 1
        ts.sent = -1.0  # (TCPCB_EVER_RETRANS: Karn)
        stamp_tx(sk, ts, now)
        skb_sent(sk, ts, now)
        ts.ever_retrans = True
        sk.tlp_retrans = True
    sk.tlp_high_seq = sk.snd_nxt
    sk.ns.mib.tcp_ext.TCPLossProbes += 1
    sk.loss_probe_armed = False
    rearm_rto(sk, now)


def _ack_probe(sk: TcpSock, now: float) -> None:
    """tcp_ack_probe: nothing was in flight and data waits. If the window now takes the next
    segment, probing is over (backoff and its start reset, timer stopped); otherwise the probe
    timer is re-armed from this ACK."""
    n = min(max(sk.mss_cache, 1), len(sk.send_buf))
    if not after((sk.snd_nxt + n) & M32, (sk.snd_una + sk.snd_wnd) & M32):
        sk.backoff = 0
        sk.probes_tstamp = 0.0
        if sk.probe_timer is not None:
            sk.probe_timer.cancel()
            sk.probe_timer = None
    else:
        when = clamp_probe0_to_user_timeout(sk, probe_interval(sk), now)
        if sk.probe_timer is not None:
            sk.probe_timer.cancel()
        sk.probe_timer = sk.ns.arm(now, when, TIMER_PROBE0, sk)


def enter_loss(sk: TcpSock, now: float) -> None:
    """tcp_enter_loss after an RTO: ssthresh from the congestion ops (once per window of
    data), what is unSACKed is lost (tcp_timeout_mark_lost), cwnd one more than what is still
    in flight. If the head of the queue is
    SACKed, the receiver has reneged (it dropped out-of-order data it had SACKed, as a
    receiver pruning its queue does): every SACK mark goes and everything is lost
    (TCPSACKReneging); else the retransmission would wait forever for a hole the receiver
    no longer reports."""
    new_recovery = sk.ca_state < TCP_CA_RECOVERY
    rtx = sk.rtx_queue
    reneged = bool(rtx) and rtx[0].sacked
    if reneged:
        sk.ns.mib.tcp_ext.TCPSACKReneging += 1
        sb = scoreboard(sk)
        for ts in rtx:
            ts.sacked = False
        sb.sacked_out = 0
    # tcp_timeout_mark_lost: all but what left within RACK's RTT (the head always; everything
    # when the receiver reneged); a retransmission marked lost again may go once more
    rtt_us = sk.rack.rtt_us if sk.rack is not None and not reneged else 0
    now_us = rack_us(now)
    for i, ts in enumerate(rtx):
        if ts.sacked or (i and rtt_us - (now_us - rack_us(ts.xmit)) > 0):
            continue
        mark_skb_lost(sk, ts)
    st = sk.ca_state
    if (st <= TCP_CA_DISORDER or not after(sk.recover, sk.snd_una)
            or (st == TCP_CA_LOSS and not sk.retransmits)):
        # once per window of data: not again while a Recovery's or Loss's is under way
        sk.prior_ssthresh = current_ssthresh(sk)
        sk.prior_cwnd = sk.cwnd
        sk.ssthresh = sk.ca_ops.ssthresh(sk)
        init_undo(sk)
    sk.cwnd = in_flight(sk) + 1
    sk.cwnd_cnt = 0
    sk.snd_cwnd_stamp = now
    if st <= TCP_CA_DISORDER and sk.sack.sacked_out >= sk.ns.sysctl.tcp_reordering:
        sk.reordering = min(sk.reordering, sk.ns.sysctl.tcp_reordering)
    set_ca_state(sk, TCP_CA_LOSS, now)  # (CUBIC forgets its state, W_max too)
    sk.recover = sk.snd_nxt
    sk.tlp_high_seq = 0
    if sk.ecn_flags & TCP_ECN_OK:
        sk.ecn_flags |= TCP_ECN_QUEUE_CWR  # tcp_ecn_queue_cwr
    sk.dupacks = 0
    if sk.sack is not EMPTY_SCOREBOARD:
        sk.sack.reno_sacked = 0
    # F-RTO (RFC 5682 3.1, step 1): not for an RTO that repeats one, unless the first
    # already went unanswered (the count is still this RTO's predecessors')
    sk.frto = bool(sk.ns.sysctl.tcp_frto) and (new_recovery or sk.retransmits > 0)
    sk.frto_new = False
