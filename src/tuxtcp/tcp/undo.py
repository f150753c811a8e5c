"""Undoing a congestion window reduction that proved needless, and F-RTO (tcp_input.c:
tcp_init_undo, tcp_may_undo, tcp_packet_delayed, tcp_undo_cwnd_reduction, tcp_try_undo_recovery,
tcp_try_undo_dsack, tcp_try_undo_loss, tcp_try_undo_partial, tcp_process_loss).

A reduction (Recovery, or Loss after an RTO) records snd_una (undo_marker), the ssthresh to go
back to (prior_ssthresh) and the retransmissions a D-SACK would each have to show needless
(undo_retrans). It is undone once D-SACKs did so for all of them, or once an ACK echoes a
timestamp from before the first retransmission (the original arrived: Eifel), or, after an
RTO, once F-RTO sees data sent only once acknowledged after new data went out.
"""

from __future__ import annotations

from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from .cong import TCP_CA_CWR, TCP_CA_DISORDER, TCP_CA_LOSS, TCP_CA_OPEN, TCP_CA_RECOVERY
from .constants import TCP_ECN_QUEUE_CWR
from .output import tsval_of
from .rack import TCP_RACK_RECOVERY_THRESH, check_sack_reordering
from .sock import EMPTY_SCOREBOARD, TcpSock


def process_loss(sk: TcpSock, advanced: bool, tsecr: int, now: float, orig_acked: bool,
                  data_sacked: bool, dupack: bool) -> None:
    """tcp_process_loss: an ACK in Loss. Undone if it shows the RTO needless; with F-RTO
    (RFC 5682, tcp_frto), once an ACK after the RTO moved snd_una, new data goes out instead
    of more retransmissions (frto_new, for push), and if the next ACK then covers data sent
    only once the RTO was spurious (TCPSpuriousRTOs), while a SACK or duplicate ACK for the
    new data says the loss was real. snd_una past high_seq ends Loss (Open)."""
    recovered = not before(sk.snd_una, sk.recover)
    if advanced and try_undo_loss(sk, tsecr, now, False):
        return
    if sk.frto:
        if orig_acked and try_undo_loss(sk, tsecr, now, True):
            return
        if after(sk.snd_nxt, sk.recover):
            if data_sacked or dupack:
                sk.frto = False  # step 3.a: the loss was real
        elif advanced and not recovered:
            sk.recover = sk.snd_nxt
            # step 2.b: new data, if any may go (REXMIT_NEW)
            if sk.send_buf and after((sk.snd_una + sk.snd_wnd) & M32, sk.snd_nxt):
                sk.frto_new = True
                return
            sk.frto = False
    if recovered:
        try_undo_recovery(sk, tsecr, now)


def init_undo(sk: TcpSock) -> None:
    """tcp_init_undo: a reduction begins that may prove needless: the retransmissions still
    out (and a loss probe's) are ones a D-SACK would have to show needless."""
    sk.undo_marker = sk.snd_una
    sk.undo_retrans = sk.sack.retrans_out + (1 if sk.tlp_high_seq and sk.tlp_retrans else 0)
    if not sk.undo_retrans:
        sk.undo_retrans = -1


def current_ssthresh(sk: TcpSock) -> int:
    """tcp_current_ssthresh: in CWR or Recovery the ssthresh in force, else at least 3/4 of
    cwnd."""
    if sk.ca_state in (TCP_CA_CWR, TCP_CA_RECOVERY):
        return sk.ssthresh
    return max(sk.ssthresh, (sk.cwnd >> 1) + (sk.cwnd >> 2))


def any_retrans_done(sk: TcpSock) -> bool:
    """tcp_any_retrans_done: a retransmission is out, or the head was ever resent."""
    rtx = sk.rtx_queue
    return bool(sk.sack.retrans_out) or (bool(rtx) and rtx[0].ever_retrans)


def _packet_delayed(sk: TcpSock, tsecr: int, now: float) -> bool:
    """tcp_packet_delayed: the ACK echoes a timestamp from before the first retransmission,
    so the original got through (Eifel); without a retransmission, yes."""
    if sk.retrans_stamp >= 0:
        return bool(tsecr) and sk.rx_opt.tstamp_ok and before(
            tsecr, tsval_of(sk.ns, sk.ts_off, sk.retrans_stamp))
    return True


def _may_undo(sk: TcpSock, tsecr: int, now: float) -> bool:
    """tcp_may_undo: a reduction under way, and every retransmission D-SACKed or the
    original shown delivered."""
    return sk.undo_marker >= 0 and (not sk.undo_retrans or _packet_delayed(sk, tsecr, now))


def _undo_cwnd_reduction(sk: TcpSock, unmark_loss: bool, now: float) -> None:
    """tcp_undo_cwnd_reduction: cwnd back to what it was (the ops' undo_cwnd: the larger of
    now and before) and ssthresh too; with `unmark_loss` nothing is lost any more. RACK looks
    again at the next ACK."""
    if unmark_loss:
        for ts in sk.rtx_queue:
            ts.lost = False
        if sk.sack is not EMPTY_SCOREBOARD:
            sk.sack.lost_out = 0
    if sk.prior_ssthresh:
        sk.cwnd = max(sk.cwnd, sk.prior_cwnd)  # tcp_reno_undo_cwnd (Reno and CUBIC)
        if sk.prior_ssthresh > sk.ssthresh:
            sk.ssthresh = sk.prior_ssthresh
            sk.ecn_flags &= ~TCP_ECN_QUEUE_CWR  # tcp_ecn_withdraw_cwr
    sk.snd_cwnd_stamp = now
    sk.undo_marker = -1
    r = sk.rack
    if r is not None:
        r.advanced = True


def try_undo_recovery(sk: TcpSock, tsecr: int, now: float) -> None:
    """tcp_try_undo_recovery (a SACK connection): snd_una reached high_seq; undo if nothing
    resent was needed (TCPFullUndo; from Loss TCPLossUndo), else one recovery fewer for
    RACK's widened window to persist; and Open."""
    if _may_undo(sk, tsecr, now):
        mib = sk.ns.mib.tcp_ext
        if sk.ca_state == TCP_CA_LOSS:
            mib.TCPLossUndo += 1
        else:
            mib.TCPFullUndo += 1
        _undo_cwnd_reduction(sk, False, now)
    elif sk.rack is not None and sk.rack.reo_wnd_persist:
        sk.rack.reo_wnd_persist -= 1
    sk.ca_state = TCP_CA_OPEN


def try_undo_dsack(sk: TcpSock, now: float) -> bool:
    """tcp_try_undo_dsack: D-SACKs showed every retransmission needless (TCPDSACKUndo); RACK's
    widened window persists a recovery longer."""
    if sk.undo_marker >= 0 and not sk.undo_retrans:
        if sk.rack is not None:
            sk.rack.reo_wnd_persist = min(TCP_RACK_RECOVERY_THRESH, sk.rack.reo_wnd_persist + 1)
        _undo_cwnd_reduction(sk, False, now)
        sk.ns.mib.tcp_ext.TCPDSACKUndo += 1
        return True
    return False


def try_undo_spurious_syn(sk: TcpSock, syn_stamp: int, tsecr: int | None) -> None:
    """tcp_try_undo_spurious_syn: the handshake's resent SYN or SYN-ACK proved needless, the
    answer echoing the timestamp of the first one (`syn_stamp`, the raw ms clock of
    retrans_stamp): nothing is left to undo (undo_marker cleared, no counter). Else the
    marker stays, and the connection starts from a cwnd of 1 (init_transfer_cwnd)."""
    if (sk.undo_marker >= 0 and syn_stamp and sk.rx_opt.tstamp_ok and tsecr is not None
            and (tsecr - sk.ts_off) & M32 == syn_stamp):
        sk.undo_marker = -1


def try_undo_loss(sk: TcpSock, tsecr: int, now: float, frto_undo: bool) -> bool:
    """tcp_try_undo_loss: an ACK after an RTO shows it needless (TCPLossUndo; found by
    F-RTO: TCPSpuriousRTOs too): nothing is lost any more, Open."""
    if frto_undo or _may_undo(sk, tsecr, now):
        _undo_cwnd_reduction(sk, True, now)
        sk.ns.mib.tcp_ext.TCPLossUndo += 1
        if frto_undo:
            sk.ns.mib.tcp_ext.TCPSpuriousRTOs += 1
        sk.retransmits = 0
        sk.ca_state = TCP_CA_OPEN
        return True
    return False


def try_undo_partial(sk: TcpSock, prior_una: int, tsecr: int, now: float) -> bool:
    """tcp_try_undo_partial: in Recovery, an ACK of new data that echoes a timestamp from
    before the first retransmission: that was reordering (TCPTSReorder). While
    retransmissions are out it only stops more (True); else undo (TCPPartialUndo)."""
    if sk.undo_marker >= 0 and _packet_delayed(sk, tsecr, now):
        check_sack_reordering(sk, prior_una, True)
        if sk.sack.retrans_out:
            return True
        if not any_retrans_done(sk):
            sk.retrans_stamp = -1.0
        _undo_cwnd_reduction(sk, True, now)
        sk.ns.mib.tcp_ext.TCPPartialUndo += 1
        try_keep_open(sk)
    return False


def try_keep_open(sk: TcpSock) -> None:
    """tcp_try_keep_open: Disorder while anything is SACKed, lost or resent, else Open."""
    sb = sk.sack
    state = (TCP_CA_DISORDER if sb.sacked_out or sb.lost_out or any_retrans_done(sk)
             else TCP_CA_OPEN)
    if sk.ca_state != state:
        sk.ca_state = state
        sk.recover = sk.snd_nxt
