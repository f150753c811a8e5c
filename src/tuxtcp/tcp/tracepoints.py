"""The kernel's TCP tracepoints, emitted from the engine's objects at the points where the kernel
fires them (net/trace.py builds and formats the events).

Call sites check `ns.trace.enabled` first, so with nobody subscribed a tracepoint costs one
attribute read. Pointers the kernel prints (skaddr, skbaddr) are stable stand-ins: a socket's
sock_cookie (given on first use, as the kernel gives it) or a hash of the segment's identity.
"""

from __future__ import annotations

from typing import Final

from ..net import trace as t
from ..net.namespace import NetNamespace
from ..wire.ipv4 import Packet
from .reqsk import RequestSock
from .sock import TcpSock
from .twsock import TimeWaitSock

ETH_P_IP: Final = 0x0800


def sock_cookie(sk: TcpSock) -> int:
    """sock_gen_cookie: a number per socket, given the first time someone asks."""
    if not sk.cookie:
        ns = sk.ns
        ns.sock_cookie_gen += 1
        sk.cookie = ns.sock_cookie_gen
    return sk.cookie


def _pkt_addr(pkt: Packet | None) -> int:
    if pkt is None:
        return 0
    seg = pkt.seg
    return (((pkt.src * 31 + pkt.dst) * 31 + (seg.sport << 16 | seg.dport)) * 31 + seg.seq) \
        & 0xFFFFFFFFFFFF | 1


def _req_addr(req: RequestSock) -> int:
    return ((req.raddr << 16 | req.rport) * 31 + req.rcv_isn) & 0xFFFFFFFFFFFF | 1


def set_state(sk: TcpSock, old: int, new: int, now: float) -> None:
    """sock:inet_sock_set_state (inet_sk_set_state / tcp_set_state)."""
    ns = sk.ns
    ns.trace.emit(t.inet_sock_set_state(ns.clock.uptime(now), sock_cookie(sk), old, new,
                                        sk.lport, sk.rport, sk.laddr, sk.raddr))


def retransmit_skb(sk: TcpSock, seq: int, now: float) -> None:
    """tcp:tcp_retransmit_skb."""
    ns = sk.ns
    ns.trace.emit(t.tcp_retransmit_skb(ns.clock.uptime(now), (sock_cookie(sk) << 32) ^ seq,
                                       sock_cookie(sk), sk.state, sk.lport, sk.rport,
                                       sk.laddr, sk.raddr))


def retransmit_synack(ns: NetNamespace, req: RequestSock, now: float) -> None:
    """tcp:tcp_retransmit_synack (skaddr is the listener)."""
    ns.trace.emit(t.tcp_retransmit_synack(ns.clock.uptime(now), sock_cookie(req.listener),
                                          _req_addr(req), req.lport, req.rport, req.laddr,
                                          req.raddr))


def send_reset(ns: NetNamespace, pkt: Packet, reason: str, now: float) -> None:
    """tcp:tcp_send_reset from tcp_v4_send_reset, which has no full socket here: the RST
    answers `pkt` (its source is pkt's destination)."""
    seg = pkt.seg
    ns.trace.emit(t.tcp_send_reset(ns.clock.uptime(now), _pkt_addr(pkt), 0, 0, reason,
                                   seg.dport, seg.sport, pkt.dst, pkt.src))


def send_reset_sk(sk: TcpSock, pkt: Packet, reason: str, now: float) -> None:
    """tcp:tcp_send_reset from tcp_v4_send_reset with a socket (a listener answering an ACK,
    tcp_v4_do_rcv's reset): the event shows the socket's state and its own addresses (a
    listener's peer is 0.0.0.0:0), as 6.18 prints it."""
    ns = sk.ns
    ns.trace.emit(t.tcp_send_reset(ns.clock.uptime(now), _pkt_addr(pkt), sock_cookie(sk),
                                   sk.state, reason, sk.lport, sk.rport, sk.laddr, sk.raddr))


def send_active_reset(sk: TcpSock, reason: str, now: float) -> None:
    """tcp:tcp_send_reset from tcp_send_active_reset (no segment: skbaddr NULL)."""
    ns = sk.ns
    ns.trace.emit(t.tcp_send_reset(ns.clock.uptime(now), 0, sock_cookie(sk), sk.state, reason,
                                   sk.lport, sk.rport, sk.laddr, sk.raddr))


def receive_reset(sk: TcpSock, now: float) -> None:
    """tcp:tcp_receive_reset (tcp_reset)."""
    ns = sk.ns
    c = sock_cookie(sk)
    ns.trace.emit(t.tcp_receive_reset(ns.clock.uptime(now), c, sk.lport, sk.rport, sk.laddr,
                                      sk.raddr, c))


def destroy_sock(sk: TcpSock, now: float) -> None:
    """tcp:tcp_destroy_sock (tcp_v4_destroy_sock)."""
    ns = sk.ns
    c = sock_cookie(sk)
    ns.trace.emit(t.tcp_destroy_sock(ns.clock.uptime(now), c, sk.lport, sk.rport, sk.laddr,
                                     sk.raddr, c))


def kfree_skb(ns: NetNamespace, pkt: Packet | None, reason: str, now: float,
              rx_sk: object | None = None, location: str = "tcp_v4_rcv") -> None:
    """skb:kfree_skb for a segment the receive path dropped; rx_sk is the socket it reached
    (a full socket or listener: its sock_cookie stands for the pointer; a TIME_WAIT sock:
    its own number), None when it reached none."""
    ptr = 0
    if isinstance(rx_sk, TcpSock):
        ptr = sock_cookie(rx_sk)
    elif isinstance(rx_sk, TimeWaitSock):
        ptr = tw_addr(rx_sk)
    ns.trace.emit(t.kfree_skb(ns.clock.uptime(now), _pkt_addr(pkt), location, ETH_P_IP,
                              reason, ptr))


def tw_addr(tw: TimeWaitSock) -> int:
    """A TIME_WAIT sock's stand-in pointer (it has no sock_cookie here): its 4-tuple."""
    return (((tw.raddr << 16 | tw.rport) * 31 + (tw.laddr << 16 | tw.lport)) & 0xFFFFFFFF) | 1


__all__ = ["destroy_sock", "kfree_skb", "receive_reset", "retransmit_skb",
           "retransmit_synack", "send_active_reset", "send_reset", "send_reset_sk", "set_state",
           "sock_cookie"]
