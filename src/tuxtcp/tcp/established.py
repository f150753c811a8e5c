"""Synchronized states: ACK and data processing, FIN, close/shutdown, the retransmission timer.

The byte stream itself (send queue, SACK, congestion control, out-of-order queue) is in
stream.py; this module decides what each state does with a segment.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Final

from ..wire.ipv4 import Packet
from ..wire.seq import after, before
from ..wire.tcp import ACK, FIN, RST, SYN
from .active import syn_retransmit_timer
from .lifecycle import clear_timers, destroy, fin_time, set_state, tcp_done, time_wait, wake
from .minisocks import oow_rate_limited
from .output import send_ack, send_active_reset, send_reset
from .passive import reqsk_queue_drop
from .sock import TCP_RTO_MAX, TCP_TIMEWAIT_LEN, TcpSock
from .states import (
    CLOSE,
    CLOSE_WAIT,
    CLOSING,
    ESTABLISHED,
    FIN_WAIT1,
    FIN_WAIT2,
    LAST_ACK,
    LISTEN,
    SYN_RECV,
    SYN_SENT,
    TIME_WAIT,
)
from .stream import (
    ack_snd_check,
    data_queue,
    ensure_rto,
    enter_loss,
    event_data_recv,
    on_ack,
    push,
    rcv_space_adjust,
)

if TYPE_CHECKING:
    pass

M32: Final = 0xFFFFFFFF


# --- receive ---------------------------------------------------------------------------------
def _challenge_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_challenge_ack: per-socket rate limit (tcp_invalid_ratelimit)."""
    ns = sk.ns
    if oow_rate_limited(ns, sk, now, "TCPACKSkippedChallenge"):
        return
    ns.mib.tcp_ext["TCPChallengeACK"] += 1
    send_ack(sk, now)


def _syn_challenge(sk: TcpSock, now: float) -> None:
    """tcp_validate_incoming syn_challenge: any SYN in a synchronized state (PAWS-rejected,
    out of window or in window) gets a challenge ACK; InErrs too on the ESTABLISHED path."""
    if sk.state == ESTABLISHED:
        sk.ns.mib.tcp["InErrs"] += 1
    sk.ns.mib.tcp_ext["TCPSYNChallenge"] += 1
    _challenge_ack(sk, now)


def _dup_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_dupack for an out-of-window segment (rate-limited)."""
    if not oow_rate_limited(sk.ns, sk, now, "TCPACKSkippedSeq"):
        send_ack(sk, now)


def tcp_reset(sk: TcpSock, now: float) -> None:
    """tcp_reset: the peer reset us. ECONNREFUSED in SYN_SENT, EPIPE in CLOSE_WAIT, else
    ECONNRESET."""
    if sk.state == SYN_SENT:
        sk.sk_err = errno.ECONNREFUSED
    elif sk.state == CLOSE_WAIT:
        sk.sk_err = errno.EPIPE
    elif sk.state == CLOSE:
        return
    else:
        sk.sk_err = errno.ECONNRESET
    sk.send_buf.clear()
    sk.rtx_queue.clear()
    tcp_done(sk, now)


def _validate_incoming(sk: TcpSock, pkt: Packet, now: float) -> bool:
    """tcp_validate_incoming: PAWS, sequence window, RFC 5961 RST and SYN handling."""
    seg = pkt.seg
    ns = sk.ns
    if sk.tstamp_ok and seg.tsval is not None and not seg.flags & RST:
        diff = (sk.ts_recent - seg.tsval) & M32
        if diff and not diff & 0x80000000 and sk.ts_recent:
            # tcp_paws_discard
            ns.mib.tcp_ext["PAWSEstab"] += 1
            if seg.flags & SYN:
                _syn_challenge(sk, now)
            else:
                _dup_ack(sk, now)
            return False
    win = max(sk.rcv_wnd - len(sk.recv_buf), 0)
    # tcp_sequence: not entirely before rcv_wup, not starting after the window's right edge
    in_seq = not before(seg.end_seq, sk.rcv_wup) and not after(seg.seq, (sk.rcv_nxt + win) & M32)
    if not in_seq:
        if seg.flags & RST:
            # tcp_reset_check: seq == rcv_nxt - 1 in CLOSE_WAIT/LAST_ACK/CLOSING
            if (sk.state in (CLOSE_WAIT, LAST_ACK, CLOSING)
                    and seg.seq == (sk.rcv_nxt - 1) & M32):
                tcp_reset(sk, now)
            return False
        if seg.flags & SYN:
            _syn_challenge(sk, now)
        else:
            _dup_ack(sk, now)
        return False
    if seg.flags & RST:
        if seg.seq == sk.rcv_nxt:
            tcp_reset(sk, now)
        else:
            _challenge_ack(sk, now)  # RFC 5961 3.2
        return False
    if seg.flags & SYN:
        _syn_challenge(sk, now)  # RFC 5961 4.2
        return False
    return True


def tcp_fin(sk: TcpSock, now: float) -> None:
    """tcp_fin: the peer's FIN arrived in sequence."""
    sk.rcv_nxt = (sk.rcv_nxt + 1) & M32
    sk.rcv_shutdown = True
    st = sk.state
    if st in (SYN_RECV, ESTABLISHED):
        set_state(sk, CLOSE_WAIT)
    elif st == FIN_WAIT1:
        send_ack(sk, now)
        set_state(sk, CLOSING)  # simultaneous close
        return
    elif st == FIN_WAIT2:
        send_ack(sk, now)
        time_wait(sk, TIME_WAIT, 0.0, now)
        return
    send_ack(sk, now)  # the caller (rcv_state_process) wakes the owner


def rcv_state_process(sk: TcpSock, pkt: Packet, now: float) -> None:
    """tcp_rcv_state_process for ESTABLISHED and the closing states (and SYN_RECV of a
    simultaneous open)."""
    seg = pkt.seg
    ns = sk.ns
    if not _validate_incoming(sk, pkt, now):
        return
    if not seg.flags & ACK:
        return
    if sk.state == SYN_RECV:
        # simultaneous open: an acceptable ACK completes the handshake
        if seg.ack != sk.snd_nxt:
            send_reset(ns, pkt, now)
            return
        sk.snd_una = seg.ack
        sk.rtx_queue.clear()
        if sk.rtx_timer is not None:
            sk.rtx_timer.cancel()
            sk.rtx_timer = None
        sk.snd_wnd = seg.window << sk.snd_wscale
        sk.retransmits = 0
        set_state(sk, ESTABLISHED)
    if sk.tstamp_ok and seg.tsval is not None and not after(seg.seq, sk.rcv_nxt):
        sk.ts_recent = seg.tsval  # tcp_store_ts_recent
        sk.ts_recent_stamp = now
    if not on_ack(sk, seg, now):
        return
    st = sk.state
    if st == FIN_WAIT1 and sk.fin_acked:
        set_state(sk, FIN_WAIT2)
        if sk.orphan:
            if sk.linger2 < 0:
                ns.mib.tcp_ext["TCPAbortOnLinger"] += 1
                tcp_done(sk, now)
                return
            if seg.payload and after(seg.end_seq, sk.rcv_nxt):
                ns.mib.tcp_ext["TCPAbortOnData"] += 1
                send_reset(ns, pkt, now)
                tcp_done(sk, now)
                return
            tmo = fin_time(sk)
            if tmo > TCP_TIMEWAIT_LEN or seg.flags & FIN:
                _arm_fin_wait2(sk, now, tmo - TCP_TIMEWAIT_LEN if tmo > TCP_TIMEWAIT_LEN
                               else tmo)
            else:
                time_wait(sk, FIN_WAIT2, tmo, now)
                return
    elif st == CLOSING and sk.fin_acked:
        time_wait(sk, TIME_WAIT, 0.0, now)
        return
    elif st == LAST_ACK and sk.fin_acked:
        _update_metrics(sk)
        tcp_done(sk, now)
        return
    if (seg.payload and sk.rcv_shutdown and st in (FIN_WAIT1, FIN_WAIT2)
            and after(seg.end_seq, sk.rcv_nxt)):
        # RFC 1122: data after our receive side is shut -> reset
        ns.mib.tcp_ext["TCPAbortOnData"] += 1
        send_reset(ns, pkt, now)
        tcp_done(sk, now)
        return
    fin_reached = False
    if (seg.payload or seg.flags & FIN) and st not in (CLOSE_WAIT, CLOSING, LAST_ACK):
        # (after the peer's FIN, more data or FINs are ignored)
        if seg.payload:
            event_data_recv(sk, len(seg.payload))
        ack_now, fin_reached = data_queue(sk, seg)
        if fin_reached:
            tcp_fin(sk, now)
        elif sk.state != CLOSE:
            if ack_now:
                send_ack(sk, now)
            else:
                push(sk, now)  # data we send carries the ACK
                if sk.rcv_wup != sk.rcv_nxt:
                    ack_snd_check(sk, now)
        wake(sk)
    if sk.state != CLOSE and not sk.dead:
        push(sk, now)


def _arm_fin_wait2(sk: TcpSock, now: float, tmo: float) -> None:
    """An orphan in FIN_WAIT2 waits (keepalive timer) before becoming a timewait sock."""
    if sk.tw_timer is not None:
        sk.tw_timer.cancel()
    sk.tw_timer = sk.ns.arm(now, tmo, _fin_wait2_timer, sk)


def _fin_wait2_timer(sk: TcpSock, now: float) -> None:
    """tcp_keepalive_timer for an orphan in FIN_WAIT2: now it becomes a timewait sock."""
    sk.tw_timer = None
    if sk.state == FIN_WAIT2:
        tmo = fin_time(sk)
        time_wait(sk, FIN_WAIT2, tmo - TCP_TIMEWAIT_LEN if tmo > TCP_TIMEWAIT_LEN else 0.0, now)


def _update_metrics(sk: TcpSock) -> None:
    """tcp_update_metrics: remember the RTT for this destination."""
    if sk.srtt:
        sk.ns.tcp_metrics[sk.raddr] = sk.srtt


# --- send ------------------------------------------------------------------------------------
def sk_recv_consumed(sk: TcpSock, n: int, now: float) -> None:
    """tcp_cleanup_rbuf: after reading, send a window update if the window we could offer is
    at least twice the one the peer still sees (and that one is at most half the clamp)."""
    sk.copied_seq = (sk.copied_seq + n) & M32
    if n <= 0 or sk.state not in (ESTABLISHED, FIN_WAIT1, FIN_WAIT2) or sk.rcv_shutdown:
        return
    rcv_space_adjust(sk, now)
    now_window = (sk.rcv_adv - sk.rcv_nxt) & M32
    if now_window & 0x80000000:
        now_window = 0
    if 2 * now_window <= sk.rcv_wnd:
        new_window = max(0, sk.rcv_wnd - len(sk.recv_buf))
        if new_window and new_window >= 2 * now_window:
            send_ack(sk, now)


def send_fin(sk: TcpSock, now: float) -> None:
    """tcp_send_fin: FIN after the queued data."""
    sk.fin_queued = True
    sk.write_seq = (sk.write_seq + 1) & M32
    push(sk, now)


def retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer + tcp_write_timeout for synchronized states."""
    sk.rtx_timer = None
    if sk.state == SYN_SENT or (sk.state == SYN_RECV and sk.parent is None):
        syn_retransmit_timer(sk, now)
        return
    if not sk.rtx_queue:
        return
    ns = sk.ns
    limit = ns.sysctl.get_int("net.ipv4.tcp_retries2")
    if sk.orphan:
        limit = ns.sysctl.get_int("net.ipv4.tcp_orphan_retries") or 8
    if sk.retransmits >= limit:
        sk.sk_err = errno.ETIMEDOUT
        ns.mib.tcp_ext["TCPAbortOnTimeout"] += 1
        tcp_done(sk, now)
        return
    ns.mib.tcp_ext["TCPTimeouts"] += 1
    enter_loss(sk)
    sk.retransmits += 1
    sk.rto = min(sk.rto * 2, TCP_RTO_MAX)
    push(sk, now)  # cwnd 1: the head goes again
    ensure_rto(sk, now)


# --- close -------------------------------------------------------------------------------------
def tcp_close(sk: TcpSock, now: float) -> None:
    """__tcp_close."""
    ns = sk.ns
    sk.rcv_shutdown = True
    sk.orphan = True
    sk.on_wakeup = None  # sock_orphan: nobody is left to wake (and no sk <-> owner cycle)
    if sk.state == LISTEN:
        set_state(sk, CLOSE)
        lq = sk.lq
        if lq is not None:
            # inet_csk_listen_stop: queued children are disconnected (RST), requests dropped
            while lq.accept_queue:
                child = lq.accept_queue.popleft()
                child.orphan = True
                disconnect(child, now)
            for req in list(lq.syn_queue.values()):
                reqsk_queue_drop(ns, req)
        destroy(sk)
        return
    unread = len(sk.recv_buf)
    sk.recv_buf.clear()
    if sk.state == CLOSE:
        destroy(sk)
        return
    if unread:
        # RFC 2525: unread data on close -> RST, TCPAbortOnClose
        ns.mib.tcp_ext["TCPAbortOnClose"] += 1
        set_state(sk, CLOSE)
        send_active_reset(sk, now)
        tcp_done(sk, now)
        return
    if sk.linger == 0:
        ns.mib.tcp_ext["TCPAbortOnData"] += 1
        disconnect(sk, now)
        return
    if _close_state(sk):
        send_fin(sk, now)
    if sk.state == FIN_WAIT2:
        if sk.linger2 < 0:
            ns.mib.tcp_ext["TCPAbortOnLinger"] += 1
            set_state(sk, CLOSE)
            send_active_reset(sk, now)
            tcp_done(sk, now)
            return
        tmo = fin_time(sk)
        if tmo > TCP_TIMEWAIT_LEN:
            _arm_fin_wait2(sk, now, tmo - TCP_TIMEWAIT_LEN)
        else:
            time_wait(sk, FIN_WAIT2, tmo, now)
            return
    if sk.state == CLOSE:
        tcp_done(sk, now)


def _close_state(sk: TcpSock) -> bool:
    """tcp_close_state: the new_state table. True when a FIN must be sent."""
    st = sk.state
    if st in (ESTABLISHED, SYN_RECV):
        set_state(sk, FIN_WAIT1)
        return True
    if st == CLOSE_WAIT:
        set_state(sk, LAST_ACK)
        return True
    if st in (SYN_SENT, LISTEN, TIME_WAIT, CLOSE):
        set_state(sk, CLOSE)
        clear_timers(sk)
    return False


def shutdown_send(sk: TcpSock, now: float) -> None:
    """tcp_shutdown(SEND_SHUTDOWN): acts only in ESTABLISHED, SYN_SENT, CLOSE_WAIT."""
    sk.snd_shutdown = True
    if sk.state in (ESTABLISHED, SYN_SENT, CLOSE_WAIT) and _close_state(sk):
        send_fin(sk, now)


def disconnect(sk: TcpSock, now: float) -> None:
    """tcp_disconnect: RST where tcp_need_reset says so, then CLOSE."""
    old = sk.state
    if old in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, FIN_WAIT2, SYN_RECV):
        send_active_reset(sk, now)
        sk.sk_err = errno.ECONNRESET
    elif old == SYN_SENT:
        pass
    sk.send_buf.clear()
    sk.rtx_queue.clear()
    set_state(sk, CLOSE)
    clear_timers(sk)
    if sk.orphan:
        destroy(sk)

