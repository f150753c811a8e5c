"""RACK loss detection (RFC 8985) as Linux's tcp_recovery.c has it, and the reordering it learns
from (tcp_check_sack_reordering).

Since 6.17 RACK is the only loss detection of a SACK connection (the RFC 6675 duplicate
threshold, tcp_mark_head_lost, went): a segment is lost once a segment sent after it was
delivered (SACKed or cumulatively acknowledged) and a reordering window has passed since
then: rack.rtt_us + reo_wnd - (now - its transmission) <= 0. A segment whose time has not
come yet arms the REO timer (ICSK_TIME_REO_TIMEOUT, in the retransmission timer's slot) for
when it does. The window is a quarter of the minimum RTT (capped at the smoothed RTT), or 0
before any reordering was seen once in Recovery or once tcp_reordering (3) segments are
SACKed, which makes RACK behave as the duplicate threshold did.

The window widens by one step (a quarter of the minimum RTT) for each round trip in which a
D-SACK arrived after reordering had been seen (the retransmission it reports may have been
RACK's mistake), up to the smoothed RTT, and keeps that width for 16 recoveries
(tcp_rack_update_reo_wnd).

Times are compared in whole microseconds, as the kernel's tcp_mstamp (`us`). Not modelled:
TCP_RACK_STATIC_REO_WND.
"""

from __future__ import annotations

from typing import Final

from ..net.clock import round_int, usecs_to_jiffies
from ..net.sysctl_specs import HZ
from ..wire.seq import MASK as M32
from ..wire.seq import before
from .cong import TCP_CA_RECOVERY
from .constants import TIMER_RETRANS
from .sock import RackState, TcpSock, TxSeg, scoreboard

TCP_RACK_NO_DUPTHRESH: Final = 0x4  # net.ipv4.tcp_recovery's bit: no window of 0 at 3 SACKs
TCP_RACK_STATIC_REO_WND: Final = 0x2  # and its bit for a window that never widens
TCP_RACK_RECOVERY_THRESH: Final = 16  # recoveries a widened window persists for
TCP_TIMEOUT_MIN_US: Final = 2000  # added to the REO timer (6.7+: 2 ms, not 2 jiffies)
U32_MAX: Final = 0xFFFFFFFF


def us(t: float) -> int:
    """A virtual time in whole microseconds (tcp_clock_us)."""
    return round_int(t * 1_000_000)


def rack(sk: TcpSock) -> RackState:
    """The socket's RACK state, made on first use (a socket that never sends data has none)."""
    r = sk.rack
    if r is None:
        r = sk.rack = RackState()
    return r


def _sent_after(t1: int, t2: int, order1: int, order2: int) -> bool:
    """tcp_skb_sent_after: later, or at the same instant and later in the socket's order. (The
    kernel breaks a tie by sequence, which is the order of one burst; on the virtual clock a
    timer's retransmission can share an instant with new data an ACK sent just before it, and
    the order is what happened.)"""
    return t1 > t2 or (t1 == t2 and order1 > order2)


def rack_advance(sk: TcpSock, ts: TxSeg, now: float) -> None:
    """tcp_rack_advance: a segment was delivered (newly SACKed, or cumulatively acknowledged
    without having been SACKed). One that went more than once and came back quicker than the
    minimum RTT is ambiguous (the original may be what arrived) and is ignored. The RTT is
    taken from every other one; the reference moves to the most recently sent."""
    xmit = us(ts.xmit)
    rtt_us = max(us(now) - xmit, 0)
    min_rtt = us(sk.min_rtt) if sk.min_rtt >= 0 else U32_MAX
    if ts.ever_retrans and rtt_us < min_rtt:
        return
    r = rack(sk)
    r.advanced = True
    r.rtt_us = rtt_us
    if _sent_after(xmit, r.mstamp, ts.order, r.order):
        r.mstamp = xmit
        r.order = ts.order


def reo_wnd_us(sk: TcpSock) -> int:
    """tcp_rack_reo_wnd: 0 while no reordering was ever seen and either Recovery has begun or
    tcp_reordering segments are SACKed; else a quarter of the minimum RTT per step, at most
    the smoothed RTT."""
    if not sk.reord_seen:
        if sk.ca_state >= TCP_CA_RECOVERY:
            return 0
        if (sk.sack.sacked_out >= sk.reordering
                and not sk.ns.sysctl.tcp_recovery & TCP_RACK_NO_DUPTHRESH):
            return 0
    min_rtt = us(sk.min_rtt) if sk.min_rtt >= 0 else U32_MAX
    r = sk.rack
    steps = r.reo_wnd_steps if r is not None else 1
    return min(((min_rtt >> 2) * steps) & U32_MAX, us(sk.srtt))


def update_reo_wnd(sk: TcpSock, prior_delivered: int) -> None:
    """tcp_rack_update_reo_wnd, after an ACK's (S)ACKed segments are counted: a D-SACK seen
    since (rack.dsack_seen) widens the window a step, at most once a round trip (the ACK must
    be for data sent after the last widening: `prior_delivered`, the rate sample's); with
    none, a window whose persistence ran out narrows back to one step."""
    r = sk.rack
    if r is None or sk.ns.sysctl.tcp_recovery & TCP_RACK_STATIC_REO_WND or not prior_delivered:
        return
    if before(prior_delivered, r.last_delivered):
        r.dsack_seen = False  # a round trip has not passed since the last widening
    if r.dsack_seen:
        r.reo_wnd_steps = min(0xFF, r.reo_wnd_steps + 1)
        r.dsack_seen = False
        r.last_delivered = sk.delivered
        r.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH
    elif not r.reo_wnd_persist:
        r.reo_wnd_steps = 1


def mark_skb_lost(sk: TcpSock, ts: TxSeg) -> None:
    """tcp_mark_skb_lost: lost, unless SACKed; a retransmission marked lost again is a lost
    retransmission (TCPLostRetransmit): it may go once more."""
    if ts.sacked:
        return
    sb = scoreboard(sk)
    r = rack(sk)
    if ts.lost:
        if ts.retrans:
            ts.retrans = 0
            sb.retrans_out -= 1
            sk.ns.mib.tcp_ext.TCPLostRetransmit += 1
            r.lost += 1
    else:
        ts.lost = True
        sb.lost_out += 1
        r.lost += 1


def detect_loss(sk: TcpSock, now: float) -> int:
    """tcp_rack_detect_loss: mark lost what was sent before the reference segment and whose
    reordering window has passed; returns the longest wait (us) of those still inside it (0:
    none). The kernel walks its time-sorted list; the queue here is in sequence order. The
    walk stops at the first segment sent only once that is not older than the reference:
    every segment after it was first sent after it, and one sent again, later still."""
    r = sk.rack
    if r is None or not sk.rtx_queue:
        return 0
    reo_wnd = reo_wnd_us(sk)
    now_us = us(now)
    timeout = 0
    for ts in sk.rtx_queue:
        if ts.sacked or (ts.lost and not ts.retrans):
            continue  # delivered, or marked lost and not yet sent again
        xmit = us(ts.xmit)
        if not _sent_after(r.mstamp, xmit, r.order, ts.order):
            if not ts.ever_retrans:
                break
            continue
        remaining = r.rtt_us + reo_wnd - (now_us - xmit)
        if remaining <= 0:
            mark_skb_lost(sk, ts)
        elif remaining > timeout:
            timeout = remaining
    return timeout


def mark_lost(sk: TcpSock, now: float) -> bool:
    """tcp_rack_mark_lost: once something new was delivered, detect losses; the REO timer is
    armed for the next one due (2 ms later, in whole jiffies, no later than the RTO). True:
    the timer is armed (the ACK does not re-arm the RTO or a loss probe then)."""
    r = sk.rack
    if r is None or not r.advanced:
        return False
    r.advanced = False
    timeout = detect_loss(sk, now)
    if not timeout:
        return False
    jiffies = usecs_to_jiffies(timeout + TCP_TIMEOUT_MIN_US)
    arm_reo(sk, now, min(jiffies / HZ, sk.rto))
    return True


def arm_reo(sk: TcpSock, now: float, timeout: float) -> None:
    """inet_csk_reset_xmit_timer(ICSK_TIME_REO_TIMEOUT): the retransmission timer's slot."""
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    sk.loss_probe_armed = False
    sk.reo_armed = True
    sk.rtx_timer = sk.ns.arm(now, timeout, TIMER_RETRANS, sk)


def highest_sack_seq(sk: TcpSock) -> int:
    """tcp_highest_sack_seq: the end of the highest SACKed segment, snd_una with none."""
    return sk.sack.high_sacked if sk.sack.sacked_out else sk.snd_una


def check_sack_reordering(sk: TcpSock, low_seq: int, ts: bool) -> None:
    """tcp_check_sack_reordering: a segment below the highest SACKed one was delivered without
    having been resent, so it was reordered, not lost: the reordering degree grows to the
    distance in segments (at most tcp_max_reordering), and RACK's window opens from now on
    (reord_seen). TCPSACKReorder (TCPTSReorder when timestamps told)."""
    fack = highest_sack_seq(sk)
    if not before(low_seq, fack):
        return
    mss = sk.mss_cache
    metric = (fack - low_seq) & M32
    if mss and metric > sk.reordering * mss:
        sk.reordering = min(-(-metric // mss), sk.ns.sysctl.tcp_max_reordering)
    sk.reord_seen += 1
    if ts:
        sk.ns.mib.tcp_ext.TCPTSReorder += 1
    else:
        sk.ns.mib.tcp_ext.TCPSACKReorder += 1
