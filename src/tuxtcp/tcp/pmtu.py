"""Path MTU discovery for a connection (RFC 1191 as Linux does it: tcp_ipv4.c
tcp_v4_mtu_reduced, tcp_output.c tcp_sync_mss, tcp_input.c tcp_simple_retransmit).

An ICMP "fragmentation needed" that quotes one of our segments in the window lowers the
route's path MTU (net/route.py), then the socket's: if the route's MTU is now below the one
the MSS was computed for (icsk_pmtu_cookie), the MSS follows it and every segment in flight
that no longer fits is taken as lost, the connection enters Loss without touching cwnd (the
units changed, not the network: ssthresh only stops cwnd from growing past three quarters of
what it was) and what is lost goes again at the new size at once. A retransmission queue
entry larger than the new MSS is cut first, as tcp_retransmit_skb's tcp_fragment cuts it: the
segments one TSO packet carried (up to the PSH that ended it) are cut again at the new size
as one run, so a 10-segment packet goes again as full segments and one shorter tail.

(tuxtcp's retransmission queue holds segments, not skbs; a run is re-cut whole here, where the
kernel cuts at most the cwnd's worth of the skb and leaves the rest as a second skb.)
"""

from __future__ import annotations

import errno

from ..net.route import dont_fragment, route_mtu, update_pmtu
from ..net.tcp_states import CLOSE, LISTEN
from .cong import TCP_CA_CWR, TCP_CA_LOSS, TCP_CA_RECOVERY
from .output import sync_mss
from .rack import mark_skb_lost
from .sock import TcpSock, scoreboard
from .stream import push


def mtu_reduced(sk: TcpSock, mtu_info: int, now: float) -> None:
    """tcp_v4_mtu_reduced, with tp->mtu_info from the ICMP message (the next hop's MTU)."""
    if sk.state in (LISTEN, CLOSE):
        return
    ns = sk.ns
    update_pmtu(ns, sk.raddr, mtu_info, now)  # inet_csk_update_pmtu
    mtu = route_mtu(ns, sk.raddr, now)
    if mtu_info < mtu and dont_fragment(ns, sk.raddr, now):
        sk.sk_err_soft = errno.EMSGSIZE  # what a timeout would report if it never recovers
    if sk.pmtu_cookie > mtu:  # IP_PMTUDISC_WANT, ip_sk_accept_pmtu
        sync_mss(sk, now, mtu)
        simple_retransmit(sk, now)
    # else: the retransmission timer deals with it


def simple_retransmit(sk: TcpSock, now: float) -> None:
    """tcp_simple_retransmit: whatever in flight is longer than the MSS now is lost
    (tcp_mark_skb_lost: a retransmission of it that is out counts as lost again,
    TCPLostRetransmit); then Loss state, ssthresh at least 3/4 cwnd (tcp_current_ssthresh),
    cwnd as it was, and the lost segments go again (tcp_xmit_retransmit_queue)."""
    mss = sk.mss_cache
    if not any(len(ts.data) > mss for ts in sk.rtx_queue):
        return
    sb = scoreboard(sk)
    for ts in sk.rtx_queue:
        if len(ts.data) > mss:
            mark_skb_lost(sk, ts)
    if not sb.lost_out:
        return
    if not sk.rx_opt.sack_ok:
        # tcp_limit_reno_sacked: duplicate ACKs cannot stand for more than is not lost
        holes = min(max(sb.lost_out, 1), len(sk.rtx_queue))
        if sb.reno_sacked + holes > len(sk.rtx_queue):
            sb.reno_sacked = len(sk.rtx_queue) - holes
    if sk.ca_state != TCP_CA_LOSS:
        sk.recover = sk.snd_nxt  # high_seq
        if sk.ca_state not in (TCP_CA_CWR, TCP_CA_RECOVERY):
            sk.ssthresh = max(sk.ssthresh, (sk.cwnd >> 1) + (sk.cwnd >> 2))
        sk.ca_state = TCP_CA_LOSS
    push(sk, now)  # tcp_xmit_retransmit_queue: cuts what is too long first (recut_lost)
