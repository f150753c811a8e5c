"""tcp_v4_rcv: find the socket for a segment, hand it to its state's processing, and free what
is not consumed with the reason the kernel gives (counted in ns.drops, traced as skb:kfree_skb).
"""

from __future__ import annotations

from typing import Final

from ..net import drops as dr
from ..net.namespace import NetNamespace
from ..net.sock_common import end
from ..net.tcp_states import CLOSE, LISTEN, SYN_SENT
from ..siphash import siphash_3u32
from ..wire.ipv4 import Packet
from ..wire.tcp import ACK, FIN, RST, SYN
from . import tracepoints as tp
from .active import synsent_process
from .ehash import lookup
from .established import rcv_state_process
from .lifecycle import tw_kill
from .output import send_reset
from .passive import (
    LISTENER,
    check_req,
    child_process,
    conn_request,
    cookie_check,
    reqsk_queue_drop,
)
from .reqsk import RequestSock
from .sock import TcpSock
from .timewait import TW_SYN, timewait_process, tw_ack
from .twsock import TimeWaitSock

# kfree_skb's `location`: the kernel prints the function that freed the skb
RCV_LOCATION: Final = "tcp_v4_rcv"
DO_RCV_LOCATION: Final = "tcp_v4_do_rcv"
COOKIE_LOCATION: Final = "cookie_v4_check"


def drop(ns: NetNamespace, pkt: Packet | None, reason: str, now: float,
         rx_sk: object | None = None, location: str = RCV_LOCATION) -> None:
    """kfree_skb_reason: count the drop under its reason and trace it (`rx_sk`: the socket
    the segment was handed to, as sk_skb_reason_drop reports it; `location`: the function
    that freed it)."""
    ns.drops.count(reason)
    if ns.trace.on_kfree_skb:
        tp.kfree_skb(ns, pkt, reason, now, rx_sk, location)


def lookup_listener(ns: NetNamespace, daddr: int, dport: int, saddr: int,
                    sport: int) -> TcpSock | None:
    """__inet_lookup_listener: an exact local address beats the wildcard; a SO_REUSEPORT
    group is chosen from by a hash of the 4-tuple."""
    cands = ns.lhash.get(dport)
    if not cands:
        return None
    if len(cands) == 1:
        only = cands[0]
        laddr = only.laddr  # type: ignore[attr-defined]
        return only if laddr == daddr or laddr == 0 else None  # type: ignore[return-value]
    exact = [s for s in cands if s.laddr == daddr]  # type: ignore[attr-defined]
    pool = exact or [s for s in cands if s.laddr == 0]  # type: ignore[attr-defined]
    if not pool:
        return None
    if len(pool) == 1:
        return pool[0]  # type: ignore[return-value]
    h = siphash_3u32(ns.net_secret, saddr, daddr, (sport << 16) | dport)
    return pool[h % len(pool)]  # type: ignore[return-value]


def tcp_v4_rcv(ns: NetNamespace, pkt: Packet, now: float) -> None:
    reason = _v4_rcv(ns, pkt, now)
    if reason:
        rx_sk = None
        if ns.trace.on_kfree_skb:
            # tcp_v4_rcv's sk at its drop: the connection's socket, a request's listener
            # (sk = req->rsk_listener), the TIME_WAIT sock, none when no socket matched
            rx_sk = _receiving_sock(ns, pkt)
        drop(ns, pkt, reason, now, rx_sk)


def _receiving_sock(ns: NetNamespace, pkt: Packet) -> object | None:
    seg = pkt.seg
    sk = lookup(ns, end(pkt.dst, seg.dport), end(pkt.src, seg.sport))
    if isinstance(sk, RequestSock):
        return sk.listener
    if sk is not None:
        return sk
    return lookup_listener(ns, pkt.dst, seg.dport, pkt.src, seg.sport)


def _v4_rcv(ns: NetNamespace, pkt: Packet, now: float) -> str:
    seg = pkt.seg
    sk = lookup(ns, end(pkt.dst, seg.dport), end(pkt.src, seg.sport))
    if sk is not None:
        if isinstance(sk, TcpSock):
            return _do_rcv(ns, sk, pkt, now)
        if isinstance(sk, RequestSock) and sk.listener.state != LISTEN:
            # the listener was closed (its requests stay until found): drop the request and
            # look the segment up again (tcp_v4_rcv: inet_csk_reqsk_queue_drop_and_put,
            # goto lookup), a new listener on the port or a RST
            reqsk_queue_drop(ns, sk)
        elif isinstance(sk, RequestSock):
            res = check_req(ns, sk, pkt, now)
            if isinstance(res, TcpSock):
                return child_process(ns, res, pkt, now)
            if res == LISTENER:
                # tcp_check_req gave back the listener: tcp_rcv_state_process(LISTEN) on an
                # ACK -> TCP_FLAGS, tcp_v4_do_rcv resets
                send_reset(ns, pkt, now, dr.TCP_FLAGS)
                return dr.TCP_FLAGS
            return res
        if isinstance(sk, TimeWaitSock):
            reason = timewait_process(ns, sk, pkt, now)
            if reason != TW_SYN:
                return reason
            lsk2 = lookup_listener(ns, pkt.dst, seg.dport, pkt.src, seg.sport)
            if lsk2 is not None:
                tw_kill(sk)  # TCP_TW_SYN: the SYN goes to the listener with a new ISN
                return conn_request(ns, lsk2, pkt, now, tw_isn=ns.tcp_tw_isn)
            tw_ack(ns, sk, now, rate_limited=True)  # no listener: "to ACK"
            return dr.NOT_SPECIFIED
    listener = lookup_listener(ns, pkt.dst, seg.dport, pkt.src, seg.sport)
    if listener is not None:
        return _listen_rcv(ns, listener, pkt, now)
    # no_tcp_socket: answer with a RST (never to a RST)
    send_reset(ns, pkt, now, dr.NO_SOCKET)
    return dr.NO_SOCKET


def _listen_rcv(ns: NetNamespace, lsk: TcpSock, pkt: Packet, now: float) -> str:
    """tcp_v4_do_rcv + tcp_rcv_state_process for a LISTEN socket."""
    seg = pkt.seg
    flags = seg.flags
    if not flags & SYN:
        res = cookie_check(ns, lsk, pkt, now)  # tcp_v4_cookie_check
        if isinstance(res, TcpSock):
            return child_process(ns, res, pkt, now)
        if res != LISTENER:
            # the cookie was good but the accept queue is full: cookie_v4_check frees the ACK
            # itself (sk_skb_reason_drop with the listener; kfree_skb names cookie_v4_check,
            # as traced on 6.18)
            drop(ns, pkt, res, now, lsk, COOKIE_LOCATION)
            return dr.CONSUMED
    if flags & ACK:
        # tcp_rcv_state_process(LISTEN) returns 1 on an ACK: tcp_v4_do_rcv resets with the
        # listener as the socket and frees the ACK itself (its discard: label)
        send_reset(ns, pkt, now, dr.TCP_FLAGS, lsk)
        drop(ns, pkt, dr.TCP_FLAGS, now, lsk, DO_RCV_LOCATION)
        return dr.CONSUMED
    if flags & RST:
        return dr.TCP_RESET
    if flags & SYN:
        if flags & FIN:
            return dr.TCP_FLAGS  # SYN+FIN: discard
        return conn_request(ns, lsk, pkt, now)
    return dr.TCP_FLAGS


def _do_rcv(ns: NetNamespace, sk: TcpSock, pkt: Packet, now: float) -> str:
    if sk.state != LISTEN:
        # tcp_v4_rcv -> tcp_segs_in: a GRO packet counts its segments
        seg = pkt.seg
        n = -(-len(seg.payload) // seg.gso_size) if seg.gso_size else 1
        sk.segs_in += n
        if seg.payload:
            sk.data_segs_in += n
    reason = _do_rcv_state(ns, sk, pkt, now)
    if reason:
        sk.sk_drops += 1  # tcp_drop_reason -> sk_drops_add (the skmem "d" field)
    return reason


def _do_rcv_state(ns: NetNamespace, sk: TcpSock, pkt: Packet, now: float) -> str:
    st = sk.state
    if st == SYN_SENT:
        return synsent_process(sk, pkt, now)
    if st == CLOSE:
        send_reset(ns, pkt, now, dr.NOT_SPECIFIED)
        return dr.TCP_CLOSE
    if st == LISTEN:
        return _listen_rcv(ns, sk, pkt, now)
    return rcv_state_process(sk, pkt, now)
