"""Building and sending segments (tcp_output.c, tcp_ipv4.c:tcp_v4_send_reset/send_ack).

OutSegs is bumped where the kernel bumps it: tcp_transmit_skb for new data/SYN/FIN and pure
control segments but not retransmissions, tcp_make_synack for every SYN-ACK (retransmitted or
not), tcp_v4_send_reset and tcp_v4_send_ack always.
"""

from __future__ import annotations

from typing import Final

from ..net.namespace import NetNamespace
from ..net.route import IP_MAX_MTU, MTU_ETHERNET, dont_fragment, route_mtu
from ..wire.ipv4 import Packet
from ..wire.seq import MASK as M32
from ..wire.tcp import ACK, CWR, ECE, FIN, RST, SYN, TcpSegment
from . import tracepoints as tp
from .constants import TCP_ECN_DEMAND_CWR, TCP_ECN_OK, TCP_ECN_QUEUE_CWR, TCP_MSS_DEFAULT
from .rcvwin import select_window_space
from .receive import sack_blocks
from .reqsk import RequestSock
from .sock import TcpSock, in_flight
from .syncookies import cookie_init_timestamp

INET_ECN_ECT_0: Final = 2
IP_RT_MIN_ADVMSS: Final = 256  # net.ipv4.route.min_adv_mss


def advmss_for(ns: NetNamespace, daddr: int, now: float) -> int:
    """dst_metric_advmss (ipv4_default_advmss): the route's MTU less 40, at least
    ip_rt_min_advmss (256), at most 65495 (IPV4_MAX_PMTU less 40: loopback's). A path MTU
    learned for the destination counts (route.py)."""
    return min(max(route_mtu(ns, daddr, now) - 40, IP_RT_MIN_ADVMSS), IP_MAX_MTU - 40)


def mss_clamp(sk: TcpSock, mss: int) -> int:
    """tcp_mss_clamp: TCP_MAXSEG (user_mss) caps the MSS we advertise."""
    user = sk.rx_opt.user_mss
    return user if user and user < mss else mss


def tsval_of(ns: NetNamespace, ts_off: int, now: float) -> int:
    return (ns.clock.tcp_clock_ms(now) + ts_off) & M32


# --- replies sent without a full socket ---------------------------------------------------
def send_reset(ns: NetNamespace, pkt: Packet, now: float, reason: str,
               sk: TcpSock | None = None) -> None:
    """tcp_v4_send_reset: never answer a RST; seq = ack_seq if ACK set, else RST|ACK with
    ack = seq + SYN + FIN + payload. `reason` is the sk_rst_reason (traced); `sk` the socket
    the kernel passes (a listener resetting an ACK), which the tracepoint then shows."""
    seg = pkt.seg
    if seg.flags & RST:
        return
    if seg.flags & ACK:
        rst = TcpSegment(seg.dport, seg.sport, seg.ack, 0, RST, 0)
    else:
        rst = TcpSegment(seg.dport, seg.sport, 0, seg.end_seq, RST | ACK, 0)
    ns.transmit(Packet(pkt.dst, pkt.src, rst))
    ns.mib.tcp.OutSegs += 1
    ns.mib.tcp.OutRsts += 1
    if ns.trace.on_send_reset:
        if sk is not None:
            tp.send_reset_sk(sk, pkt, reason, now)
        else:
            tp.send_reset(ns, pkt, reason, now)


def send_ack_reply(ns: NetNamespace, laddr: int, lport: int, raddr: int, rport: int, seq: int,
                   ack: int, window: int, tsval: int | None, tsecr: int) -> None:
    """tcp_v4_send_ack: ACKs for request socks and TIME_WAIT sockets."""
    seg = TcpSegment(lport, rport, seq, ack, ACK, min(window, 65535), tsval=tsval, tsecr=tsecr)
    ns.transmit(Packet(laddr, raddr, seg))
    ns.mib.tcp.OutSegs += 1


# --- SYN-ACK from a request sock ----------------------------------------------------------
def send_synack(ns: NetNamespace, req: RequestSock, now: float, cookie: bool = False) -> None:
    """tcp_make_synack + tcp_synack_options: MSS, SACK_PERM, TS, NOP, WS as negotiated;
    the window is never scaled on a SYN-ACK. Every SYN-ACK counts in OutSegs."""
    tsval = None
    if req.tstamp_ok:
        ms = ns.clock.tcp_clock_ms(now)
        if cookie:
            ms = cookie_init_timestamp(ms, req.wscale_ok, req.snd_wscale, req.sack_ok,
                                       req.ecn_ok)
        tsval = (ms + req.ts_off) & M32
        if not req.snt_tsval_first:
            req.snt_tsval_first = ms & M32
        req.snt_tsval_last = ms & M32
    seg = TcpSegment(
        req.lport, req.rport, req.snt_isn, req.rcv_nxt, SYN | ACK, min(req.rcv_wnd, 65535),
        mss=mss_clamp(req.listener, advmss_for(ns, req.raddr, now)),  # tcp_make_synack
        wscale=req.rcv_wscale if req.wscale_ok else None,
        sack_perm=req.sack_ok, tsval=tsval, tsecr=req.ts_recent,
    )
    ns.transmit(Packet(req.laddr, req.raddr, seg))
    ns.mib.tcp.OutSegs += 1


# --- full sockets --------------------------------------------------------------------------
def sync_mss(sk: TcpSock, now: float, pmtu: int = 0) -> None:
    """tcp_sync_mss with __tcp_mtu_to_mss for path MTU `pmtu` (0: the route's now): the MTU
    less the IP and TCP headers, clamped by the peer's MSS (rx_opt.mss_clamp), never below
    net.ipv4.tcp_min_snd_mss (so a peer's MSS option of 1 still gets 48-byte segments),
    less the timestamp option when it is on. The MTU is kept as icsk_pmtu_cookie."""
    if not pmtu:
        pmtu = route_mtu(sk.ns, sk.raddr, now)
    mss = max(min(sk.rx_opt.mss_clamp, pmtu - 40), sk.ns.sysctl.tcp_min_snd_mss)
    sk.pmtu_cookie = pmtu
    opt_len = 12 if sk.rx_opt.tstamp_ok else 0
    sk.mss_cache = bound_to_half_wnd(sk, mss - opt_len, opt_len)


def bound_to_half_wnd(sk: TcpSock, pktsize: int, opt_len: int) -> int:
    """tcp_bound_to_half_wnd: no segment larger than half the largest window the peer has
    offered (all of it when that is under TCP_MSS_DEFAULT), but not under 68 bytes of IP
    packet. On loopback this is what makes a 6.18 connection's mss 32741 or 32768 rather
    than 65483 (ss -i shows it)."""
    mw = sk.max_window
    cutoff = mw >> 1 if mw > TCP_MSS_DEFAULT else mw
    if cutoff and pktsize > cutoff:
        return max(cutoff, 68 - 20 - opt_len)
    return pktsize


def current_mss(sk: TcpSock, now: float) -> int:
    """tcp_current_mss: mss_cache, synced again first if the route's MTU moved since (another
    connection learned a smaller path MTU, or a learned one expired)."""
    if ((sk.ns.pmtu or sk.pmtu_cookie < MTU_ETHERNET)
            and route_mtu(sk.ns, sk.raddr, now) != sk.pmtu_cookie):
        sync_mss(sk, now)
    return sk.mss_cache


def select_window(sk: TcpSock) -> int:
    """tcp_select_window, the header's window field: zero when data was queued past rcvbuf
    (ICSK_ACK_NOMEM); else __tcp_select_window's, but never less than what is left of the
    window already offered (TCPWantZeroWindowAdv when it would have gone to zero); counts the
    moves to and from a zero window. tp->rcv_wnd keeps the window in bytes."""
    ns = sk.ns
    ws = sk.rx_opt.rcv_wscale
    old_win = sk.rcv_wnd
    if sk.ack_nomem:
        sk.rcv_wnd = 0
        return 0
    cur_win = (sk.rcv_adv - sk.rcv_nxt) & M32  # tcp_receive_window
    if cur_win & 0x80000000:
        cur_win = 0
    new_win = select_window_space(sk)
    if new_win < cur_win:
        if new_win == 0:
            ns.mib.tcp_ext.TCPWantZeroWindowAdv += 1
        new_win = (cur_win + (1 << ws) - 1) >> ws << ws
    sk.rcv_wnd = new_win
    if not ws and ns.sysctl.tcp_workaround_signed_windows:
        new_win = min(new_win, 32767)
    else:
        new_win = min(new_win, 65535 << ws)
    new_win >>= ws
    if new_win == 0:
        if old_win:
            ns.mib.tcp_ext.TCPToZeroWindowAdv += 1
    elif old_win == 0:
        ns.mib.tcp_ext.TCPFromZeroWindowAdv += 1
    return new_win


def transmit(sk: TcpSock, flags: int, seq: int, payload: bytes, now: float,
             retrans: bool = False) -> None:
    """tcp_transmit_skb for a full socket."""
    ns = sk.ns
    tsval = None
    tsecr = 0
    tos = 0
    if sk.rx_opt.tstamp_ok:
        tsval = tsval_of(ns, sk.ts_off, now)
        tsecr = sk.rx_opt.ts_recent
    if flags & SYN:
        # tcp_syn_options: MSS, TS, WS, SACK_PERM per sysctls; unscaled window
        seg = TcpSegment(sk.lport, sk.rport, seq, sk.rcv_nxt if flags & ACK else 0, flags,
                         min(sk.rcv_wnd, 65535), payload, mss=sk.advmss,
                         wscale=sk.rx_opt.rcv_wscale if sk.rx_opt.wscale_ok else None,
                         sack_perm=sk.rx_opt.sack_ok, tsval=tsval, tsecr=tsecr)
        if flags & ACK:  # a SYN-ACK of a simultaneous open offers its window too
            sk.rcv_wup = sk.rcv_nxt
            sk.rcv_adv = (sk.rcv_nxt + min(sk.rcv_wnd, 65535)) & M32
    else:
        sack: tuple[tuple[int, int], ...] = ()
        if (sk.sack_list or sk.dsack is not None) and sk.rx_opt.sack_ok:
            sack = sack_blocks(sk)
        # tcp_event_ack_sent: this segment carries our ACK; no delayed ACK is pending now
        if sk.delack_timer is not None:
            sk.delack_timer.cancel()
            sk.delack_timer = None
        if sk.icsk_ack.quick:
            sk.icsk_ack.quick -= 1
        win = select_window(sk)
        sk.ack_nomem = False  # tcp_event_ack_sent: the pending ACK bits are cleared
        sk.icsk_ack.pushed = 0
        if sk.ecn_flags & TCP_ECN_OK:
            flags, tos = _ecn_send(sk, flags, payload, retrans)
        seg = TcpSegment(sk.lport, sk.rport, seq, sk.rcv_nxt, flags | ACK, win, payload,
                         tsval=tsval, tsecr=tsecr, sack=sack)
        sk.rcv_wup = sk.rcv_nxt
        # tcp_receive_window counts from tp->rcv_wnd, which is not capped at what the
        # header could carry
        sk.rcv_adv = (sk.rcv_nxt + sk.rcv_wnd) & M32
    sk.ip_id = (sk.ip_id + 1) & 0xFFFF
    sk.wstamp = now  # __tcp_transmit_skb (without pacing the write time is the clock)
    plen = len(payload)  # (a length is read inline when compiled; `if payload` is a call)
    if plen:
        # tcp_event_data_sent: data leaving with nothing in flight starts a transmission
        # (CA_EVENT_TX_START), then lsndtime moves
        if not in_flight(sk):
            sk.ca_ops.tx_start(sk, now)
        sk.lsndtime = now
        if now - sk.icsk_ack.lrcvtime < sk.icsk_ack.ato and sk.icsk_ack.pingpong < 255:
            sk.icsk_ack.pingpong += 1  # a reply within ato of the data: interactive
    pcount = 1
    if plen > sk.mss_cache:
        # tcp_set_skb_tso_segs: a TSO packet of pcount segments, cut at gso_size
        seg.gso_size = sk.mss_cache
        pcount = (plen + sk.mss_cache - 1) // sk.mss_cache
    df = True if not ns.pmtu else dont_fragment(ns, sk.raddr, now)
    ns.transmit(Packet(sk.laddr, sk.raddr, seg, ip_id=sk.ip_id, tos=tos, df=df))
    # ip_select_ident_segs: a TSO packet takes one IP ID per segment it is cut into
    sk.ip_id = (sk.ip_id + pcount - 1) & 0xFFFF
    if not retrans:
        ns.mib.tcp.OutSegs += pcount  # __tcp_transmit_skb: tcp_skb_pcount(skb)
    sk.segs_out += pcount  # (__tcp_transmit_skb: tp->segs_out, data_segs_out, bytes_sent)
    if plen:
        sk.data_segs_out += pcount
        sk.bytes_sent += plen
        if retrans:
            sk.bytes_retrans += plen  # __tcp_retransmit_skb


def _ecn_send(sk: TcpSock, flags: int, payload: bytes, retrans: bool) -> tuple[int, int]:
    """tcp_ecn_send: new data leaves ECT(0), the first new segment after a reduction carries
    CWR; pure ACKs and retransmissions are not ECT; ECE on everything while the peer's CE
    mark is unanswered. Returns the TCP flags and the IP TOS byte."""
    tos = 0
    if payload and not retrans:
        tos = INET_ECN_ECT_0
        if sk.ecn_flags & TCP_ECN_QUEUE_CWR:
            sk.ecn_flags &= ~TCP_ECN_QUEUE_CWR
            flags |= CWR
    if sk.ecn_flags & TCP_ECN_DEMAND_CWR:
        flags |= ECE
    return flags, tos


def send_ack(sk: TcpSock, now: float) -> None:
    """tcp_send_ack: a pure ACK at snd_nxt."""
    transmit(sk, ACK, sk.snd_nxt, b"", now)


def send_active_reset(sk: TcpSock, now: float, reason: str) -> None:
    """tcp_send_active_reset: RST|ACK at snd_nxt (OutRsts), through tcp_transmit_skb, so it
    carries the connection's timestamp option (TSval now, TSecr ts_recent: packetdrill's
    ts_recent/reset_tsval.pkt on 6.18); `reason` is the sk_rst_reason."""
    ns = sk.ns
    tsval = None
    if sk.rx_opt.tstamp_ok:
        tsval = tsval_of(ns, sk.ts_off, now)
    seg = TcpSegment(sk.lport, sk.rport, sk.snd_nxt, sk.rcv_nxt, RST | ACK, 0, tsval=tsval,
                     tsecr=sk.rx_opt.ts_recent)
    ns.transmit(Packet(sk.laddr, sk.raddr, seg))
    ns.mib.tcp.OutSegs += 1
    ns.mib.tcp.OutRsts += 1
    if ns.trace.on_send_reset:
        tp.send_active_reset(sk, reason, now)


__all__ = ["FIN", "advmss_for", "send_ack", "send_ack_reply",
           "send_active_reset", "send_reset", "send_synack", "transmit", "tsval_of"]
