"""tcp_minisocks.c:tcp_timewait_state_process and the do_time_wait part of tcp_v4_rcv.

Every segment a timewait sock handles is freed by tcp_v4_rcv's discard_it: NOT_SPECIFIED unless
tcp_timewait_state_process named a reason (TCP_RFC7323_TW_PAWS); only a SYN that may reuse the
4-tuple (TCP_TW_SYN) goes on, to the listener.
"""

from __future__ import annotations

from typing import Final

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..net.tcp_states import FIN_WAIT2, TIME_WAIT
from ..wire.ipv4 import Packet
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import ACK, FIN, RST, SYN
from .constants import TCP_TIMEWAIT_LEN
from .lifecycle import tw_kill, tw_reschedule
from .minisocks import in_window, oow_rate_limited
from .output import send_ack_reply, send_reset
from .twsock import TimeWaitSock

TCP_PAWS_MSL: Final = 60
TW_SYN: Final = "TW_SYN"  # TCP_TW_SYN: not a drop; the ISN is left in ns.tcp_tw_isn


def tw_ack(ns: NetNamespace, tw: TimeWaitSock, now: float, rate_limited: bool,
           data: bool = False) -> None:
    """tcp_v4_timewait_ack (optionally through tcp_oow_rate_limited; `data`: the segment
    carries data and no SYN, never limited)."""
    if rate_limited and oow_rate_limited(ns, tw, now, "TCPACKSkippedTimeWait", data):
        return
    tsval = ((ns.clock.tcp_clock_ms(now) + tw.ts_off) & M32) if tw.tstamp_ok else None
    send_ack_reply(ns, tw.laddr, tw.lport, tw.raddr, tw.rport, tw.snd_nxt, tw.rcv_nxt,
                   tw.rcv_wnd >> tw.rcv_wscale, tsval, tw.ts_recent)


def timewait_process(ns: NetNamespace, tw: TimeWaitSock, pkt: Packet, now: float) -> str:
    """Returns the drop reason, or TW_SYN for a SYN that may reuse the 4-tuple (its ISN is left
    in ns.tcp_tw_isn, as the kernel leaves it in the per-CPU tcp_tw_isn)."""
    seg = pkt.seg
    paws_reject = False
    saw_ts = seg.tsval is not None and tw.tstamp_ok
    if saw_ts and seg.tsval is not None:
        diff = (tw.ts_recent - seg.tsval) & M32
        paws_ok = diff == 0 or bool(diff & 0x80000000)
        if not paws_ok and not (seg.flags & RST and now >= tw.ts_recent_stamp + TCP_PAWS_MSL):
            paws_reject = True
    if tw.substate == FIN_WAIT2:
        if paws_reject or not in_window(seg.seq, seg.end_seq, tw.rcv_nxt,
                                         (tw.rcv_nxt + tw.rcv_wnd) & M32):
            tw_ack(ns, tw, now, rate_limited=True,  # out of window: ACK
                   data=seg.seq != seg.end_seq and not seg.flags & SYN)
            return dr.NOT_SPECIFIED
        if seg.flags & RST:
            tw_kill(tw)
            return dr.NOT_SPECIFIED
        if seg.flags & SYN and not before(seg.seq, tw.rcv_nxt):
            send_reset(ns, pkt, now, "TCP_TIMEWAIT_SOCKET")
            tw_kill(tw)
            return dr.NOT_SPECIFIED
        if not seg.flags & ACK or (not seg.payload and not seg.flags & FIN
                                   and not after(seg.end_seq, tw.rcv_nxt)):
            return dr.NOT_SPECIFIED  # pure duplicate ACK or no ACK: drop
        if not (seg.flags & FIN) or seg.payload or seg.end_seq != (tw.rcv_nxt + 1) & M32:
            send_reset(ns, pkt, now, "TCP_TIMEWAIT_SOCKET")  # anything but exactly the FIN
            tw_kill(tw)
            return dr.NOT_SPECIFIED
        # the FIN: become TIME_WAIT for 60 s, ACK it
        tw.substate = TIME_WAIT
        tw.rcv_nxt = (tw.rcv_nxt + 1) & M32
        if saw_ts and seg.tsval is not None:
            tw.ts_recent = seg.tsval
            tw.ts_recent_stamp = now
        tw_reschedule(tw, TCP_TIMEWAIT_LEN, now)
        tw_ack(ns, tw, now, rate_limited=False)
        return dr.NOT_SPECIFIED
    # substate TIME_WAIT
    if not paws_reject and seg.seq == tw.rcv_nxt and (
            seg.seq == seg.end_seq or seg.flags & RST):
        if seg.flags & RST:
            if not ns.sysctl.tcp_rfc1337:
                tw_kill(tw)  # TIME_WAIT assassination (RFC 1337 hazard)
                return dr.NOT_SPECIFIED
        else:
            if saw_ts and seg.tsval is not None:
                tw.ts_recent = seg.tsval
                tw.ts_recent_stamp = now
        tw_reschedule(tw, TCP_TIMEWAIT_LEN, now)
        return dr.NOT_SPECIFIED  # a bare in-window ACK: rearm, drop
    if seg.flags & SYN and not seg.flags & (RST | ACK) and not paws_reject and (
            after(seg.seq, tw.rcv_nxt) or (
                saw_ts and seg.tsval is not None
                and (tw.ts_recent - seg.tsval) & 0x80000000)):
        ns.tcp_tw_isn = (tw.snd_nxt + 65535 + 2) & M32 or 1
        return TW_SYN
    if paws_reject:
        ns.mib.tcp_ext.PAWSTimewait += 1
    if not seg.flags & RST:
        if paws_reject or seg.flags & ACK:
            tw_reschedule(tw, TCP_TIMEWAIT_LEN, now)
        tw_ack(ns, tw, now, rate_limited=True,
               data=seg.seq != seg.end_seq and not seg.flags & SYN)
    return dr.TCP_RFC7323_TW_PAWS if paws_reject else dr.NOT_SPECIFIED

