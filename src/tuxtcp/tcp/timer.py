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
from ..net.tcp_states import CLOSE, FIN_WAIT2, LISTEN, SYN_RECV, SYN_SENT
from ..net.timers import Timer
from ..wire.seq import MASK as M32
from ..wire.tcp import ACK, SYN
from . import tracepoints as tp
from .constants import (
    TCP_RTO_MAX,
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
from .lifecycle import fin_time, tcp_done, time_wait, tw_expire
from .output import send_ack, send_active_reset, transmit
from .passive import reqsk_timer
from .reqsk import RequestSock
from .rto import arm_rto, ensure_rto
from .sock import TcpSock
from .stream import enter_loss, push, send_probe0
from .twsock import TimeWaitSock


def run_timers(ns: NetNamespace, now: float) -> int:
    """Fire every timer due at or before `now`, in deadline order (first armed first within a
    deadline; one armed meanwhile for a deadline already due fires in this call too)."""
    timers = ns.timers
    fired = 0
    while True:
        b = timers.pop_due(now)
        if b is None:
            return fired
        for t in b.timers:
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


def retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer + tcp_write_timeout for synchronized states."""
    if sk.state == SYN_SENT or (sk.state == SYN_RECV and sk.parent is None):
        syn_retransmit_timer(sk, now)
        return
    if not sk.rtx_queue:
        return
    ns = sk.ns
    limit = ns.sysctl.tcp_retries2
    if sk.orphan:
        limit = ns.sysctl.tcp_orphan_retries or 8
    if sk.retransmits >= limit:
        sk.sk_err = errno.ETIMEDOUT
        ns.mib.tcp_ext.TCPAbortOnTimeout += 1
        tcp_done(sk, now)
        return
    ns.mib.tcp_ext.TCPTimeouts += 1
    enter_loss(sk)
    sk.retransmits += 1
    sk.rto = min(sk.rto * 2, TCP_RTO_MAX)
    push(sk, now)  # cwnd 1: the head goes again
    ensure_rto(sk, now)


def syn_retransmit_timer(sk: TcpSock, now: float) -> None:
    """tcp_retransmit_timer in SYN_SENT (and SYN_RECV of a simultaneous open)."""
    ns = sk.ns
    syn_retries = sk.syn_retries or ns.sysctl.tcp_syn_retries
    linear = ns.sysctl.tcp_syn_linear_timeouts
    # tcp_write_timeout: a retransmission count and an elapsed-time limit (retransmits_timed_out)
    max_retransmits = syn_retries + (linear if sk.state == SYN_SENT else 0)
    elapsed = now - sk.retrans_stamp
    timed_out = sk.retransmits and elapsed >= model_timeout(syn_retries, TCP_TIMEOUT_INIT) - 1e-9
    if sk.retransmits >= max_retransmits or timed_out:
        sk.sk_err = sk.sk_err_soft or errno.ETIMEDOUT
        ns.mib.tcp_ext.TCPAbortOnTimeout += 1
        tcp_done(sk, now)
        return
    ns.mib.tcp_ext.TCPTimeouts += 1
    flags = SYN | (ACK if sk.state == SYN_RECV else 0)
    transmit(sk, flags, sk.iss, b"", now, retrans=True)
    if ns.trace.enabled:
        tp.retransmit_skb(sk, sk.iss, now)
    ns.mib.tcp.RetransSegs += 1
    ns.mib.tcp_ext.TCPSynRetrans += 1
    ns.mib.tcp_ext.TcpTimeoutRehash += 1
    sk.num_retrans_total += 1
    sk.retransmits += 1
    sk.total_rto += 1
    if sk.state != SYN_SENT or sk.total_rto > linear:
        sk.rto = min(sk.rto * 2, TCP_RTO_MAX)  # exponential backoff after the linear phase
    arm_rto(sk, now)


# --- ICSK_TIME_PROBE0, ICSK_TIME_DACK ------------------------------------------------------
def probe_timer(sk: TcpSock, now: float) -> None:
    """tcp_probe_timer: nothing to probe once the window opened or data is in flight."""
    if sk.state == CLOSE or not sk.send_buf or sk.rtx_queue:
        sk.probes_out = 0
        return
    send_probe0(sk, now)


def delack_timer(sk: TcpSock, now: float) -> None:
    """tcp_delack_timer_handler: send the ACK we held back (DelayedACKs)."""
    if sk.state == CLOSE or sk.rcv_nxt == sk.rcv_wup:
        return
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
        tmo = fin_time(sk)
        time_wait(sk, FIN_WAIT2, tmo - TCP_TIMEWAIT_LEN if tmo > TCP_TIMEWAIT_LEN else 0.0, now)
        return
    if not sk.keepalive or sk.state in (CLOSE, SYN_SENT, LISTEN):
        return
    ns = sk.ns
    delay = keepalive_time_when(sk)
    if not sk.rtx_queue and not sk.send_buf:
        elapsed = keepalive_time_elapsed(sk, now)
        if elapsed >= keepalive_time_when(sk) - 1e-9:
            if sk.probes_out >= keepalive_probes(sk):
                send_active_reset(sk, now, "TCP_KEEPALIVE_TIMEOUT")
                sk.sk_err = sk.sk_err_soft or errno.ETIMEDOUT  # tcp_write_err
                ns.mib.tcp_ext.TCPAbortOnTimeout += 1
                tcp_done(sk, now)
                return
            # tcp_write_wakeup -> tcp_xmit_probe_skb: an ACK one below snd_una
            transmit(sk, ACK, (sk.snd_una - 1) & M32, b"", now)
            ns.mib.tcp_ext.TCPKeepAlive += 1
            sk.probes_out += 1
            delay = keepalive_intvl_when(sk)
        else:
            delay = keepalive_time_when(sk) - elapsed
    reset_keepalive_timer(sk, now, delay)
