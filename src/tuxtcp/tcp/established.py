"""Synchronized states: tcp_rcv_state_process (and tcp_validate_incoming) for ESTABLISHED, the
closing states and SYN_RECV of a simultaneous open: what each state does with a segment, and the
reason a segment it does not take is freed with.

The byte stream itself is in stream.py (sending, tcp_ack) and receive.py (the receive queue).
"""

from __future__ import annotations

from ..net import drops as dr
from ..net.tcp_states import (
    CLOSE,
    CLOSE_WAIT,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LAST_ACK,
    SYN_RECV,
    TIME_WAIT,
)
from ..wire.ipv4 import Packet
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import ACK, CWR, FIN, RST, SYN, TcpSegment
from . import tracepoints as tp
from .algorithms import init_congestion_control
from .constants import TCP_ECN_OK, TCP_TIMEWAIT_LEN, TIMER_KEEPALIVE
from .lifecycle import fin_time, set_state, tcp_done, tcp_reset, time_wait, wake
from .metrics import update_metrics
from .minisocks import oow_rate_limited
from .output import send_ack, send_reset, tsval_of
from .rcvwin import init_buffer_space
from .receive import (
    DQ_ACK_NOW,
    DQ_FIN,
    data_queue,
    dq_drop_reason,
    dsack_set,
    ecn_rcv_data,
    enter_quickack_mode,
    rcv_rtt_measure_ts,
    receive_window,
)
from .rto import stop_rto
from .sock import TcpSock, rtx_give_up
from .stream import ack_snd_check, check_space, on_ack, push, send_challenge_ack


def _syn_challenge(sk: TcpSock, now: float) -> str:
    """tcp_validate_incoming syn_challenge: any SYN in a synchronized state (PAWS-rejected,
    out of window or in window) gets a challenge ACK; InErrs too on the ESTABLISHED path."""
    if sk.state == ESTABLISHED:
        sk.ns.mib.tcp.InErrs += 1
    sk.ns.mib.tcp_ext.TCPSYNChallenge += 1
    send_challenge_ack(sk, now)
    return dr.TCP_INVALID_SYN


def _dup_ack(sk: TcpSock, seg: TcpSegment, now: float, mib: str = "TCPACKSkippedSeq") -> None:
    """tcp_send_dupack for a segment PAWS or the window turned away (rate-limited, counted
    in `mib`, unless it carries data): one that starts below rcv_nxt was received before
    (DelayedACKLost, quick ACKs) and is reported as a D-SACK, up to rcv_nxt."""
    data = seg.seq != seg.end_seq and not seg.flags & SYN
    if oow_rate_limited(sk.ns, sk, now, mib, data):
        return
    if seg.end_seq != seg.seq and before(seg.seq, sk.rcv_nxt):
        sk.ns.mib.tcp_ext.DelayedACKLost += 1
        enter_quickack_mode(sk)
        dsack_set(sk, seg.seq, sk.rcv_nxt if after(seg.end_seq, sk.rcv_nxt) else seg.end_seq)
    send_ack(sk, now)


def _sequence(sk: TcpSock, seq: int, end_seq: int, fin: int) -> str:
    """tcp_sequence: not entirely before rcv_wup; not starting after the window's right edge;
    not ending after it either (6.17+), unless the receive queue is empty (a buggy peer is
    not frozen out) or only a FIN lies past the edge (some stacks send FINs into a closed
    window)."""
    if before(end_seq, sk.rcv_wup):
        return dr.TCP_OLD_SEQUENCE
    limit = (sk.rcv_nxt + receive_window(sk)) & M32
    if after(end_seq, limit):
        if not after((end_seq - fin) & M32, limit):
            return dr.CONSUMED
        if after(seq, limit):
            return dr.TCP_INVALID_SEQUENCE
        if sk.rcvq_skbs:
            return dr.TCP_INVALID_END_SEQUENCE
    return dr.CONSUMED


def _validate_incoming(sk: TcpSock, pkt: Packet, now: float) -> str | None:
    """tcp_validate_incoming: PAWS, sequence window, RFC 5961 RST and SYN handling. None: the
    segment goes on; CONSUMED: it was taken here (an accepted RST); else its drop reason."""
    seg = pkt.seg
    ns = sk.ns
    if sk.rx_opt.tstamp_ok and seg.tsval is not None and not seg.flags & RST:
        diff = (sk.rx_opt.ts_recent - seg.tsval) & M32
        if diff and not diff & 0x80000000 and sk.rx_opt.ts_recent:
            # tcp_paws_discard
            ns.mib.tcp_ext.PAWSEstab += 1
            if seg.flags & SYN:
                return _syn_challenge(sk, now)
            _dup_ack(sk, seg, now, "TCPACKSkippedPAWS")
            return dr.TCP_RFC7323_PAWS
    reason = _sequence(sk, seg.seq, seg.end_seq, 1 if seg.flags & FIN else 0)
    if reason:
        if seg.flags & RST:
            # tcp_reset_check: seq == rcv_nxt - 1 in CLOSE_WAIT/LAST_ACK/CLOSING
            if (sk.state in (CLOSE_WAIT, LAST_ACK, CLOSING)
                    and seg.seq == (sk.rcv_nxt - 1) & M32):
                tcp_reset(sk, now)
                return dr.CONSUMED  # reset: tcp_reset, __kfree_skb
            return reason
        if seg.flags & SYN:
            return _syn_challenge(sk, now)
        if reason in (dr.TCP_INVALID_SEQUENCE, dr.TCP_INVALID_END_SEQUENCE):
            ns.mib.tcp_ext.BeyondWindow += 1
        _dup_ack(sk, seg, now)
        return reason
    if seg.flags & RST:
        if seg.seq == sk.rcv_nxt:
            tcp_reset(sk, now)
            return dr.CONSUMED  # reset: tcp_reset, __kfree_skb
        send_challenge_ack(sk, now)  # RFC 5961 3.2
        return dr.TCP_RESET
    if seg.flags & SYN:
        return _syn_challenge(sk, now)  # RFC 5961 4.2
    return None


def tcp_fin(sk: TcpSock, now: float) -> None:
    """tcp_fin: the peer's FIN arrived in sequence."""
    if sk.orphan:
        # tcp_data_queue queued the FIN's skb; close() flushed the receive queue before,
        # so nothing frees it until the socket is destroyed (lifecycle.destroy)
        sk.fin_skb_queued = True
    sk.rcv_nxt = (sk.rcv_nxt + 1) & M32
    sk.rcv_shutdown = True
    st = sk.state
    if st in (SYN_RECV, ESTABLISHED):
        set_state(sk, CLOSE_WAIT, now)
        # inet_csk_enter_pingpong_mode: the ACK is only scheduled (the caller's
        # __tcp_ack_snd_check delays it unless more than a segment is unacknowledged), in
        # the hope that our own FIN or reply carries it
        sk.icsk_ack.pingpong = sk.ns.sysctl.tcp_pingpong_thresh
        return
    elif st == FIN_WAIT1:
        send_ack(sk, now)
        set_state(sk, CLOSING, now)  # simultaneous close
        return
    elif st == FIN_WAIT2:
        send_ack(sk, now)
        time_wait(sk, TIME_WAIT, 0.0, now)
        return
    send_ack(sk, now)  # the caller (rcv_state_process) wakes the owner


def rcv_state_process(sk: TcpSock, pkt: Packet, now: float) -> str:
    """tcp_rcv_state_process for ESTABLISHED and the closing states (and SYN_RECV of a
    simultaneous open). Returns CONSUMED or the drop reason."""
    seg = pkt.seg
    ns = sk.ns
    checked = _validate_incoming(sk, pkt, now)
    if checked is not None:
        return checked
    if not seg.flags & ACK:
        return dr.TCP_FLAGS
    if sk.state == SYN_RECV:
        # simultaneous open: an acceptable ACK completes the handshake
        if seg.ack != sk.snd_nxt:
            reason = dr.TCP_ACK_UNSENT_DATA if after(seg.ack, sk.snd_nxt) else dr.TCP_OLD_ACK
            send_reset(ns, pkt, now, reason)
            return reason
        sk.bytes_acked += (seg.ack - sk.snd_una) & M32  # tcp_snd_una_update: our SYN
        sk.snd_una = seg.ack
        rtx_give_up(sk)  # the SYN-ACK's segment
        sk.delivered += 1  # SYN-ACK delivery is not tracked in tcp_ack
        sk.lsndtime = now
        stop_rto(sk)
        sk.snd_wnd = seg.window << sk.rx_opt.snd_wscale
        sk.retransmits = 0
        set_state(sk, ESTABLISHED, now)
        init_congestion_control(sk, now)  # tcp_init_transfer
        init_buffer_space(sk, now)
    if sk.rx_opt.tstamp_ok and seg.tsval is not None and not after(seg.seq, sk.rcv_nxt):
        sk.rx_opt.ts_recent = seg.tsval  # tcp_store_ts_recent
        sk.rx_opt.ts_recent_stamp = now
    reason = on_ack(sk, seg, now)
    if reason:
        return reason
    st = sk.state
    if st == FIN_WAIT1 and sk.fin_acked:
        set_state(sk, FIN_WAIT2, now)
        if sk.orphan:
            # tcp_rcv_state_process: an orphan with TCP_LINGER2 < 0, or data past rcv_nxt,
            # is done (TCPAbortOnData); tcp_v4_do_rcv answers the segment with a RST
            if sk.linger2 < 0 or (seg.payload and after(seg.end_seq, sk.rcv_nxt)):
                ns.mib.tcp_ext.TCPAbortOnData += 1
                send_reset(ns, pkt, now, dr.TCP_ABORT_ON_DATA)
                tcp_done(sk, now)
                return dr.TCP_ABORT_ON_DATA
            tmo = fin_time(sk)
            # (th->fin || sock_owned_by_user(sk): a full FIN_WAIT2 socket on the keepalive
            # timer, not a timewait sock)
            if tmo > TCP_TIMEWAIT_LEN or seg.flags & FIN or sk.owned_by_user:
                arm_fin_wait2(sk, now, tmo - TCP_TIMEWAIT_LEN if tmo > TCP_TIMEWAIT_LEN
                              else tmo)
            else:
                time_wait(sk, FIN_WAIT2, tmo, now)
                return dr.CONSUMED
    elif st == CLOSING and sk.fin_acked:
        time_wait(sk, TIME_WAIT, 0.0, now)
        return dr.CONSUMED
    elif st == LAST_ACK and sk.fin_acked:
        update_metrics(sk)
        tcp_done(sk, now)
        return dr.CONSUMED
    # step 7: after the peer's FIN, a segment starting below rcv_nxt (a FIN resent, say by a
    # loss probe) goes on as in FIN_WAIT1/2 to tcp_data_queue: a duplicate is ACKed at once
    # and freed as TCP_OLD_DATA (DelayedACKLost)
    old_after_fin = st in (CLOSE_WAIT, CLOSING, LAST_ACK) and before(seg.seq, sk.rcv_nxt)
    if (seg.payload and sk.rcv_shutdown and (st in (FIN_WAIT1, FIN_WAIT2) or old_after_fin)
            and after((seg.end_seq - (1 if seg.flags & FIN else 0)) & M32, sk.rcv_nxt)):
        # RFC 1122: data after our receive side is shut -> reset
        ns.mib.tcp_ext.TCPAbortOnData += 1
        send_reset(ns, pkt, now, dr.TCP_ABORT_ON_DATA)
        tcp_done(sk, now)
        return dr.TCP_ABORT_ON_DATA
    if st == ESTABLISHED and sk.rx_opt.tstamp_ok and seg.tsval is not None:
        # tcp_rcv_established, step 5
        rcv_rtt_measure_ts(sk, len(seg.payload), seg.tsecr, tsval_of(ns, sk.ts_off, now))
    reason = dr.CONSUMED
    if st in (CLOSE_WAIT, CLOSING, LAST_ACK) and not old_after_fin:
        # step 7: after the peer's FIN nothing is queued; a segment at or after rcv_nxt, a pure
        # ACK included, ends at tcp_rcv_state_process's discard (NOT_SPECIFIED), which frees
        # it there: kfree_skb's location is tcp_rcv_state_process (6.18), not tcp_v4_rcv
        ns.drops.count(dr.NOT_SPECIFIED)
        if ns.trace.on_kfree_skb:
            tp.kfree_skb(ns, pkt, dr.NOT_SPECIFIED, now, sk, "tcp_rcv_state_process")
    elif seg.payload or seg.flags & FIN:
        ack_now = False
        if sk.ecn_flags & TCP_ECN_OK:
            ack_now = ecn_rcv_data(sk, pkt.tos, bool(seg.flags & CWR), bool(seg.payload))
        dq = data_queue(sk, seg, now)
        reason = dq_drop_reason(dq) or reason
        if dq & DQ_FIN:
            tcp_fin(sk, now)  # ACKs at once itself, except into CLOSE_WAIT (pingpong mode)
            owes_ack = sk.state == CLOSE_WAIT
        else:
            owes_ack = sk.state != CLOSE
        if owes_ack:
            if dq & DQ_ACK_NOW or ack_now:
                send_ack(sk, now)
            else:
                push(sk, now)  # data we send carries the ACK
                if sk.rcv_wup != sk.rcv_nxt:
                    ack_snd_check(sk, now)
        wake(sk)
    if sk.state != CLOSE and not sk.dead:
        push(sk, now)  # tcp_data_snd_check
        check_space(sk, now)
    return reason


def arm_fin_wait2(sk: TcpSock, now: float, tmo: float) -> None:
    """An orphan in FIN_WAIT2 waits (the keepalive timer) before becoming a timewait sock."""
    if sk.keepalive_timer is not None:
        sk.keepalive_timer.cancel()
    sk.keepalive_timer = sk.ns.arm(now, tmo, TIMER_KEEPALIVE, sk)
