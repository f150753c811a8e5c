"""ICMP errors for TCP (tcp_ipv4.c: tcp_v4_err, tcp_req_err; icmp.c: icmp_rcv's counting and
icmp_err_convert). An error quoting one of our segments finds its socket by the quoted
4-tuple: a request sock whose SYN-ACK it quotes is dropped on a hard error; a connection
still opening (SYN_SENT, SYN_RECV) is aborted with the error's errno (a connect() to a port
the far host does not serve fails with ECONNREFUSED, an unreachable host with
EHOSTUNREACH); an established one only keeps it as its soft error (what a timeout later
reports), as Linux does without IP_RECVERR. An error quoting a sequence number outside
[snd_una, snd_nxt] is counted (OutOfWindowIcmps) and ignored.

"Fragmentation needed" lowers the path MTU (pmtu.py). Not modelled yet: the RTO revert of RFC
6069 on host and net unreachable, redirects, IP_RECVERR."""

from __future__ import annotations

import errno
from typing import Final

from ..net.namespace import NetNamespace
from ..net.sock_common import end
from ..net.tcp_states import CLOSE, LISTEN, SYN_RECV, SYN_SENT
from ..wire.icmp import (
    ICMP_DEST_UNREACH,
    ICMP_FRAG_NEEDED,
    ICMP_PARAMETERPROB,
    ICMP_TIME_EXCEEDED,
    NR_ICMP_UNREACH,
    IcmpError,
)
from ..wire.seq import between
from ..wire.tcp import IPPROTO_TCP
from .ehash import lookup
from .lifecycle import tcp_done
from .passive import listendrop, reqsk_queue_drop
from .pmtu import mtu_reduced
from .reqsk import RequestSock
from .sock import TcpSock

# icmp_err_convert: (errno, fatal) for each DEST_UNREACH code
ICMP_ERR_CONVERT: Final = (
    (errno.ENETUNREACH, False),  # ICMP_NET_UNREACH
    (errno.EHOSTUNREACH, False),  # ICMP_HOST_UNREACH
    (errno.ENOPROTOOPT, True),  # ICMP_PROT_UNREACH
    (errno.ECONNREFUSED, True),  # ICMP_PORT_UNREACH
    (errno.EMSGSIZE, False),  # ICMP_FRAG_NEEDED
    (errno.EOPNOTSUPP, False),  # ICMP_SR_FAILED
    (errno.ENETUNREACH, True),  # ICMP_NET_UNKNOWN
    (errno.EHOSTDOWN, True),  # ICMP_HOST_UNKNOWN
    (errno.ENONET, True),  # ICMP_HOST_ISOLATED
    (errno.ENETUNREACH, True),  # ICMP_NET_ANO
    (errno.EHOSTUNREACH, True),  # ICMP_HOST_ANO
    (errno.ENETUNREACH, False),  # ICMP_NET_UNR_TOS
    (errno.EHOSTUNREACH, False),  # ICMP_HOST_UNR_TOS
    (errno.EHOSTUNREACH, True),  # ICMP_PKT_FILTERED
    (errno.EHOSTUNREACH, True),  # ICMP_PREC_VIOLATION
    (errno.EHOSTUNREACH, True),  # ICMP_PREC_CUTOFF
)
# the per-type input counters of /proc/net/snmp's Icmp line (from IcmpMsg InTypeN)
IN_COUNTERS: Final = {3: "InDestUnreachs", 4: "InSrcQuenchs", 5: "InRedirects",
                      11: "InTimeExcds", 12: "InParmProbs"}


def icmp_rcv(ns: NetNamespace, msg: IcmpError | None, icmp_type: int, now: float) -> None:
    """icmp_rcv for a well-formed message: counted; an error quoting TCP goes to
    tcp_v4_err."""
    mib = ns.mib
    mib.bump("Icmp", "InMsgs")
    counter = IN_COUNTERS.get(icmp_type)
    if counter is not None:
        mib.bump("Icmp", counter)
    if msg is None or msg.qproto != IPPROTO_TCP:
        return
    tcp_v4_err(ns, msg, now)


def tcp_v4_err(ns: NetNamespace, msg: IcmpError, now: float) -> None:
    """tcp_v4_err: the quoted segment left from us (qsrc:sport) to the peer (qdst:dport)."""
    obj = lookup(ns, end(msg.qsrc, msg.sport), end(msg.qdst, msg.dport))
    if obj is None:
        ns.mib.bump("Icmp", "InErrors")  # no socket for it: ICMP_MIB_INERRORS
        return
    if isinstance(obj, RequestSock):
        # TCP_NEW_SYN_RECV: a parameter problem, a time exceeded or a net or host
        # unreachable about our SYN-ACK ends the request
        _req_err(ns, obj, msg.seq, msg.type in (ICMP_PARAMETERPROB, ICMP_TIME_EXCEEDED)
                 or (msg.type == ICMP_DEST_UNREACH and msg.code in (0, 1)))
        return
    if not isinstance(obj, TcpSock):
        return  # a timewait sock: nothing to do
    sk = obj
    if sk.state == CLOSE:
        return
    if sk.state != LISTEN and not between(msg.seq, sk.snd_una, sk.snd_nxt):
        ns.mib.tcp_ext.OutOfWindowIcmps += 1
        return
    if msg.type == ICMP_DEST_UNREACH:
        if msg.code > NR_ICMP_UNREACH:
            return
        if msg.code == ICMP_FRAG_NEEDED:
            # RFC 1191 (listeners: a SYN-ACK is short enough to pass); icmp_unreach took the
            # next hop's MTU from the message unless net.ipv4.ip_no_pmtu_disc says otherwise
            if sk.state != LISTEN and ns.sysctl.ip_no_pmtu_disc != 2:
                mtu_reduced(sk, msg.info, now)
            return
        err = ICMP_ERR_CONVERT[msg.code][0]
    elif msg.type == ICMP_TIME_EXCEEDED:
        err = errno.EHOSTUNREACH
    elif msg.type == ICMP_PARAMETERPROB:
        err = errno.EPROTO
    else:
        return  # source quench (ignored since RFC 6633), redirects (no route cache here)
    if sk.state in (SYN_SENT, SYN_RECV):
        # tcp_done_with_error: the connection attempt fails with the error
        sk.sk_err = err
        tcp_done(sk, now)
        return
    sk.sk_err_soft = err  # without IP_RECVERR only a timeout reports it


def _req_err(ns: NetNamespace, req: RequestSock, seq: int, abort: bool) -> None:
    """tcp_req_err: an error quoting something other than our SYN-ACK is out of window; a
    hard one about it drops the request, silently (ListenDrops)."""
    if seq != req.snt_isn:
        ns.mib.tcp_ext.OutOfWindowIcmps += 1
    elif abort:
        lsk = req.listener
        reqsk_queue_drop(ns, req)
        listendrop(ns, lsk)
