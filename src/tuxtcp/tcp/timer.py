"""tcp_timer.c: the one place timers fire. Every timer is a (deadline, kind, owner); `run_timers`
takes the due ones in deadline order and `fire` switches on the kind, as the kernel's handlers
switch on icsk_pending. The handlers of tcp_timer.c live here (retransmit with tcp_write_timeout,
zero-window probe, delayed ACK, keepalive/FIN_WAIT2); the SYN-ACK timer of a request sock
(inet_connection_sock.c:reqsk_timer_handler) and the end of a timewait sock
(inet_timewait_sock.c:tw_timer_handler) stay beside their owners and are dispatched from here.
"""

from __future__ import annotations

import errno
import math

from ..net.namespace import NetNamespace
from ..net.sysctl_specs import HZ
from ..net.tcp_states import CLOSE, FIN_WAIT2, LISTEN, SYN_RECV, SYN_SENT
from ..net.timers import Timer, firing_order
from ..wire.seq import MASK as M32
from ..wire.tcp import ACK, SYN
from . import tracepoints as tp
from .cong import TCP_CA_DISORDER, TCP_CA_LOSS, TCP_CA_RECOVERY
from .constants import (
    TCP_ATO_MIN,
    TCP_ECN_OK,
    TCP_ECN_QUEUE_CWR,
    TCP_RTO_MAX,
    TCP_RTO_MIN,
    TCP_TIMEOUT_INIT,
    TCP_TIMEWAIT_LEN,
    TIMER_DACK,
    TIMER_KEEPALIVE,
    TIMER_PROBE0,
    TIMER_RETRANS,
    TIMER_SYNACK,
    TIMER_TIME_WAIT,
)
from .keepalive import (
    keepalive_intvl_when,
    keepalive_probes,
    keepalive_time_elapsed,
    keepalive_time_when,
    reset_keepalive_timer,
)
from .lifecycle import fin_time, tcp_done, time_wait, tw_expire, write_queue_purge
from .mem import check_oom
from .output import send_ack, send_active_reset, transmit
from .passive import reqsk_timer
from .reqsk import RequestSock
from .rto import arm_rto, update_rto_stats
from .sock import TcpSock, in_pingpong_mode
from .stream import (
    enter_loss,
    probe0_base,
    push,
    rack_reo_timeout,
    send_loss_probe,
    send_probe0,
)
from .twsock import TimeWaitSock
from .undo import init_undo


def run_timers(ns: NetNamespace, now: float) -> int:
    """Fire every timer due at or before `now`, in deadline order (within a deadline in the
    kernel's order, net/timers.firing_order; one armed meanwhile for a deadline already due
    fires in this call too)."""
    timers = ns.timers
    fired = 0
    while True:
        b = timers.pop_due(now)
        if b is None:
            return fired
        order = firing_order(b.timers)
        if ns.timer_order is not None:
            order = ns.timer_order(order)
        for t in order:
            if t.due_in(b):
                t.pending = False
                b.live -= 1
                fire(t)
                fired += 1
        b.timers.clear()


def fire(t: Timer) -> None:
    """The dispatcher: the handler for the timer's kind, at the timer's own deadline."""
    kind = t.kind
    when = t.when
    owner = t.owner
    if kind == TIMER_RETRANS:
        assert isinstance(owner, TcpSock)
        owner.rtx_timer = None
        retransmit_timer(owner, when)
    elif kind == TIMER_SYNACK:
        assert isinstance(t, RequestSock)  # rsk_timer is embedded: the timer is the request
        reqsk_timer(t, when)
    elif kind == TIMER_TIME_WAIT:
        assert isinstance(t, TimeWaitSock)  # so is tw_timer
        tw_expire(t, when)
    elif kind == TIMER_DACK:
        assert isinstance(owner, TcpSock)
        owner.delack_timer = None
        delack_timer(owner, when)
    elif kind == TIMER_PROBE0:
        assert isinstance(owner, TcpSock)
        owner.probe_timer = None
        probe_timer(owner, when)
    elif kind == TIMER_KEEPALIVE:
        assert isinstance(owner, TcpSock)
        owner.keepalive_timer = None
        keepalive_timer(owner, when)


# --- ICSK_TIME_RETRANS ----------------------------------------------------------------------
def model_timeout(boundary: int, rto_base: float) -> float:
    """tcp_model_timeout: time for `boundary` exponential backoffs from rto_base."""
    thresh = int(math.log2(TCP_RTO_MAX / rto_base))
    if boundary <= thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << thresh) - 1) * rto_base + (boundary - thresh) * TCP_RTO_MAX


def retransmits_timed_out(sk: TcpSock, boundary: int, timeout_ms: int, now: float) -> bool:
    """retransmits_timed_out: the limit is elapsed time since the episode's first
    retransmission (retrans_stamp), not a count: `timeout_ms`
    (TCP_USER_TIMEOUT) or the time `boundary` backoffs take from TCP_RTO_MIN (from the
    initial timeout in SYN_SENT/SYN_RECV)."""
    if not sk.retransmits:
        return False
    if timeout_ms:
        limit = timeout_ms / 1000
    else:
        base = TCP_TIMEOUT_INIT if sk.state in (SYN_SENT, SYN_RECV) else TCP_RTO_MIN
        limit = model_timeout(boundary, base)
    return now - sk.retrans_stamp >= limit - 1e-9


def orphan_retries(sk: TcpSock, alive: bool) -> int:
    """tcp_orphan_retries: tcp_orphan_retries, 0 after a dubious ICMP, 8 when 0 and alive."""
    retries = sk.ns.sysctl.tcp_orphan_retries
    if sk.sk_err_soft and not alive:
        retries = 0
    if retries == 0 and alive:
        retries = 8
    return retries


def write_err(sk: TcpSock, now: float) -> None:
    """tcp_write_err: give up with the soft error or ETIMEDOUT (TCPAbortOnTimeout)."""
    sk.sk_err = sk.sk_err_soft or errno.ETIMEDOUT
    write_queue_purge(sk, now)
    tcp_done(sk, now)
    sk.ns.mib.tcp_ext.TCPAbortOnTimeout += 1


def out_of_resources(sk: TcpSock, do_reset: bool, now: float) -> bool:
    """tcp_out_of_resources: an orphan is killed when orphans are too many
    (tcp_max_orphans, the count shifted left once for a peer silent for 2 * TCP_RTO_MAX or
    when no reset is due, once more after a dubious ICMP) or TCP memory is over tcp_mem[2]
    (tcp_check_oom): a RST if data left within TCP_TIMEWAIT_LEN or the window is shut,
    TCPAbortOnMemory."""
    shift = 0
    if now - sk.lsndtime > 2 * TCP_RTO_MAX or not do_reset:
        shift += 1
    if sk.sk_err_soft:
        shift += 1
    if not check_oom(sk, shift):
        return False
    if now - sk.lsndtime <= TCP_TIMEWAIT_LEN or (not sk.snd_wnd and not sk.rtx_queue):
        do_reset = True
    if do_reset:
        send_active_reset(sk, now, "TCP_ABORT_ON_MEMORY")
    tcp_done(sk, now)
    sk.ns.mib.tcp_ext.TCPAbortOnMemory += 1
    return True


def write_timeout(sk: TcpSock, now: float) -> bool:
    """tcp_write_timeout: True when the connection was given up (and is gone). SYN_SENT and
    SYN_RECV count retransmissions (syn_retries, plus tcp_syn_linear_timeouts in SYN_SENT);
    the other states time out after tcp_retries2's model time, an orphan after
    tcp_orphan_retries', or after TCP_USER_TIMEOUT. tcp_retries1 is the black-hole
    detection threshold (tcp_mtu_probing, off by default, and a route re-lookup: nothing a
    one-route namespace shows). A timeout that is not the last rehashes the flow
    (TcpTimeoutRehash)."""
    ns = sk.ns
    expired = False
    if sk.state == SYN_SENT or sk.state == SYN_RECV:
        retry_until = sk.syn_retries or ns.sysctl.tcp_syn_retries
        max_retransmits = retry_until
        if sk.state == SYN_SENT:
            max_retransmits += ns.sysctl.tcp_syn_linear_timeouts
        expired = sk.retransmits >= max_retransmits
    else:
        retry_until = ns.sysctl.tcp_retries2
        if sk.orphan:
            alive = sk.rto < TCP_RTO_MAX
            retry_until = orphan_retries(sk, alive)
            do_reset = alive or not retransmits_timed_out(sk, retry_until, 0, now)
            if out_of_resources(sk, do_reset, now):
                return True
    if not expired:
        expired = retransmits_timed_out(sk, retry_until, sk.user_timeout, now)
    if expired:
        write_err(sk, now)
        return True
    ns.mib.tcp_ext.TcpTimeoutRehash += 1  # sk_rethink_txhash (net.core.txrehash = 1)
    sk.timeout_rehash += 1
    return False


def clamp_rto_to_user_timeout(sk: TcpSock, now: float) -> float:
    """tcp_clamp_rto_to_user_timeout: never wait past TCP_USER_TIMEOUT (1 jiffy once over)."""
    if not sk.user_timeout:
        return sk.rto
    remaining = sk.user_timeout / 1000 - (now - sk.retrans_stamp)
    if remaining <= 0:
        return 1 / HZ
    return min(sk.rto, remaining)


def rtx_probe0_timed_out(sk: TcpSock, now: float) -> bool:
    """tcp_rtx_probe0_timed_out: with the window shrunk to zero, give up only when nothing was
    heard from the peer for 2 * TCP_RTO_MAX (or TCP_USER_TIMEOUT, which also bounds the time
    since the first retransmission) and the retransmissions have gone on as long."""
    # (else the head's last transmission: tcp_skb_timestamp_ts)
    start = sk.retrans_stamp if sk.retrans_stamp >= 0 else sk.rtx_queue[0].xmit
    rtx_delta = now - start
    timeout = 2 * TCP_RTO_MAX
    if sk.user_timeout:
        if rtx_delta > sk.user_timeout / 1000:
            return True
        timeout = min(timeout, sk.user_timeout / 1000)
    if now - sk.rcv_tstamp <= timeout:
        return False
    return rtx_delta > timeout


def retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer for synchronized states: TCPTimeouts, tcp_write_timeout, the
    failure counter of the state recovery was in, tcp_enter_loss, the head again, backoff."""
    if sk.state == SYN_SENT or (sk.state == SYN_RECV and sk.parent is None):
        syn_retransmit_timer(sk, now)
        return
    if sk.loss_probe_armed:
        send_loss_probe(sk, now)  # tcp_write_timer_handler: ICSK_TIME_LOSS_PROBE
        return
    if sk.reo_armed:
        rack_reo_timeout(sk, now)  # ICSK_TIME_REO_TIMEOUT
        return
    if not sk.rtx_queue:
        return
    ns = sk.ns
    if not sk.snd_wnd and not sk.orphan:
        # the receiver shrank its window to zero under data in flight: the retransmissions
        # are window probes, and a peer that keeps answering is not timed out
        if rtx_probe0_timed_out(sk, now):
            write_err(sk, now)
            return
        enter_loss(sk, now)
        push(sk, now)
        sk.backoff += 1
        sk.rto = min(sk.rto * 2, TCP_RTO_MAX)
        arm_rto(sk, now, clamp_rto_to_user_timeout(sk, now))
        return
    ns.mib.tcp_ext.TCPTimeouts += 1
    if write_timeout(sk, now):
        return
    if sk.retransmits == 0:
        ca = sk.ca_state
        ext = ns.mib.tcp_ext
        if ca == TCP_CA_RECOVERY:
            if sk.rx_opt.sack_ok:
                ext.TCPSackRecoveryFail += 1
            else:
                ext.TCPRenoRecoveryFail += 1
        elif ca == TCP_CA_LOSS:
            ext.TCPLossFailures += 1
        elif ca == TCP_CA_DISORDER or sk.sack.sacked_out:
            if sk.rx_opt.sack_ok:
                ext.TCPSackFailures += 1
            else:
                ext.TCPRenoFailures += 1
    enter_loss(sk, now)
    update_rto_stats(sk, now)
    push(sk, now)  # cwnd 1: the head goes again (and sets retrans_stamp the first time)
    sk.backoff += 1
    sk.rto = min(sk.rto * 2, TCP_RTO_MAX)
    arm_rto(sk, now, clamp_rto_to_user_timeout(sk, now))


def syn_retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer in SYN_SENT (and SYN_RECV of a simultaneous open). Its
    tcp_enter_loss queues a CWR for an ECN connection: the first data after the handshake
    carries it (checked on 6.18)."""
    ns = sk.ns
    if sk.ecn_flags & TCP_ECN_OK:
        sk.ecn_flags |= TCP_ECN_QUEUE_CWR
    ns.mib.tcp_ext.TCPTimeouts += 1
    if write_timeout(sk, now):
        return
    linear = ns.sysctl.tcp_syn_linear_timeouts
    if not sk.retransmits:
        # tcp_enter_loss -> tcp_init_undo on the first timeout (Open until then): the SYN's
        # resends may prove needless (active.synsent_process), else cwnd starts at 1
        init_undo(sk)
    flags = SYN | (ACK if sk.state == SYN_RECV else 0)
    transmit(sk, flags, sk.iss, b"", now, retrans=True)
    if ns.trace.on_retransmit_skb:
        tp.retransmit_skb(sk, sk.iss, now)
    ns.mib.tcp.RetransSegs += 1
    ns.mib.tcp_ext.TCPSynRetrans += 1
    sk.num_retrans_total += 1
    sk.undo_retrans = max(sk.undo_retrans, 0) + 1  # tcp_retransmit_skb
    update_rto_stats(sk, now)
    if sk.state != SYN_SENT or sk.total_rto > linear:
        sk.backoff += 1
        sk.rto = min(sk.rto * 2, TCP_RTO_MAX)  # exponential backoff after the linear phase
    arm_rto(sk, now, clamp_rto_to_user_timeout(sk, now))


# --- ICSK_TIME_PROBE0, ICSK_TIME_DACK ------------------------------------------------------
def probe_timer(sk: TcpSock, now: float) -> None:
    """tcp_probe_timer: nothing to probe once data is in flight or nothing waits. A peer
    that answers probes keeps the connection (RFC 1122 4.2.2.17): probes_out is reset by
    every ACK. Giving up: TCP_USER_TIMEOUT since probing began (icsk_probes_tstamp),
    tcp_retries2 unanswered probes, or an orphan's tcp_orphan_retries / out of resources."""
    if sk.state == CLOSE or not sk.send_buf or sk.rtx_queue:
        sk.probes_out = 0
        sk.probes_tstamp = 0.0
        return
    if not sk.probes_tstamp:
        sk.probes_tstamp = now
    elif sk.user_timeout and now - sk.probes_tstamp >= sk.user_timeout / 1000 - 1e-9:
        write_err(sk, now)
        return
    max_probes = sk.ns.sysctl.tcp_retries2
    if sk.orphan:
        alive = probe0_base(sk) * (1 << min(sk.backoff, 30)) < TCP_RTO_MAX
        max_probes = orphan_retries(sk, alive)
        if not alive and sk.backoff >= max_probes:
            write_err(sk, now)
            return
        if out_of_resources(sk, True, now):
            return
    if sk.probes_out >= max_probes:
        write_err(sk, now)
    else:
        send_probe0(sk, now)


def delack_timer(sk: TcpSock, now: float) -> None:
    """tcp_delack_timer_handler: send the ACK we held back (DelayedACKs). A delayed ACK that
    had to fire means no reply carried it: in pingpong mode, leave it (ato back to its
    minimum); otherwise inflate ato (twice, at most the RTO)."""
    if sk.state == CLOSE or sk.rcv_nxt == sk.rcv_wup:
        return
    ack = sk.icsk_ack
    if in_pingpong_mode(sk):
        ack.pingpong = 0  # inet_csk_exit_pingpong_mode
        ack.ato = TCP_ATO_MIN
    else:
        ack.ato = min(2 * ack.ato, sk.rto)
    sk.ns.mib.tcp_ext.DelayedACKs += 1
    send_ack(sk, now)


# --- sk_timer -------------------------------------------------------------------------------
def keepalive_timer(sk: TcpSock, now: float) -> None:
    """tcp_keepalive_timer: for an orphan in FIN_WAIT2, the wait before it becomes a timewait
    sock is over; with SO_KEEPALIVE, a connection idle for keepalive_time gets a probe every
    keepalive_intvl, and after keepalive_probes unanswered ones a RST and ETIMEDOUT
    (tcp_write_err, TCPAbortOnTimeout). A connection with data in flight or queued is not
    idle: the timer just comes back after keepalive_time."""
    if sk.state == FIN_WAIT2 and sk.orphan:
        if sk.linger2 >= 0:
            tmo = fin_time(sk) - TCP_TIMEWAIT_LEN
            if tmo > 0:
                time_wait(sk, FIN_WAIT2, tmo, now)
                return
        # armed for the whole tcp_fin_time (<= TCP_TIMEWAIT_LEN) because a FIN came with the
        # ACK of ours: now the socket just dies with a RST
        send_active_reset(sk, now, "TCP_STATE")
        tcp_done(sk, now)
        return
    if not sk.keepalive or sk.state in (CLOSE, SYN_SENT, LISTEN):
        return
    ns = sk.ns
    delay = keepalive_time_when(sk)
    if not sk.rtx_queue and not sk.send_buf:
        elapsed = keepalive_time_elapsed(sk, now)
        if elapsed >= keepalive_time_when(sk) - 1e-9:
            if (sk.user_timeout and elapsed >= sk.user_timeout / 1000 - 1e-9
                    and sk.probes_out) or (
                    not sk.user_timeout and sk.probes_out >= keepalive_probes(sk)):
                send_active_reset(sk, now, "TCP_KEEPALIVE_TIMEOUT")
                write_err(sk, now)
                return
            # tcp_write_wakeup -> tcp_xmit_probe_skb: an ACK one below snd_una
            transmit(sk, ACK, (sk.snd_una - 1) & M32, b"", now)
            ns.mib.tcp_ext.TCPKeepAlive += 1
            sk.probes_out += 1
            delay = keepalive_intvl_when(sk)
        else:
            delay = keepalive_time_when(sk) - elapsed
    reset_keepalive_timer(sk, now, delay)
