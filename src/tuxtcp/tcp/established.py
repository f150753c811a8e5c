"""Synchronized states: ACK and data processing, FIN, close/shutdown, the retransmission timer.

A go-back-N reliable stream with an RFC 6298 RTO (Linux's 200 ms floor) and immediate ACKs.
Out-of-order segments are dropped and re-ACKed; SACK, delayed ACK and congestion control beyond
a fixed initial window are not modelled yet.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..wire.ipv4 import Packet
from ..wire.seq import after, before
from ..wire.tcp import ACK, FIN, PSH, RST, SYN
from .lifecycle import clear_timers, fin_time, set_state, tcp_done, time_wait, wake
from .output import send_ack, send_active_reset, transmit
from .sock import TCP_RTO_MAX, TCP_RTO_MIN, TCP_TIMEWAIT_LEN, TcpSock
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

if TYPE_CHECKING:
    pass

M32 = 0xFFFFFFFF
SNDBUF_DEFAULT = 16384 * 64


# --- receive ---------------------------------------------------------------------------------
def _challenge_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_challenge_ack: per-socket rate limit (tcp_invalid_ratelimit)."""
    ns = sk.ns
    limit = ns.sysctl.get_int("net.ipv4.tcp_invalid_ratelimit") / 1000.0
    if 0 <= now - sk.last_oow_ack < limit:
        ns.mib.tcp_ext["TCPACKSkippedChallenge"] += 1
        return
    sk.last_oow_ack = now
    ns.mib.tcp_ext["TCPChallengeACK"] += 1
    send_ack(sk, now)


def _dup_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_dupack for an out-of-window segment (rate-limited)."""
    ns = sk.ns
    limit = ns.sysctl.get_int("net.ipv4.tcp_invalid_ratelimit") / 1000.0
    if 0 <= now - sk.last_oow_ack < limit:
        ns.mib.tcp_ext["TCPACKSkippedSeq"] += 1
        return
    sk.last_oow_ack = now
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
                _challenge_ack(sk, now)
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
            _challenge_ack(sk, now)
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
        ns.mib.tcp_ext["TCPSYNChallenge"] += 1  # RFC 5961 4.2
        _challenge_ack(sk, now)
        return False
    return True


def _update_rtt(sk: TcpSock, rtt: float) -> None:
    """tcp_rtt_estimator / tcp_set_rto (RFC 6298 with Linux's 200 ms floor)."""
    if sk.srtt == 0.0:
        sk.srtt = rtt
        sk.rttvar = rtt / 2
    else:
        sk.rttvar = 0.75 * sk.rttvar + 0.25 * abs(sk.srtt - rtt)
        sk.srtt = 0.875 * sk.srtt + 0.125 * rtt
    sk.rto = min(max(sk.srtt + max(4 * sk.rttvar, TCP_RTO_MIN), TCP_RTO_MIN), TCP_RTO_MAX)


def _clean_rtx_queue(sk: TcpSock, ack: int, now: float) -> bool:
    """tcp_clean_rtx_queue. True when something new was acknowledged."""
    q = sk.rtx_queue
    acked_any = False
    rtt_sample = None
    while q:
        seq, data, flags, sent = q[0]
        end = (seq + len(data) + (1 if flags & (SYN | FIN) else 0)) & M32
        if after(end, ack):
            break
        q.popleft()
        acked_any = True
        if flags & FIN:
            sk.fin_acked = True
        if sent >= 0:
            rtt_sample = now - sent
    if rtt_sample is not None and not sk.retransmits:
        _update_rtt(sk, rtt_sample)
    return acked_any


def _tcp_ack(sk: TcpSock, pkt: Packet, now: float) -> bool:
    """tcp_ack. False for an ACK of data never sent (ignored; an ACK is sent back)."""
    seg = pkt.seg
    ack = seg.ack
    if after(ack, sk.snd_nxt):
        send_ack(sk, now)  # tcp_ack: ACK of unsent data -> ACK back, drop
        return False
    if before(ack, sk.snd_una):
        return True  # old duplicate ACK
    if after(ack, sk.snd_una) or seg.window << sk.snd_wscale != sk.snd_wnd:
        sk.snd_wnd = seg.window << sk.snd_wscale
        sk.max_window = max(sk.max_window, sk.snd_wnd)
        sk.snd_wl1 = seg.seq
    if after(ack, sk.snd_una):
        sk.snd_una = ack
        if _clean_rtx_queue(sk, ack, now):
            sk.retransmits = 0
            if sk.rtx_queue:
                _arm_rto(sk, now)
            elif sk.rtx_timer is not None:
                sk.rtx_timer.cancel()
                sk.rtx_timer = None
    if not seg.payload and not seg.flags & (FIN | SYN):
        sk.ns.mib.tcp_ext["TCPPureAcks"] += 1
    return True


def queue_payload(sk: TcpSock, pkt: Packet, now: float) -> None:
    """tcp_data_queue, in-order only: append, advance rcv_nxt, ACK."""
    seg = pkt.seg
    data = seg.payload
    if seg.seq == sk.rcv_nxt:
        if sk.rcv_shutdown and sk.orphan:
            return
        sk.recv_buf += data
        sk.rcv_nxt = (sk.rcv_nxt + len(data)) & M32
    elif before(seg.seq, sk.rcv_nxt) and after(seg.end_seq, sk.rcv_nxt):
        skip = (sk.rcv_nxt - seg.seq) & M32
        sk.recv_buf += data[skip:]
        sk.rcv_nxt = (sk.rcv_nxt + len(data) - skip) & M32
    else:
        sk.ns.mib.tcp_ext["TCPOFODrop" if after(seg.seq, sk.rcv_nxt) else "DelayedACKLost"] += 1
    if not seg.flags & FIN:
        send_ack(sk, now)
    wake(sk)


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
    send_ack(sk, now)
    wake(sk)


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
            from .output import send_reset

            send_reset(ns, pkt, now)
            return
        sk.snd_una = seg.ack
        _clean_rtx_queue(sk, seg.ack, now)
        if sk.rtx_timer is not None:
            sk.rtx_timer.cancel()
            sk.rtx_timer = None
        sk.snd_wnd = seg.window << sk.snd_wscale
        sk.retransmits = 0
        set_state(sk, ESTABLISHED)
    if sk.tstamp_ok and seg.tsval is not None and not after(seg.seq, sk.rcv_nxt):
        sk.ts_recent = seg.tsval  # tcp_store_ts_recent
        sk.ts_recent_stamp = now
    if not _tcp_ack(sk, pkt, now):
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
                from .output import send_reset

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
    if seg.payload:
        if sk.rcv_shutdown and st in (FIN_WAIT1, FIN_WAIT2) and after(seg.end_seq, sk.rcv_nxt):
            # RFC 1122: data after our receive side is shut -> reset
            ns.mib.tcp_ext["TCPAbortOnData"] += 1
            from .output import send_reset

            send_reset(ns, pkt, now)
            tcp_done(sk, now)
            return
        if st in (CLOSE_WAIT, CLOSING, LAST_ACK):
            pass  # the peer already sent FIN; data beyond it is ignored
        else:
            queue_payload(sk, pkt, now)
    if seg.flags & FIN and (seg.seq + len(seg.payload)) & M32 == sk.rcv_nxt \
            and sk.state not in (CLOSE, CLOSE_WAIT, CLOSING, LAST_ACK):
        tcp_fin(sk, now)
    _push(sk, now)


def _arm_fin_wait2(sk: TcpSock, now: float, tmo: float) -> None:
    """An orphan in FIN_WAIT2 waits (keepalive timer) before becoming a timewait sock."""
    if sk.tw_timer is not None:
        sk.tw_timer.cancel()

    def fire(s: TcpSock, t: float) -> None:
        s.tw_timer = None
        if s.state == FIN_WAIT2:
            time_wait(s, FIN_WAIT2, fin_time(s) - TCP_TIMEWAIT_LEN if fin_time(s) >
                      TCP_TIMEWAIT_LEN else 0.0, t)

    sk.tw_timer = sk.ns.arm(now, tmo, fire, sk)


def _update_metrics(sk: TcpSock) -> None:
    """tcp_update_metrics: remember the RTT for this destination."""
    if sk.srtt:
        sk.ns.tcp_metrics[sk.raddr] = sk.srtt


# --- send ------------------------------------------------------------------------------------
def _arm_rto(sk: TcpSock, now: float) -> None:
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    sk.rtx_timer = sk.ns.arm(now, sk.rto, retransmit_timer, sk)


def _in_flight(sk: TcpSock) -> int:
    return (sk.snd_nxt - sk.snd_una) & M32


def _push(sk: TcpSock, now: float) -> None:
    """tcp_write_xmit: send what the peer's window and the congestion window allow."""
    if sk.state not in (ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, CLOSING, LAST_ACK):
        return
    mss = max(sk.mss_cache, 1)
    sent_any = False
    while sk.send_buf:
        room = min(sk.snd_wnd, sk.cwnd * mss) - _in_flight(sk)
        if room <= 0:
            break
        n = min(mss, room, len(sk.send_buf))
        if n < mss and n < len(sk.send_buf):
            break  # wait for a full segment's room
        chunk = bytes(sk.send_buf[:n])
        del sk.send_buf[:n]
        flags = ACK | (PSH if not sk.send_buf else 0)
        transmit(sk, flags, sk.snd_nxt, chunk, now)
        sk.rtx_queue.append((sk.snd_nxt, chunk, flags, now))
        sk.snd_nxt = (sk.snd_nxt + n) & M32
        sent_any = True
    if not sk.send_buf and sk.fin_queued and not any(f & FIN for _, _, f, _ in sk.rtx_queue) \
            and not sk.fin_acked:
        transmit(sk, FIN | ACK, sk.snd_nxt, b"", now)
        sk.rtx_queue.append((sk.snd_nxt, b"", FIN | ACK, now))
        sk.snd_nxt = (sk.snd_nxt + 1) & M32
        sent_any = True
    if sent_any and sk.rtx_timer is None:
        _arm_rto(sk, now)
    wake(sk)


def sk_send(sk: TcpSock, data: bytes, now: float) -> int:
    """tcp_sendmsg: copy what fits in the send buffer and push."""
    room = SNDBUF_DEFAULT - len(sk.send_buf) - _in_flight(sk)
    n = min(room, len(data))
    if n <= 0:
        return 0
    sk.send_buf += data[:n]
    sk.write_seq = (sk.write_seq + n) & M32
    _push(sk, now)
    return n


def sk_recv_consumed(sk: TcpSock, n: int, now: float) -> None:
    """tcp_cleanup_rbuf: after reading, announce the reopened window if it grew a lot."""
    sk.copied_seq = (sk.copied_seq + n) & M32
    if sk.state in (ESTABLISHED, FIN_WAIT1, FIN_WAIT2) and n >= sk.mss_cache \
            and len(sk.recv_buf) == 0:
        send_ack(sk, now)


def send_fin(sk: TcpSock, now: float) -> None:
    """tcp_send_fin: FIN after the queued data."""
    sk.fin_queued = True
    sk.write_seq = (sk.write_seq + 1) & M32
    _push(sk, now)


def retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer + tcp_write_timeout for synchronized states (go-back-N)."""
    from .active import syn_retransmit_timer

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
    # go back to snd_una: resend everything outstanding, starting with the head
    seq, data, flags, _ = sk.rtx_queue[0]
    transmit(sk, flags, seq, data, now, retrans=True)
    sk.rtx_queue[0] = (seq, data, flags, -1.0)
    ns.mib.tcp["RetransSegs"] += 1
    sk.num_retrans_total += 1
    sk.retransmits += 1
    sk.rto = min(sk.rto * 2, TCP_RTO_MAX)
    _arm_rto(sk, now)


# --- close -------------------------------------------------------------------------------------
def tcp_close(sk: TcpSock, now: float) -> None:
    """__tcp_close."""
    from .passive import reqsk_queue_drop

    ns = sk.ns
    sk.rcv_shutdown = True
    sk.orphan = True
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
        from .lifecycle import destroy

        destroy(sk)
        return
    unread = len(sk.recv_buf)
    sk.recv_buf.clear()
    if sk.state == CLOSE:
        from .lifecycle import destroy

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
        from .lifecycle import destroy

        destroy(sk)

