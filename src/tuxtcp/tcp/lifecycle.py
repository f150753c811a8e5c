"""State changes and table membership: tcp_set_state, hashing, tcp_done, tcp_reset,
tcp_time_wait and the timewait sock's end (inet_timewait_sock.c)."""

from __future__ import annotations

import errno

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..net.sock_common import end
from ..net.tcp_states import (
    CLOSE,
    CLOSE_WAIT,
    ESTABLISHED,
    LISTEN,
    SYN_RECV,
    SYN_SENT,
    TIME_WAIT,
)
from . import tracepoints as tp
from .algorithms import default_ops
from .chrono import CHRONO_BUSY, chrono_stop
from .constants import TCP_TIMEWAIT_LEN
from .ehash import insert, remove
from .mem import mem_release, mem_sync
from .metrics import update_metrics
from .sock import EMPTY_RTX_QUEUE, TcpSock
from .twsock import TimeWaitSock


def set_state(sk: TcpSock, state: int, now: float) -> None:
    """tcp_set_state: CurrEstab and EstabResets accounting, port release on CLOSE."""
    old = sk.state
    tcp = sk.ns.mib.tcp
    if state == ESTABLISHED:
        if old != ESTABLISHED:
            tcp.CurrEstab += 1
    elif state == CLOSE_WAIT:
        if old == SYN_RECV:
            tcp.CurrEstab += 1
    else:
        if state == CLOSE:
            if old in (CLOSE_WAIT, ESTABLISHED):
                tcp.EstabResets += 1
            unhash(sk)
            # tcp_set_state(TCP_CLOSE): inet_put_port unless SOCK_BINDPORT_LOCK
            if not sk.bind_port_lock:
                sk.ns.ports.remove_owner(sk)
        if old in (ESTABLISHED, CLOSE_WAIT):
            tcp.CurrEstab -= 1
    if sk.ns.trace.on_set_state:
        tp.set_state(sk, old, state, now)
    sk.state = state
    wake(sk)


def wake(sk: TcpSock) -> None:
    if sk.on_wakeup is not None:
        sk.on_wakeup.wake()
    if sk.parent is not None and sk.parent.on_wakeup is not None:
        sk.parent.on_wakeup.wake()


def hash_established(sk: TcpSock) -> None:
    sk.ehash_local = end(sk.laddr, sk.lport)
    sk.ehash_remote = end(sk.raddr, sk.rport)
    insert(sk.ns, sk, sk.ehash_local, sk.ehash_remote)


def unhash(sk: TcpSock) -> None:
    ns = sk.ns
    if sk.ehash_remote >= 0:
        remove(ns, sk, sk.ehash_local, sk.ehash_remote)
        sk.ehash_remote = -1
    if sk.state == LISTEN:
        lst = ns.lhash.get(sk.lport)
        if lst and sk in lst:
            lst.remove(sk)
            if not lst:
                del ns.lhash[sk.lport]


def clear_timers(sk: TcpSock) -> None:
    """inet_csk_clear_xmit_timers + the keepalive/FIN_WAIT2 timer."""
    # one by one (a loop over a tuple of them is generic object iteration when compiled)
    if sk.rtx_timer is not None:
        sk.rtx_timer.cancel()
    if sk.keepalive_timer is not None:
        sk.keepalive_timer.cancel()
    if sk.probe_timer is not None:
        sk.probe_timer.cancel()
    if sk.delack_timer is not None:
        sk.delack_timer.cancel()
    sk.rtx_timer = sk.keepalive_timer = sk.probe_timer = sk.delack_timer = None


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
    if sk.ns.trace.on_receive_reset:
        tp.receive_reset(sk, now)
    write_queue_purge(sk, now)
    tcp_done(sk, now)


def write_queue_purge(sk: TcpSock, now: float) -> None:
    """tcp_write_queue_purge: unsent and sent data dropped, the chronograph stopped."""
    sk.send_buf.clear()
    sk.rtx_queue = EMPTY_RTX_QUEUE
    chrono_stop(sk, CHRONO_BUSY, now)


def tcp_done(sk: TcpSock, now: float) -> None:
    """tcp_done: go to CLOSE, stop timers, wake the owner; an orphan is destroyed."""
    if sk.state == SYN_SENT or sk.state == SYN_RECV:
        sk.ns.mib.tcp.AttemptFails += 1
    set_state(sk, CLOSE, now)
    clear_timers(sk)
    sk.rcv_shutdown = sk.snd_shutdown = True
    if sk.orphan:
        destroy(sk, now)
    else:
        mem_sync(sk, now)


def destroy(sk: TcpSock, now: float) -> None:
    """inet_csk_destroy_sock: the socket is gone (tcp_v4_destroy_sock traces it)."""
    ns = sk.ns
    if sk.orphan and not sk.dead:
        ns.tcp_orphan_count -= 1
    sk.dead = True
    mem_release(sk, now)
    if ns.trace.on_destroy_sock:
        tp.destroy_sock(sk, now)  # sk_prot->destroy: tcp_v4_destroy_sock
    if sk.fin_skb_queued:
        # then sk_stream_kill_queues: __skb_queue_purge of the receive queue (kfree_skb with
        # QUEUE_PURGE and no socket), which on an orphan holds only the peer's FIN
        sk.fin_skb_queued = False
        ns.drops.count(dr.QUEUE_PURGE)
        if ns.trace.on_kfree_skb:
            tp.kfree_skb(ns, None, dr.QUEUE_PURGE, now, None, "sk_stream_kill_queues")
    if sk.bucket is not None:
        ns.ports.remove_owner(sk)
    if sk in ns.sockets:  # (dict.pop with a default is a generic method call, compiled)
        del ns.sockets[sk]


def fin_time(sk: TcpSock) -> float:
    """tcp_fin_time: max(linger2 or tcp_fin_timeout, 3.5 * rto)."""
    base = sk.linger2 or sk.ns.sysctl.tcp_fin_timeout
    return max(float(base), sk.rto * 3.5)


def time_wait(sk: TcpSock, substate: int, timeo: float, now: float) -> None:
    """tcp_time_wait: replace a full socket by a timewait minisock (or just close it when
    tcp_max_tw_buckets is reached: TCPTimeWaitOverflow)."""
    ns = sk.ns
    tw_max = ns.sysctl.tcp_max_tw_buckets
    if ns.tw_count >= tw_max:
        ns.mib.tcp_ext.TCPTimeWaitOverflow += 1
        update_metrics(sk)
        tcp_done(sk, now)
        return
    tw = TimeWaitSock(sk, substate)
    tw.entry_stamp = now
    timeo = max(timeo, sk.rto * 3.5)
    if substate == TIME_WAIT:
        timeo = TCP_TIMEWAIT_LEN
    # __inet_twsk_schedule (first arming): TWKilled for timeo <= 4 s, TW otherwise
    if timeo <= 4.0:
        ns.mib.tcp_ext.TWKilled += 1
    else:
        ns.mib.tcp_ext.TW += 1
    ns.schedule(tw, now, timeo)
    ns.tw_count += 1
    # inet_twsk_hashdance_schedule: the timewait sock takes the socket's place in ehash and
    # stays on the bind bucket ("Put TW into bind hash")
    if sk.bucket is not None:
        ns.ports.replace_owner(sk, tw)
    set_state(sk, CLOSE, now)  # unhashes sk; the port stays with tw
    insert(ns, tw, tw.local, tw.remote)
    clear_timers(sk)
    sk.rcv_shutdown = sk.snd_shutdown = True
    update_metrics(sk)  # (then tcp_done)
    destroy(sk, now)


def tw_reschedule(tw: TimeWaitSock, timeo: float, now: float) -> None:
    """inet_twsk_reschedule (rearm: no counter)."""
    tw.ns.schedule(tw, now, timeo)


def tw_kill(tw: TimeWaitSock) -> None:
    """inet_twsk_deschedule_put / inet_twsk_kill: leave ehash and the bind bucket."""
    ns = tw.ns
    tw.cancel()
    if remove(ns, tw, tw.local, tw.remote):
        ns.tw_count -= 1
    ns.ports.remove_owner(tw)


def tw_expire(tw: TimeWaitSock, now: float) -> None:
    """tw_timer_handler: the timewait sock is gone."""
    tw_kill(tw)


def new_sock(ns: NetNamespace, uid: int = 0) -> TcpSock:
    sk = TcpSock(ns, uid)
    sk.ca_ops = default_ops(ns)  # tcp_init_sock: tcp_assign_congestion_control
    ns.sockets[sk] = None
    return sk
