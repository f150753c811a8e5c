"""Passive open: tcp_conn_request, tcp_check_req, the cookie check, the request-sock timer,
child creation (tcp_v4_syn_recv_sock) and the accept queue."""

from __future__ import annotations

from typing import Final

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..net.sysctl import HZ
from ..net.tcp_states import ESTABLISHED, LISTEN, SYN_RECV
from ..wire.ipv4 import Packet, int_to_ip
from ..wire.seq import MASK as M32
from ..wire.seq import after, between
from ..wire.tcp import ACK, CWR, ECE, RST, SYN
from . import syncookies as sc
from . import tracepoints as tp
from .algorithms import init_congestion_control, init_transfer_cwnd
from .constants import TCP_ECN_OK, TCP_RTO_MAX, TCP_TIMEOUT_INIT
from .ehash import insert, remove
from .isn import secure_tcp_seq_and_ts_off
from .keepalive import keepalive_established
from .lifecycle import hash_established, new_sock, set_state, wake
from .metrics import peer_is_proven
from .minisocks import in_window, oow_rate_limited
from .output import (
    advmss_for,
    mss_clamp,
    send_ack,
    send_ack_reply,
    send_reset,
    send_synack,
    sync_mss,
)
from .rcvwin import (
    full_space,
    init_buffer_space,
    initial_window,
    initialize_rcv_mss,
    locked_clamp,
)
from .receive import data_queue
from .reqsk import RequestSock
from .rto import handshake_rtt
from .sock import TcpSock
from .undo import try_undo_spurious_syn

TCP_PAWS_MSL: Final = 60
TCP_PAWS_24DAYS: Final = 60 * 60 * 24 * 24


def _u32_between(t: int, lo: int, hi: int) -> bool:
    """time_between32(t, lo, hi)."""
    return ((t - lo) & M32) <= ((hi - lo) & M32)


def acceptq_is_full(lsk: TcpSock) -> bool:
    """sk_acceptq_is_full: ack_backlog > max_ack_backlog (strict, so backlog+1 fit)."""
    assert lsk.lq is not None
    return len(lsk.lq.accept_queue) > lsk.backlog


def reqsk_queue_is_full(lsk: TcpSock) -> bool:
    """inet_csk_reqsk_queue_is_full: qlen > max_ack_backlog (6.12.19+/6.18: '>')."""
    assert lsk.lq is not None
    return lsk.lq.qlen > lsk.backlog


def listendrop(ns: NetNamespace, lsk: TcpSock) -> None:
    """tcp_listendrop: the listener's sk_drops and ListenDrops."""
    lsk.sk_drops += 1
    ns.mib.tcp_ext.ListenDrops += 1


def syn_flood_action(ns: NetNamespace, lsk: TcpSock, now: float) -> bool:
    """tcp_syn_flood_action: cookies or drop, counted for every SYN; warn once per listener."""
    assert lsk.lq is not None
    syncookies = ns.sysctl.tcp_syncookies
    if syncookies:
        want_cookie = True
        ns.mib.tcp_ext.TCPReqQFullDoCookies += 1
        msg = "Sending cookies"
    else:
        want_cookie = False
        ns.mib.tcp_ext.TCPReqQFullDrop += 1
        msg = "Dropping request"
    if not lsk.lq.synflood_warned and syncookies != 2:
        lsk.lq.synflood_warned = True
        ns.log(now, f"TCP: request_sock_TCP: Possible SYN flooding on port "
                    f"{int_to_ip(lsk.laddr)}:{lsk.lport}. {msg}.")
    return want_cookie


def synq_overflow(ns: NetNamespace, lsk: TcpSock, now: float) -> None:
    """tcp_synq_overflow: remember the overflow time, at most once per second."""
    assert lsk.lq is not None
    j = ns.clock.jiffies(now) & M32
    last = lsk.lq.last_overflow_j
    if not _u32_between(j, last, last + HZ):
        lsk.lq.last_overflow_j = j


def synq_no_recent_overflow(ns: NetNamespace, lsk: TcpSock, now: float) -> bool:
    assert lsk.lq is not None
    j = ns.clock.jiffies(now) & M32
    last = lsk.lq.last_overflow_j
    return not _u32_between(j, (last - HZ) & M32, (last + sc.TCP_SYNCOOKIE_VALID_S * HZ) & M32)


def _ecn_ok_for_syn(ns: NetNamespace, pkt: Packet) -> bool:
    """tcp_ecn_create_request: ECE+CWR on the SYN, not ECT (or res1), and tcp_ecn != 0."""
    seg = pkt.seg
    if not (seg.flags & ECE and seg.flags & CWR):
        return False
    ect = pkt.tos & 0x3
    return bool((not ect or seg.res & 0x1) and ns.sysctl.tcp_ecn)


def conn_request(ns: NetNamespace, lsk: TcpSock, pkt: Packet, now: float,
                 tw_isn: int = 0) -> str:
    """tcp_conn_request, in the kernel's order of checks. A SYN it declines is still consumed
    (tcp_conn_request's drop path returns 0 and tcp_rcv_state_process calls consume_skb), so
    this returns CONSUMED whatever it decides; the counters say what happened."""
    lq = lsk.lq
    assert lq is not None
    seg = pkt.seg
    sysctl = ns.sysctl
    syncookies = sysctl.tcp_syncookies
    want_cookie = False
    # TIME_WAIT reuse (tw_isn) skips the SYN-queue and cookie checks entirely
    if not tw_isn and (syncookies == 2 or reqsk_queue_is_full(lsk)):
        want_cookie = syn_flood_action(ns, lsk, now)
        if not want_cookie:
            listendrop(ns, lsk)
            return dr.CONSUMED
    if acceptq_is_full(lsk):  # tcp_conn_request: accept queue full -> drop, even for cookies
        ns.mib.tcp_ext.ListenOverflows += 1
        listendrop(ns, lsk)
        return dr.CONSUMED
    laddr, raddr = pkt.dst, pkt.src
    req = RequestSock(lsk, laddr, seg.dport, raddr, seg.sport, seg.seq)
    # tcp_parse_options on a SYN: TS/WS/SACK_PERM only when their sysctls are on
    saw_tstamp = seg.tsval is not None and sysctl.tcp_timestamps != 0
    # TCP_MSS_DEFAULT without the option, clamped by TCP_MAXSEG
    req.mss = mss_clamp(lsk, seg.mss if seg.mss else sc.MSSTAB[0])
    if not (want_cookie and not saw_tstamp):  # cookie without TS: tcp_clear_options
        if seg.wscale is not None and sysctl.tcp_window_scaling:
            req.wscale_ok = True
            req.snd_wscale = min(seg.wscale, 14)
        req.sack_ok = seg.sack_perm and bool(sysctl.tcp_sack)
    req.tstamp_ok = saw_tstamp
    req.ts_recent = seg.tsval if saw_tstamp and seg.tsval is not None else 0
    isn, ts_off = secure_tcp_seq_and_ts_off(ns.net_secret, laddr, raddr, seg.dport, seg.sport,
                                            ns.clock.realtime_ns(now),
                                            sysctl.tcp_timestamps)
    if req.tstamp_ok:
        req.ts_off = ts_off
    if not want_cookie and not tw_isn:
        max_syn_backlog = sysctl.tcp_max_syn_backlog
        # tcp_conn_request: with cookies off, the last quarter is kept for proven peers
        if (not syncookies and max_syn_backlog - lq.qlen < (max_syn_backlog >> 2)
                and not peer_is_proven(ns, laddr, raddr)):
            listendrop(ns, lsk)
            return dr.CONSUMED
    if tw_isn:
        isn = tw_isn
    req.ecn_ok = _ecn_ok_for_syn(ns, pkt)
    if want_cookie:
        isn, req.mss = sc.cookie_v4_init_sequence(
            ns.syncookie_secret, raddr, laddr, seg.sport, seg.dport, seg.seq, req.mss,
            ns.clock.cookie_time(now))
        ns.mib.tcp_ext.SyncookiesSent += 1  # cookie_init_sequence
        synq_overflow(ns, lsk, now)
        if not req.tstamp_ok:
            req.ecn_ok = False
    req.snt_isn = isn
    # the MSS the SYN-ACK announces, less the timestamp option
    _init_rwin(ns, req, mss_clamp(lsk, advmss_for(ns, req.raddr, now))
               - (12 if req.tstamp_ok else 0))
    req.born = now
    if not want_cookie:
        req.timeout = TCP_TIMEOUT_INIT  # tcp_timeout_init
        insert(ns, req, req.local, req.remote)  # inet_csk_reqsk_queue_hash_add
        lq.qlen += 1
        lq.young += 1
        ns.schedule(req, now, req.timeout)
    send_synack(ns, req, now, cookie=want_cookie)
    return dr.CONSUMED


def _init_rwin(ns: NetNamespace, req: RequestSock, mss: int) -> None:
    """tcp_openreq_init_rwin (cookie_v4_check for a cookie, with the MSS the cookie gives):
    the listener's buffer's window rounded down to `mss`, its clamp (SO_RCVBUF caps it) and
    window scale."""
    lsk = req.listener
    clamp = locked_clamp(lsk, lsk.window_clamp)
    req.rcv_wnd, req.window_clamp, req.rcv_wscale = initial_window(
        lsk, full_space(lsk), mss, clamp, req.wscale_ok)


def reqsk_timeout(req: RequestSock) -> float:
    """reqsk_timeout: min(timeout << num_timeout, TCP_RTO_MAX)."""
    return min(req.timeout * (1 << req.num_timeout), TCP_RTO_MAX)


def reqsk_queue_drop(ns: NetNamespace, req: RequestSock) -> bool:
    """inet_csk_reqsk_queue_drop: unlink from ehash and the SYN queue. True if it was linked."""
    req.cancel()
    linked = remove(ns, req, req.local, req.remote)
    if linked:
        lq = req.listener.lq
        if lq is not None:  # reqsk_queue_removed
            lq.qlen -= 1
            if req.num_timeout == 0:
                lq.young -= 1
    return linked


def rtx_synack(ns: NetNamespace, req: RequestSock, now: float) -> None:
    """tcp_rtx_synack: resend, RetransSegs and TCPSynRetrans, num_retrans++."""
    send_synack(ns, req, now)
    ns.mib.tcp.RetransSegs += 1
    ns.mib.tcp_ext.TCPSynRetrans += 1
    req.num_retrans += 1
    if ns.trace.on_retransmit_synack:
        tp.retransmit_synack(ns, req, now)


def reqsk_timer(req: RequestSock, now: float) -> None:
    """inet_connection_sock.c:reqsk_timer_handler."""
    ns = req.listener.ns
    lsk = req.listener
    if lsk.state != LISTEN or lsk.lq is None:
        reqsk_queue_drop(ns, req)
        return
    lq = lsk.lq
    max_retries = lsk.syn_retries or ns.sysctl.tcp_synack_retries
    qlen = lq.qlen
    # Young pruning: with the SYN queue over half full, old requests lose retries (min 2)
    if (qlen << 1) > max(8, lsk.backlog):
        young = lq.young << 1
        while max_retries > 2:
            if qlen < young:
                break
            max_retries -= 1
            young <<= 1
    defer = lq.defer_accept
    if not defer:  # syn_ack_recalc
        expire = req.num_timeout >= max_retries
        resend = True
    else:
        expire = req.num_timeout >= max_retries and (not req.acked or req.num_timeout >= defer)
        resend = not req.acked or req.num_timeout >= defer - 1
    ns.mib.tcp_ext.TCPTimeouts += 1  # tcp_syn_ack_timeout
    if not expire:
        if resend:
            rtx_synack(ns, req, now)
        if req.num_timeout == 0:
            lq.young -= 1
        req.num_timeout += 1
        ns.schedule(req, now, reqsk_timeout(req))
        return
    reqsk_queue_drop(ns, req)  # expired: freed silently, no RST


# tcp_check_req / cookie_v4_check gave back the listener: the caller processes the segment on it
# (an ACK there draws a RST)
LISTENER: Final = "LISTENER"


def check_req(ns: NetNamespace, req: RequestSock, pkt: Packet, now: float) -> TcpSock | str:
    """tcp_minisocks.c:tcp_check_req. Returns the new child, LISTENER, or the drop reason
    (tcp_check_req's NULL with the reason it sets)."""
    seg = pkt.seg
    lsk = req.listener
    flg = seg.flags & (RST | SYN | ACK)
    paws_reject = False
    tsecr_reject = False
    saw_tstamp = seg.tsval is not None and ns.sysctl.tcp_timestamps != 0
    if saw_tstamp and seg.tsval is not None:
        tsecr = (seg.tsecr - req.ts_off) & M32 if seg.tsecr else 0
        # ts_recent_stamp = now - reqsk_timeout; tcp_paws_reject
        now_s = int(ns.clock.uptime0 + now)
        stamp = now_s - int(reqsk_timeout(req))
        diff = (req.ts_recent - seg.tsval) & M32
        paws_ok = (diff == 0 or diff & 0x80000000 or now_s >= stamp + TCP_PAWS_24DAYS
                   or req.ts_recent == 0)
        if not paws_ok and not (seg.flags & RST and now_s >= stamp + TCP_PAWS_MSL):
            paws_reject = True
        if tsecr and req.tstamp_ok:
            # [6.18] tsecr must echo a TSval we sent
            tsecr_reject = not between(tsecr, req.snt_tsval_first, req.snt_tsval_last)
    # Pure retransmitted SYN: resend the SYN-ACK (rate-limited), push the timer
    if seg.seq == req.rcv_isn and flg == SYN and not paws_reject:
        if not oow_rate_limited(ns, req, now, "TCPACKSkippedSynRecv"):
            rtx_synack(ns, req, now)
            if req.pending:  # mod_timer_pending
                ns.schedule(req, now, reqsk_timeout(req))
        return dr.NOT_SPECIFIED
    if flg & ACK and seg.ack != (req.snt_isn + 1) & M32:
        return LISTENER  # unacceptable ACK -> the listener path resets
    if paws_reject or tsecr_reject or not in_window(
            seg.seq, seg.end_seq, req.rcv_nxt, (req.rcv_nxt + min(req.rcv_wnd, 65535)) & M32):
        if not flg & RST and not oow_rate_limited(
                ns, req, now, "TCPACKSkippedSynRecv",
                seg.seq != seg.end_seq and not flg & SYN):
            send_ack_reply(ns, req.laddr, req.lport, req.raddr, req.rport,
                           (req.snt_isn + 1) & M32, req.rcv_nxt, req.rcv_wnd >> req.rcv_wscale,
                           ((ns.clock.tcp_clock_ms(now) + req.ts_off) & M32) if req.tstamp_ok
                           else None, req.ts_recent)
        if paws_reject:
            ns.mib.tcp_ext.PAWSEstab += 1
            return dr.TCP_RFC7323_PAWS
        if tsecr_reject:
            return dr.TCP_RFC7323_TSECR
        return dr.TCP_OVERWINDOW
    if saw_tstamp and seg.tsval is not None and not after(seg.seq, req.rcv_nxt):
        req.ts_recent = seg.tsval
    if seg.seq == req.rcv_isn:
        flg &= ~SYN  # the SYN is out of window starting at rcv_isn + 1
    if flg & (RST | SYN):
        ns.mib.tcp.AttemptFails += 1
        _embryonic_reset(ns, req, pkt, flg, now)
        return dr.NOT_SPECIFIED  # embryonic_reset sets no reason
    if not flg & ACK:
        return dr.NOT_SPECIFIED
    lq = lsk.lq
    assert lq is not None
    if req.num_timeout < lq.defer_accept and seg.end_seq == (req.rcv_isn + 1) & M32:
        req.acked = True  # TCP_DEFER_ACCEPT: a bare ACK does not complete the handshake
        ns.mib.tcp_ext.TCPDeferAcceptDrop += 1
        return dr.NOT_SPECIFIED
    child = syn_recv_sock(ns, lsk, req, pkt, now)
    if child is None:
        # listen_overflow
        if not ns.sysctl.tcp_abort_on_overflow:
            req.acked = True
            return dr.TCP_LISTEN_OVERFLOW
        _embryonic_reset(ns, req, pkt, flg, now)
        return dr.TCP_LISTEN_OVERFLOW
    # inet_csk_complete_hashdance: the child replaces the request
    reqsk_queue_drop(ns, req)
    hash_established(child)
    reqsk_queue_add(lsk, child)
    return child


def _embryonic_reset(ns: NetNamespace, req: RequestSock, pkt: Packet, flg: int,
                     now: float) -> None:
    """tcp_check_req embryonic_reset: RST back (unless it was a RST), unlink the request."""
    if not flg & RST:
        send_reset(ns, pkt, now, "INVALID_SYN")
    if reqsk_queue_drop(ns, req):
        ns.mib.tcp_ext.EmbryonicRsts += 1


def syn_recv_sock(ns: NetNamespace, lsk: TcpSock, req: RequestSock, pkt: Packet,
                  now: float) -> TcpSock | None:
    """tcp_v4_syn_recv_sock + tcp_create_openreq_child. None when the accept queue is full."""
    if acceptq_is_full(lsk):
        ns.mib.tcp_ext.ListenOverflows += 1  # exit_overflow
        listendrop(ns, lsk)  # exit: tcp_listendrop
        return None
    seg = pkt.seg
    child = new_sock(ns, lsk.uid)
    child.state = SYN_RECV
    child.laddr, child.lport, child.raddr, child.rport = req.laddr, req.lport, req.raddr, req.rport
    if ns.trace.on_set_state:
        tp.set_state(child, LISTEN, SYN_RECV, now)  # inet_csk_clone_lock: a clone of the listener
    child.reuse = lsk.reuse
    child.reuseport = lsk.reuseport
    child.bind_port_lock = lsk.bind_port_lock
    child.bind_addr_lock = lsk.bind_addr_lock
    child.rx_opt.user_mss = lsk.rx_opt.user_mss
    # sk_clone_lock copies SOCK_KEEPOPEN and the TCP_KEEP* settings
    child.keepalive = lsk.keepalive
    child.keepalive_time = lsk.keepalive_time
    child.keepalive_intvl = lsk.keepalive_intvl
    child.keepalive_probes = lsk.keepalive_probes
    child.user_timeout = lsk.user_timeout  # icsk_user_timeout is copied with the listener
    if lsk.ca_setsockopt:
        # tcp_ca_openreq_child: a listener's TCP_CONGESTION choice is inherited; otherwise
        # the child has the default of now (new_sock)
        child.ca_ops = lsk.ca_ops
        child.ca_setsockopt = True
    child.parent = lsk
    if lsk.bucket is not None:  # __inet_inherit_port
        bucket = lsk.bucket
        bucket.owners[child] = None  # type: ignore[attr-defined]
        child.bucket = bucket
    child.irs = req.rcv_isn
    child.rcv_nxt = child.copied_seq = child.rcv_wup = req.rcv_nxt
    # the window the SYN-ACK offered (unscaled) is the one the peer may fill first
    child.rcv_adv = (req.rcv_nxt + min(req.rcv_wnd, 65535)) & M32
    child.iss = req.snt_isn
    child.snd_una = child.snd_nxt = child.write_seq = (req.snt_isn + 1) & M32
    child.snd_sml = child.snd_una
    child.rx_opt.wscale_ok = req.wscale_ok
    child.rx_opt.snd_wscale = req.snd_wscale if req.wscale_ok else 0
    child.rx_opt.rcv_wscale = req.rcv_wscale
    child.snd_wnd = seg.window << child.rx_opt.snd_wscale
    child.snd_wl1 = seg.seq
    child.max_window = child.snd_wnd
    child.rx_opt.sack_ok = req.sack_ok
    child.ecn_flags = TCP_ECN_OK if req.ecn_ok else 0  # tcp_ecn_openreq_child
    child.rx_opt.tstamp_ok = req.tstamp_ok
    child.rx_opt.ts_recent = req.ts_recent
    child.rx_opt.ts_recent_stamp = now
    child.ts_off = req.ts_off
    child.rx_opt.mss_clamp = req.mss
    child.advmss = mss_clamp(lsk, advmss_for(ns, req.raddr, now))  # tcp_v4_syn_recv_sock
    sync_mss(child, now)
    # tcp_create_openreq_child; sk_clone_lock copied the listener's buffers and their locks
    child.rcv_wnd = child.rcv_ssthresh = req.rcv_wnd
    child.window_clamp = req.window_clamp
    child.rcvbuf = lsk.rcvbuf
    child.sndbuf = lsk.sndbuf
    child.buf_locked = lsk.buf_locked
    initialize_rcv_mss(child)  # tcp_v4_syn_recv_sock
    child.created = req.born
    child.num_retrans_total = req.num_retrans
    keepalive_established(child, now)  # tcp_create_openreq_child
    child.ip_id = ns.getrandbits(16)
    if req.num_timeout:
        # tcp_create_openreq_child: the SYN-ACK timeouts were one RTO recovery, from the
        # first SYN-ACK to now
        child.total_rto = req.num_timeout
        child.total_rto_recoveries = 1
        clock = ns.clock
        child.total_rto_time = clock.tcp_clock_ms(now) - clock.tcp_clock_ms(req.born)
        # and the resent SYN-ACKs may be undone (undo_marker; undo_retrans is the listener's
        # zeroed field, sk_clone_lock's copy): with it still set after the handshake
        # (try_undo_spurious_syn), cwnd starts at 1, and the first dubious ACK with data in
        # flight takes tcp_try_undo_dsack's branch (TCPDSACKUndo, without any D-SACK)
        child.undo_marker = req.snt_isn
        child.undo_retrans = 0
        child.retrans_stamp = req.born  # snt_synack: the first SYN-ACK
    # the SYN and the ACK that made it count as received (tcp_segs_in), the SYN-ACK as
    # delivered (tcp_rcv_state_process in SYN_RECV: SYN-ACK delivery is not tracked in tcp_ack)
    child.segs_in = 2
    child.delivered = 1
    child.lsndtime = now  # (tcp_create_openreq_child)
    # tcp_synack_rtt_meas: a clean sample only from an unretransmitted SYN-ACK (a cookie's
    # request has no snt_synack)
    clean = req.num_timeout == 0 and req.num_retrans == 0 and not req.syncookie
    handshake_rtt(child, now - req.born if clean else -1.0, seg.tsecr or 0, now)
    ns.mib.tcp.PassiveOpens += 1
    return child


def reqsk_queue_add(lsk: TcpSock, child: TcpSock) -> None:
    """inet_csk_reqsk_queue_add: FIFO accept queue (sk_acceptq_added)."""
    assert lsk.lq is not None
    lsk.lq.accept_queue.append(child)


def child_process(ns: NetNamespace, child: TcpSock, pkt: Packet, now: float) -> str:
    """tcp_child_process -> tcp_rcv_state_process(SYN_RECV): the ACK makes it ESTABLISHED."""
    seg = pkt.seg
    child.snd_una = seg.ack
    child.snd_wnd = seg.window << child.rx_opt.snd_wscale
    child.snd_wl1 = seg.seq
    if child.snd_wnd > child.max_window:
        # tcp_ack -> tcp_ack_update_window: the largest window yet, tcp_sync_mss again
        child.max_window = child.snd_wnd
        sync_mss(child, now, child.pmtu_cookie)
    if child.retrans_stamp >= 0:
        try_undo_spurious_syn(child, ns.clock.tcp_clock_ms(child.retrans_stamp) & M32, seg.tsecr)
        child.retrans_stamp = -1.0
    set_state(child, ESTABLISHED, now)  # wakes the child and its listener
    if child.rx_opt.tstamp_ok:
        child.advmss -= 12  # TCPOLEN_TSTAMP_ALIGNED (6.18: before the buffer space is set)
    init_transfer_cwnd(child, now)  # tcp_init_transfer
    init_congestion_control(child, now)
    init_buffer_space(child, now)
    if seg.payload:
        data_queue(child, seg, now)
        send_ack(child, now)
        wake(child)
    else:
        ns.mib.tcp_ext.TCPPureAcks += 1
    return dr.CONSUMED


def cookie_check(ns: NetNamespace, lsk: TcpSock, pkt: Packet, now: float) -> TcpSock | str:
    """syncookies.c:cookie_v4_check for a non-SYN in LISTEN.

    Returns the child, LISTENER (the bare ACK draws a RST) or the drop reason (a good cookie
    but no room in the accept queue)."""
    seg = pkt.seg
    sysctl = ns.sysctl
    if not sysctl.tcp_syncookies or not seg.flags & ACK or seg.flags & RST:
        return LISTENER
    # cookie_tcp_check
    if synq_no_recent_overflow(ns, lsk, now):
        return LISTENER
    mss = sc.cookie_v4_check(ns.syncookie_secret, pkt.src, pkt.dst, seg.sport, seg.dport,
                             seg.ack, seg.seq, ns.clock.cookie_time(now))
    if not mss:
        ns.mib.tcp_ext.SyncookiesFailed += 1
        return LISTENER
    ns.mib.tcp_ext.SyncookiesRecv += 1
    timestamps = sysctl.tcp_timestamps
    saw_tstamp = seg.tsval is not None and timestamps != 0
    _, ts_off = secure_tcp_seq_and_ts_off(ns.net_secret, pkt.dst, pkt.src, seg.dport, seg.sport,
                                          0, timestamps)
    tsecr = seg.tsecr
    if saw_tstamp and tsecr:
        tsecr = (tsecr - ts_off) & M32
    opts = sc.cookie_timestamp_decode(saw_tstamp, tsecr, timestamps,
                                      sysctl.tcp_sack,
                                      sysctl.tcp_window_scaling)
    if opts is None:
        return LISTENER
    req = RequestSock(lsk, pkt.dst, seg.dport, pkt.src, seg.sport, (seg.seq - 1) & M32)
    req.snt_isn = (seg.ack - 1) & M32
    req.mss = mss
    req.tstamp_ok = opts.tstamp_ok
    req.sack_ok = opts.sack_ok
    req.wscale_ok = opts.wscale_ok
    req.snd_wscale = opts.snd_wscale
    req.ecn_ok = opts.ecn_ok and bool(sysctl.tcp_ecn)
    req.ts_recent = seg.tsval if saw_tstamp and seg.tsval is not None else 0
    req.ts_off = ts_off if opts.tstamp_ok else 0
    req.born = now
    req.syncookie = True
    _init_rwin(ns, req, mss)
    # tcp_get_cookie_sock: straight into the accept queue (or dropped when it is full)
    child = syn_recv_sock(ns, lsk, req, pkt, now)
    if child is None:
        return dr.NO_SOCKET  # tcp_get_cookie_sock failed: cookie_v4_check drops it
    hash_established(child)
    reqsk_queue_add(lsk, child)
    return child
