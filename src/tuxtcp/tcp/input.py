"""tcp_v4_rcv: find the socket for a segment and hand it to the right state's processing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..siphash import siphash_u32s
from ..wire.ipv4 import Packet
from ..wire.tcp import ACK, FIN, RST, SYN
from .active import synsent_process
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
from .sock import TcpSock, TimeWaitSock
from .states import CLOSE, LISTEN, SYN_SENT
from .timewait import _tw_ack, timewait_process

if TYPE_CHECKING:
    from ..net.namespace import Namespace


def lookup_listener(ns: Namespace, daddr: int, dport: int, saddr: int,
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
    h = siphash_u32s(ns.net_secret, saddr, daddr, (sport << 16) | dport)
    return pool[h % len(pool)]  # type: ignore[return-value]


def tcp_v4_rcv(ns: Namespace, pkt: Packet, now: float) -> None:
    seg = pkt.seg
    key = (pkt.dst, seg.dport, pkt.src, seg.sport)
    sk = ns.ehash.get(key)
    if sk is not None:
        if isinstance(sk, TcpSock):
            _do_rcv(ns, sk, pkt, now)
            return
        if isinstance(sk, RequestSock):
            lsk = sk.listener
            if lsk.state != LISTEN:
                # the listener went away: drop the request and look up again
                reqsk_queue_drop(ns, sk)
            else:
                res = check_req(ns, sk, pkt, now)
                if res is LISTENER:
                    send_reset(ns, pkt, now)  # tcp_rcv_state_process(LISTEN) on an ACK
                elif isinstance(res, TcpSock):
                    child_process(ns, res, pkt, now)
                return
        elif isinstance(sk, TimeWaitSock):
            isn = timewait_process(ns, sk, pkt, now)
            if not isn:
                return
            lsk2 = lookup_listener(ns, pkt.dst, seg.dport, pkt.src, seg.sport)
            if lsk2 is not None:
                tw_kill(sk)  # TCP_TW_SYN: the SYN goes to the listener with a new ISN
                conn_request(ns, lsk2, pkt, now, tw_isn=isn)
            else:
                _tw_ack(ns, sk, now, rate_limited=True)
            return
    listener = lookup_listener(ns, pkt.dst, seg.dport, pkt.src, seg.sport)
    if listener is not None:
        _listen_rcv(ns, listener, pkt, now)
        return
    # no_tcp_socket: answer with a RST (never to a RST)
    send_reset(ns, pkt, now)


def _listen_rcv(ns: Namespace, lsk: TcpSock, pkt: Packet, now: float) -> None:
    """tcp_v4_do_rcv + tcp_rcv_state_process for a LISTEN socket."""
    seg = pkt.seg
    flags = seg.flags
    if not flags & SYN:
        res = cookie_check(ns, lsk, pkt, now)  # tcp_v4_cookie_check
        if isinstance(res, TcpSock):
            child_process(ns, res, pkt, now)
            return
        if res is None:
            return
    if flags & ACK:
        send_reset(ns, pkt, now)  # ACK in LISTEN -> return 1 -> tcp_v4_send_reset
        return
    if flags & RST:
        return
    if flags & SYN:
        if flags & FIN:
            return  # SYN+FIN: discard
        conn_request(ns, lsk, pkt, now)


def _do_rcv(ns: Namespace, sk: TcpSock, pkt: Packet, now: float) -> None:
    st = sk.state
    if st == SYN_SENT:
        synsent_process(sk, pkt, now)
    elif st == CLOSE:
        send_reset(ns, pkt, now)
    elif st == LISTEN:
        _listen_rcv(ns, sk, pkt, now)
    else:
        rcv_state_process(sk, pkt, now)
