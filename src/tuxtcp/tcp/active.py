"""Active open: source-port choice (__inet_hash_connect), tcp_v4_connect/tcp_connect, and
SYN_SENT input (tcp_rcv_synsent_state_process). The SYN's retransmission timer is in timer.py."""

from __future__ import annotations

import errno
from collections.abc import Callable

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..net.sock_common import end
from ..net.sysctl import HZ
from ..net.tcp_states import CLOSE, ESTABLISHED, SYN_RECV, SYN_SENT
from ..wire.ipv4 import Packet, is_loopback
from ..wire.seq import MASK as M32
from ..wire.seq import after, before
from ..wire.tcp import ACK, CWR, ECE, RST, SYN
from .algorithms import init_congestion_control, init_transfer_cwnd
from .constants import TCP_ECN_OK, TCP_TIMEOUT_INIT
from .ehash import lookup
from .isn import secure_ipv4_port_ephemeral, secure_tcp_seq_and_ts_off
from .keepalive import keepalive_established
from .lifecycle import hash_established, set_state, tcp_reset, tw_kill
from .output import (
    advmss_for,
    mss_clamp,
    send_ack,
    send_reset,
    sync_mss,
    transmit,
)
from .rcvwin import (
    full_space,
    init_buffer_space,
    initial_window,
    initialize_rcv_mss,
    locked_clamp,
)
from .rto import arm_rto, handshake_rtt, stop_rto
from .sock import TcpSock, TxSeg, holds_port, rtx_enqueue, rtx_give_up
from .stream import push
from .twsock import TimeWaitSock
from .undo import try_undo_spurious_syn


def twsk_unique(ns: NetNamespace, sk: TcpSock, tw: TimeWaitSock, now: float,
                explicit_port: bool) -> bool:
    """tcp_twsk_unique: may a connect() take over this timewait 4-tuple?

    The spec digest reads "never for substate FIN_WAIT2" from the source, but the 6.18 kernel
    recycled a FIN_WAIT2 timewait socket on loopback (exp5b_tw_reuse_trace: TWRecycled+1, ISN =
    old snd_nxt + 65537). The kernel wins: both substates are recycled here."""
    reuse = ns.sysctl.tcp_tw_reuse
    if reuse == 2:
        loopback = is_loopback(tw.laddr) or is_loopback(tw.raddr)
        reuse = 1 if loopback else 0
    if not tw.tstamp_ok:
        return False  # tw_ts_recent_stamp == 0: the peer did not use timestamps
    # [6.18] reuse once tcp_tw_reuse_delay (1000 ms) has passed since entering timewait
    if not explicit_port and not (reuse and now * 1000 > tw.entry_stamp * 1000 + 1000):
        return False
    sk.write_seq = (tw.snd_nxt + 65535 + 2) & M32 or 1
    sk.rx_opt.ts_recent = tw.ts_recent
    sk.rx_opt.ts_recent_stamp = tw.ts_recent_stamp
    return True


def _check_established(ns: NetNamespace, sk: TcpSock, local: int, remote: int,
                       now: float, explicit_port: bool) -> bool:
    """__inet_check_established: the 4-tuple is free, or held by a recyclable timewait."""
    other = lookup(ns, local, remote)
    if other is None:
        return True
    if isinstance(other, TimeWaitSock) and twsk_unique(ns, sk, other, now, explicit_port):
        ns.mib.tcp_ext.TWRecycled += 1
        tw_kill(other)
        return True
    return False


def _randrange8(getrandbits: Callable[[int], int]) -> int:
    """rng.randrange(8) through the rng's getrandbits, the same draw (CPython takes
    getrandbits(4) until one is below 8) without entering the interpreted random module on
    every connect()."""
    r = getrandbits(4)
    while r >= 8:
        r = getrandbits(4)
    return r


def hash_connect(ns: NetNamespace, sk: TcpSock, now: float) -> int:
    """inet_hash_connect: pick a source port (same parity as the range's low end first).
    Returns 0 or EADDRNOTAVAIL."""
    if holds_port(sk):  # inet_num: bound before (a port given to bind(), or listen's)
        if not _check_established(ns, sk, end(sk.laddr, sk.lport), end(sk.raddr, sk.rport),
                                  now, True):
            return errno.EADDRNOTAVAIL
        return 0
    low, high = ns.sysctl.ip_local_port_range
    high += 1
    remaining = high - low
    if remaining > 1:
        remaining &= ~1
    port_offset = secure_ipv4_port_ephemeral(ns.net_secret, sk.laddr, sk.raddr, sk.rport,
                                             ns.clock.jiffies(now), HZ, ns.port_offsets)
    index = port_offset & 0xFFFF
    offset = (ns.ports.perturb(index) + (port_offset >> 32)) % remaining
    step = 2
    offset &= ~1  # first pass: ports of the same parity as low
    ports = ns.ports
    remote = end(sk.raddr, sk.rport)
    while True:
        port = low + offset
        i = 0
        while i < remaining:
            if port >= high:
                port -= remaining
            b = ports.bucket(port)
            if b is not None:
                if not b.by_connect:
                    pass  # a bucket made by bind() is never shared by connect()
                elif _check_established(ns, sk, end(sk.laddr, port), remote, now, False):
                    ns.ports.add_owner(sk, port, by_connect=True)
                    break
            else:
                ns.ports.add_owner(sk, port, by_connect=True)
                break
            i += step
            port += step
        else:
            offset += 1
            if offset & 1 and remaining > 1:
                continue
            return errno.EADDRNOTAVAIL
        # __inet_hash_connect: advance the perturbation so the next search starts further on
        i = max(i, _randrange8(ns.getrandbits) * step)
        ns.ports.bump_perturb(index, i + step)
        return 0


def tcp_connect(ns: NetNamespace, sk: TcpSock, now: float) -> int:
    """tcp_v4_connect + tcp_connect_init + tcp_connect (the address is already set). Returns 0
    or the errno."""
    if not sk.laddr:
        sk.laddr = ns.source_for(sk.raddr)
    sysctl = ns.sysctl
    set_state(sk, SYN_SENT, now)
    err = hash_connect(ns, sk, now)
    if err:
        set_state(sk, CLOSE, now)
        sk.laddr = 0 if not sk.bind_addr_lock else sk.laddr
        return err
    timestamps = sysctl.tcp_timestamps
    isn, ts_off = secure_tcp_seq_and_ts_off(ns.net_secret, sk.laddr, sk.raddr, sk.lport,
                                            sk.rport, ns.clock.realtime_ns(now), timestamps)
    if not sk.write_seq:
        sk.write_seq = isn
    sk.ts_off = ts_off
    sk.iss = sk.write_seq
    sk.snd_una = sk.snd_sml = sk.iss
    sk.snd_nxt = (sk.iss + 1) & M32
    sk.write_seq = sk.snd_nxt
    sk.rcv_nxt = 0
    sk.advmss = mss_clamp(sk, advmss_for(ns, sk.raddr, now))
    sk.rx_opt.tstamp_ok = bool(timestamps)
    # tcp_connect_init: tcp_sync_mss on the route's MTU with the header as the SYN will have
    # it (timestamps counted): the SYN_SENT socket's mss is 524 with the default clamp of 536
    if sk.rx_opt.user_mss:
        sk.rx_opt.mss_clamp = sk.rx_opt.user_mss
    sync_mss(sk, now)
    sk.rx_opt.wscale_ok = bool(sysctl.tcp_window_scaling)
    sk.rx_opt.sack_ok = bool(sysctl.tcp_sack)
    # tcp_connect_init: the SYN offers the buffer's window, rounded down to the MSS (the
    # kernel takes the timestamp option off the MSS only with a cached ts_recent: never here)
    sk.window_clamp = locked_clamp(sk, sk.window_clamp)
    sk.rcv_wnd, sk.window_clamp, sk.rx_opt.rcv_wscale = initial_window(
        sk, full_space(sk), sk.advmss, sk.window_clamp, sk.rx_opt.wscale_ok)
    sk.rcv_ssthresh = sk.rcv_wnd
    sk.rto = TCP_TIMEOUT_INIT
    sk.retransmits = 0
    sk.total_rto = 0  # tcp_clear_retrans: the RTO statistics too
    sk.total_rto_recoveries = 0
    sk.total_rto_time = 0
    sk.rto_stamp = 0
    sk.retrans_stamp = now
    sk.syn_sent_at = now
    sk.created = now
    sk.ip_id = ns.getrandbits(16)
    hash_established(sk)
    # tcp_ecn_send_syn: tcp_ecn=1 asks for ECN (ECE|CWR on the SYN). A retransmitted SYN goes
    # without them (tcp_ecn_clear_syn, tcp_ecn_fallback=1): the queued copy has plain SYN
    syn_flags = SYN
    sk.ecn_flags = 0
    if ns.sysctl.tcp_ecn == 1:
        syn_flags |= ECE | CWR
        sk.ecn_flags = TCP_ECN_OK
    transmit(sk, syn_flags, sk.iss, b"", now)
    rtx_enqueue(sk, TxSeg(sk.iss, b"", SYN, now))
    ns.mib.tcp.ActiveOpens += 1
    arm_rto(sk, now)
    return 0


def synsent_process(sk: TcpSock, pkt: Packet, now: float) -> str:
    """tcp_rcv_synsent_state_process. Returns CONSUMED or the drop reason."""
    ns = sk.ns
    seg = pkt.seg
    if seg.flags & ACK:
        if not after(seg.ack, sk.iss) or after(seg.ack, sk.snd_nxt):
            send_reset(ns, pkt, now, "TCP_INVALID_ACK_SEQUENCE")  # unacceptable ACK: RST
            if not sk.retransmits:
                # retry the SYN almost at once (TCP_TIMEOUT_MIN = 2 jiffies), e.g. after a
                # challenge ACK
                arm_rto(sk, now, 2 / HZ)
            return dr.TCP_INVALID_ACK_SEQUENCE
        if (sk.rx_opt.tstamp_ok and seg.tsval is not None and seg.tsecr and
                before((seg.tsecr - sk.ts_off) & M32,
                       ns.clock.tcp_clock_ms(sk.retrans_stamp) & M32)):
            ns.mib.tcp_ext.PAWSActive += 1
            send_reset(ns, pkt, now, "TCP_RFC7323_PAWS")
            return dr.TCP_RFC7323_PAWS
        if seg.flags & RST:
            tcp_reset(sk, now)  # ECONNREFUSED; the RST is consumed
            return dr.CONSUMED
        if not seg.flags & SYN:
            return dr.TCP_FLAGS
        # SYN-ACK: negotiate what both sides offered
        sk.irs = seg.seq
        sk.rcv_nxt = sk.copied_seq = sk.rcv_wup = (seg.seq + 1) & M32
        # tcp_connect_init's rcv_wnd (the SYN's window) is what the peer may send now
        sk.rcv_adv = (sk.rcv_nxt + min(sk.rcv_wnd, 65535)) & M32
        sk.bytes_acked += (seg.ack - sk.snd_una) & M32  # tcp_snd_una_update: the SYN
        sk.snd_una = seg.ack
        if sk.rx_opt.wscale_ok and seg.wscale is not None:
            sk.rx_opt.snd_wscale = min(seg.wscale, 14)
        else:
            sk.rx_opt.wscale_ok = False
            sk.rx_opt.snd_wscale = sk.rx_opt.rcv_wscale = 0
            sk.window_clamp = min(sk.window_clamp, 65535)
        sk.snd_wnd = seg.window  # the window in a SYN-ACK is never scaled
        sk.max_window = sk.snd_wnd
        sk.snd_wl1 = seg.seq
        sk.rx_opt.sack_ok = sk.rx_opt.sack_ok and seg.sack_perm
        if sk.rx_opt.tstamp_ok and seg.tsval is not None:
            sk.rx_opt.ts_recent = seg.tsval
            sk.rx_opt.ts_recent_stamp = now
        else:
            sk.rx_opt.tstamp_ok = False
        if sk.ecn_flags & TCP_ECN_OK and (not seg.flags & ECE or seg.flags & CWR):
            sk.ecn_flags &= ~TCP_ECN_OK  # tcp_ecn_rcv_synack: the peer did not agree
        sk.rx_opt.mss_clamp = mss_clamp(sk, seg.mss or 536)
        sync_mss(sk, now)
        initialize_rcv_mss(sk)
        if sk.rx_opt.tstamp_ok:
            sk.advmss -= 12  # TCPOLEN_TSTAMP_ALIGNED: our segments carry the option
        rtx_give_up(sk)  # the SYN's segment
        sk.delivered += 1  # the SYN (tcp_clean_rtx_queue -> tcp_count_delivered)
        sk.lsndtime = now  # (tcp_finish_connect)
        stop_rto(sk)
        # Karn: a clean sample only from an unretransmitted SYN
        handshake_rtt(sk, -1.0 if sk.retransmits else now - sk.syn_sent_at, seg.tsecr or 0,
                      now)
        try_undo_spurious_syn(sk, ns.clock.tcp_clock_ms(sk.retrans_stamp) & M32, seg.tsecr)
        sk.retransmits = 0
        sk.backoff = 0
        sk.retrans_stamp = -1.0  # FLAG_SYN_ACKED
        set_state(sk, ESTABLISHED, now)  # tcp_finish_connect (set_state wakes the owner)
        init_transfer_cwnd(sk, now)  # tcp_init_transfer
        init_congestion_control(sk, now)
        init_buffer_space(sk, now)
        keepalive_established(sk, now)
        send_ack(sk, now)
        push(sk, now)
        return dr.CONSUMED
    if seg.flags & RST:
        return dr.TCP_RESET
    if seg.flags & SYN:
        # simultaneous open: SYN_RECV on the full socket, answer with SYN-ACK
        sk.irs = seg.seq
        sk.rcv_nxt = sk.copied_seq = sk.rcv_wup = (seg.seq + 1) & M32
        if sk.rx_opt.tstamp_ok and seg.tsval is not None:
            sk.rx_opt.ts_recent = seg.tsval
            sk.rx_opt.ts_recent_stamp = now
        else:
            sk.rx_opt.tstamp_ok = False
        if not (sk.rx_opt.wscale_ok and seg.wscale is not None):
            sk.rx_opt.wscale_ok = False
            sk.rx_opt.rcv_wscale = 0
        else:
            sk.rx_opt.snd_wscale = min(seg.wscale, 14)
        sk.rx_opt.sack_ok = sk.rx_opt.sack_ok and seg.sack_perm
        sk.snd_wnd = seg.window
        peer_mss = seg.mss or 536
        sk.rx_opt.mss_clamp = peer_mss
        sync_mss(sk, now)
        initialize_rcv_mss(sk)
        set_state(sk, SYN_RECV, now)
        transmit(sk, SYN | ACK, sk.iss, b"", now)
        return dr.CONSUMED
    return dr.NOT_SPECIFIED  # discard_and_undo
