"""Full TCP sockets (struct tcp_sock), the listener's queues and the retransmission queue's
segments."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from ..net.tcp_states import CLOSE, TcpState
from ..net.timers import Timer
from ..wire.seq import MASK
from ..wire.tcp import FIN, SYN
from .cong import NO_CA_PRIV, RENO, TCP_CA_OPEN, CaPriv, CongestionOps
from .constants import TCP_INIT_CWND, TCP_MSS_DEFAULT, TCP_TIMEOUT_INIT
from .waker import Waker

if TYPE_CHECKING:
    from ..net.namespace import NetNamespace


class TxSeg:
    """One segment in the retransmission queue (an skb with its TCP_SKB_CB sacked bits)."""

    __slots__ = ("seq", "end", "data", "flags", "sent", "xmit", "sacked", "lost", "retrans",
                 "ever_retrans", "order", "has_rate", "rate_delivered", "rate_mstamp",
                 "rate_first_tx", "rate_app_limited")

    def __init__(self, seq: int, data: bytes, flags: int, sent: float) -> None:
        self.seq = seq
        self.end = (seq + len(data) + (1 if flags & (SYN | FIN) else 0)) & MASK
        self.data = data
        self.flags = flags
        self.sent = sent  # -1 once retransmitted (Karn: no RTT sample)
        self.xmit = sent  # when it last left (tcp_skb_timestamp_us): the RTO counts from it
        self.sacked = False
        self.lost = False
        self.retrans = 0
        self.ever_retrans = False  # TCPCB_EVER_RETRANS: sent more than once (a probe too)
        # when it last left among the socket's transmissions (rtx_enqueue, stamp_tx): what
        # orders two sent at the same virtual instant (the kernel's clock has microseconds
        # between a timer's retransmission and an ACK's new data; tuxtcp's may not)
        self.order = 0
        # TCP_SKB_CB(skb)->tx, rate.skb_sent's record of its last transmission (the same in
        # the segments of one packet): tx.delivered, delivered_mstamp, first_tx_mstamp and
        # is_app_limited; has_rate False: none, or SACKed since (tx.delivered_mstamp = 0).
        # (Fields, not a tuple: a tuple and its boxed ints were three allocations a packet.)
        self.has_rate = False
        self.rate_delivered = 0
        self.rate_mstamp = 0
        self.rate_first_tx = 0
        self.rate_app_limited = False


class RackState:
    """tp->rack (the logic is rack.py), with tp->lost (segments ever marked lost) beside it."""

    __slots__ = ("mstamp", "order", "rtt_us", "reo_wnd_steps", "advanced", "lost",
                 "dsack_seen", "last_delivered", "reo_wnd_persist")

    def __init__(self) -> None:
        self.mstamp = -1  # (re)transmission time (us) of the most recently sent delivered one
        self.order = -1  # and its place among the socket's transmissions (TxSeg.order)
        self.rtt_us = 0  # its RTT
        self.reo_wnd_steps = 1
        self.advanced = False
        self.lost = 0
        self.dsack_seen = False  # a D-SACK after reordering was seen: widen the window
        self.last_delivered = 0  # tp->delivered when the window last widened
        self.reo_wnd_persist = 0  # recoveries the widened window is kept for


# Shared empty queues: an idle connection holds no retransmission queue and no out-of-order
# dict of its own. They are replaced by a socket's own on the first enqueue
# (rtx_enqueue, receive.data_queue) and given back once empty; nothing may add to them in place
# (tests/conftest.py checks after every test that they are still empty).
# (The retransmission queue is a list, oldest first: the compiled build tests, indexes,
# appends to and iterates a list inline, where each deque method is a call by name; the
# acknowledged head is cut off in one `del` per ACK, tcp_clean_rtx_queue's batch.)
EMPTY_RTX_QUEUE: Final[list[TxSeg]] = []
EMPTY_OOO: Final[dict[int, tuple[bytes, int, int]]] = {}
# a receive queue holding nothing: (data end, truesize) per queued segment
EMPTY_RCVQ: Final[list[tuple[int, int]]] = []
EMPTY_RANGES: Final[list[list[int]]] = []


def stamp_tx(sk: TcpSock, ts: TxSeg, now: float) -> None:
    """A segment (re)transmitted now: its time and its place in the socket's order."""
    ts.xmit = now
    ts.order = sk.tx_count
    sk.tx_count += 1


# queues given up empty (rtx_give_up), for the next first enqueue of any socket: a connection
# otherwise makes three (its SYN's or SYN-ACK's, then each end's FIN)
_SPARE_RTX_QUEUES: Final[list[list[TxSeg]]] = []
SPARE_RTX_QUEUES: Final = 64


def rtx_enqueue(sk: TcpSock, ts: TxSeg) -> None:
    """Queue a sent segment for retransmission (tcp_rbtree_insert on the rtx queue)."""
    ts.order = sk.tx_count
    sk.tx_count += 1
    q = sk.rtx_queue
    if q is EMPTY_RTX_QUEUE:
        q = sk.rtx_queue = _SPARE_RTX_QUEUES.pop() if _SPARE_RTX_QUEUES else []
    q.append(ts)


def rtx_give_up(sk: TcpSock) -> None:
    """Everything in the retransmission queue is acknowledged (or dropped with it): the
    socket shares the empty queue again, and its own, emptied, is kept for another."""
    q = sk.rtx_queue
    if q is EMPTY_RTX_QUEUE:
        return
    sk.rtx_queue = EMPTY_RTX_QUEUE
    q.clear()
    if len(_SPARE_RTX_QUEUES) < SPARE_RTX_QUEUES:
        _SPARE_RTX_QUEUES.append(q)


# --- the parts of struct tcp_sock that have a name of their own in the kernel ----------------
class RxOptions:
    """struct tcp_options_received (tp->rx_opt): what the handshake settled about options."""

    __slots__ = ("ts_recent", "ts_recent_stamp", "user_mss", "mss_clamp", "snd_wscale",
                 "rcv_wscale", "tstamp_ok", "wscale_ok", "sack_ok")

    def __init__(self) -> None:
        self.ts_recent = 0
        self.ts_recent_stamp = 0.0
        self.user_mss = 0  # TCP_MAXSEG
        self.mss_clamp = TCP_MSS_DEFAULT  # the peer's MSS, clamped by user_mss
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.tstamp_ok = False
        self.wscale_ok = False
        self.sack_ok = False


class AckState:
    """icsk->icsk_ack: the delayed-ACK machinery's state."""

    __slots__ = ("quick", "ato", "rcv_mss", "lrcvtime", "pingpong", "last_seg_size", "pushed")

    def __init__(self) -> None:
        self.quick = 0  # segments still ACKed at once (quick-ACK mode)
        self.pingpong = 0  # interactive-flow count (inet_csk_inc_pingpong_cnt)
        self.ato = 0.0  # delayed-ACK timeout (0 until the first data)
        # the peer's segment size as we see it; TCP_MIN_MSS until a guess is made (a 6.18
        # SYN_SENT socket reports tcpi_rcv_mss 88)
        self.rcv_mss = 88
        self.lrcvtime = 0.0  # when data last arrived (keepalive counts idle time from it)
        self.last_seg_size = 0  # a smaller segment's size, to see it twice in a row
        self.pushed = 0  # ICSK_ACK_PUSHED (1), ICSK_ACK_PUSHED2 (2): small segments came


def holds_port(sk: TcpSock) -> bool:
    """inet_num != 0: the socket holds its local port in a bind bucket. A port given back at
    tcp_set_state(TCP_CLOSE) (a failed connect) still shows as inet_sport (lport here:
    getsockname, the tracepoints) but is not held: bind() and listen() may take another."""
    return sk.bucket is not None


def in_pingpong_mode(sk: TcpSock) -> bool:
    """inet_csk_in_pingpong_mode: replies within ato of the data they answer, at least
    tcp_pingpong_thresh of them (or the peer's FIN): ACKs wait for data to ride on."""
    return sk.icsk_ack.pingpong >= sk.ns.sysctl.tcp_pingpong_thresh


def in_quickack_mode(sk: TcpSock) -> bool:
    """tcp_in_quickack_mode: quick-ACK credits left and not in pingpong mode."""
    return bool(sk.icsk_ack.quick) and not in_pingpong_mode(sk)


class RcvqSpace:
    """tp->rcvq_space and tp->rcv_rtt_est: receive-buffer autotuning (dynamic right-sizing)
    and the receiver's own RTT estimate that paces it."""

    __slots__ = ("space", "seq", "time", "rtt_us", "rtt_seq", "rtt_time", "last_tsecr")

    def __init__(self) -> None:
        self.space = 0  # bytes the application read in the last RTT
        self.seq = 0
        self.time = 0.0
        self.rtt_us = 0  # rcv_rtt_est.rtt_us: the receiver's RTT in us, times 8 (0: none)
        self.rtt_seq = 0  # the window's right edge when the measure began
        self.rtt_time = 0.0  # when it began (0: not begun)
        self.last_tsecr = 0  # rcv_rtt_last_tsecr


class SackScoreboard:
    """The loss-recovery scoreboard: the counts of tp->sacked_out, lost_out and retrans_out,
    a non-SACK peer's dupacks counted as SACKs (tcp_add_reno_sack), and the highest SACKed
    sequence (tcp_highest_sack_seq). Allocated on the first SACK, loss or dupack
    (`scoreboard(sk)`), given back when the retransmission queue empties; until then a socket
    reads the shared all-zero EMPTY_SCOREBOARD."""

    __slots__ = ("sacked_out", "lost_out", "retrans_out", "reno_sacked", "high_sacked")

    def __init__(self, snd_una: int) -> None:
        self.sacked_out = 0
        self.lost_out = 0
        self.retrans_out = 0
        self.reno_sacked = 0
        self.high_sacked = snd_una  # nothing SACKed yet: the highest is snd_una

    def empty(self) -> bool:
        return not (self.sacked_out or self.lost_out or self.retrans_out or self.reno_sacked)


EMPTY_SCOREBOARD: Final = SackScoreboard(0)


def fin_unsent(sk: TcpSock) -> bool:
    """tcp_send_fin queued a FIN that has not left yet (it is on, or is, the unsent tail)."""
    return sk.fin_queued and not sk.fin_sent


def has_send_head(sk: TcpSock) -> bool:
    """tcp_send_head(sk) != NULL: unsent data, or an unsent FIN, in the write queue."""
    return bool(sk.send_buf) or fin_unsent(sk)


def in_flight(sk: TcpSock) -> int:
    """tcp_packets_in_flight: packets_out - (sacked_out + lost_out) + retrans_out, where a
    non-SACK peer's dupacks count as SACKed (tcp_add_reno_sack)."""
    return max(0, len(sk.rtx_queue) - sk.sack.sacked_out - sk.sack.lost_out + sk.sack.retrans_out
               - sk.sack.reno_sacked)


def scoreboard(sk: TcpSock) -> SackScoreboard:
    """The socket's own scoreboard, for writing (allocated on first use)."""
    sb = sk.sack
    if sb is EMPTY_SCOREBOARD:
        sb = sk.sack = SackScoreboard(sk.snd_una)
    return sb


class ListenQueue:
    """The listener's half of struct inet_connection_sock: SYN queue and accept queue."""

    __slots__ = ("qlen", "young", "accept_queue", "synflood_warned", "last_overflow_j",
                 "defer_accept")

    def __init__(self) -> None:
        # the SYN queue is the requests in ehash whose listener this is (as in the kernel,
        # which keeps only these counts): qlen of them, young of them not yet timed out
        self.qlen = 0
        self.young = 0
        self.accept_queue: deque[TcpSock] = deque()
        self.synflood_warned = False
        self.last_overflow_j = 0  # rx_opt.ts_recent_stamp: jiffies of the last cookie sent
        self.defer_accept = 0  # rskq_defer_accept, in retransmits


class TcpSock:
    """One TCP socket. Fields follow struct tcp_sock/inet_connection_sock names; the parts the
    kernel names are objects of their own: `rx_opt` (tcp_options_received), `icsk_ack`,
    `rcvq_space`, `sack` (the scoreboard, shared and all-zero until first needed), `lq` (a
    listener's queues, only on listeners) and `ca_ops`/`ca_state` (congestion control). The
    retransmission and out-of-order queues are shared empty ones while idle."""

    __slots__ = (
        "ns", "state", "rx_opt", "icsk_ack", "rcvq_space", "sack", "laddr", "lport", "raddr",
        "rport", "uid", "inode", "bucket", "bind_addr_lock", "bind_port_lock", "reuse",
        "reuseport", "freebind", "bind_no_port", "syn_retries", "linger", "linger2", "backlog",
        "lq", "parent", "iss", "irs", "snd_una", "snd_nxt", "write_seq", "snd_wnd", "snd_wl1",
        "max_window", "rcv_nxt", "copied_seq", "rcv_wnd", "rcv_wup", "ts_off",
        "mss_cache", "advmss", "rto", "srtt", "rttvar", "retransmits", "total_rto",
        "total_rto_recoveries", "total_rto_time", "rto_stamp",
        "timeout_rehash", "delivered_ce",
        "retrans_stamp", "rtx_timer", "loss_probe_armed", "tlp_high_seq", "tlp_retrans",
        "keepalive_timer", "sk_err", "sk_err_soft", "recv_buf",
        "send_buf", "rtx_queue", "fin_queued", "fin_acked", "rcv_shutdown", "snd_shutdown",
        "orphan", "fin_skb_queued", "ip_id", "cwnd", "ssthresh", "created", "syn_sent_at",
        "last_oow_ack",
        "num_retrans_total", "dsack_dups", "keepalive_time", "keepalive_intvl",
        "keepalive_probes", "rcv_tstamp", "dead", "keepalive", "on_wakeup", "dupacks",
        "ca_state", "ca_ops", "ca_priv", "ca_setsockopt", "ca_initialized", "recover", "cwnd_cnt",
        "ooo", "ooo_bytes", "sack_list", "fin_sent", "rcv_adv", "probe_timer",
        "probes_out", "delack_timer", "nodelay", "cork", "sndbuf", "rcvbuf", "buf_locked",
        "ooo_ranges", "ehash_local", "ehash_remote", "defer_accept", "cookie", "user_timeout",
        "backoff",
        "probes_tstamp", "lsndtime", "wstamp", "chrono_type", "chrono_start",
        "chrono_busy", "chrono_rwnd", "chrono_sndbuf", "mem_pages", "sk_drops", "bytes_acked",
        "min_rtt", "snd_sml",
        "prior_cwnd", "prr_delivered", "prr_out", "is_cwnd_limited", "max_packets_out",
        "cwnd_usage_seq", "ecn_flags", "rcv_ssthresh", "window_clamp", "scaling_ratio",
        "rcvq_skbs", "rcvq_truesize", "ack_nomem", "pmtu_cookie", "dsack",
        "listen_refused", "rack", "reord_seen", "reordering", "reo_armed", "undo_marker",
        "undo_retrans", "prior_ssthresh", "frto", "frto_new", "tx_count", "nospace",
        "snd_cwnd_used", "snd_cwnd_stamp", "delivered", "delivered_mstamp", "first_tx_mstamp",
        "app_limited", "rate_delivered", "rate_interval_us", "rate_app_limited", "segs_out",
        "segs_in", "data_segs_out", "data_segs_in", "bytes_sent", "bytes_retrans",
        "rcv_ooopack", "owned_by_user",
    )

    def __init__(self, ns: NetNamespace, uid: int = 0) -> None:
        self.ns = ns
        self.state: int = CLOSE
        self.rx_opt = RxOptions()
        self.icsk_ack = AckState()
        self.rcvq_space = RcvqSpace()
        self.sack = EMPTY_SCOREBOARD
        self.laddr = 0
        self.lport = 0
        self.raddr = 0
        self.rport = 0
        self.uid = uid
        self.inode = 0
        self.bucket: object | None = None
        self.bind_addr_lock = False
        self.bind_port_lock = False
        self.reuse = False
        self.reuseport = False
        self.freebind = False
        self.bind_no_port = False
        self.syn_retries = 0  # TCP_SYNCNT; 0 = the sysctl
        self.linger: int | None = None
        self.linger2 = 0
        self.backlog = 0
        self.lq: ListenQueue | None = None
        self.parent: TcpSock | None = None
        self.iss = 0
        self.irs = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.write_seq = 0
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.max_window = 0
        self.rcv_nxt = 0
        self.copied_seq = 0
        self.rcv_wnd = 0  # tp->rcv_wnd: the window last offered (bytes)
        self.rcv_ssthresh = 0  # the window clamp in force now (tcp_grow_window raises it)
        self.window_clamp = 0  # the most ever offered (0: not set yet)
        self.scaling_ratio = 128  # window per buffer byte, /256 (TCP_DEFAULT_SCALING_RATIO)
        self.rcv_wup = 0
        self.ts_off = 0
        self.mss_cache = TCP_MSS_DEFAULT
        self.pmtu_cookie = 0  # icsk_pmtu_cookie: the path MTU mss_cache was computed for
        self.advmss = 1460
        self.rto = TCP_TIMEOUT_INIT
        self.srtt = 0.0
        self.rttvar = 0.0
        self.retransmits = 0
        self.total_rto = 0
        self.total_rto_recoveries = 0  # RTO runs (tcp_update_rto_stats)
        self.total_rto_time = 0  # ms in finished RTO recoveries
        self.rto_stamp = 0  # ms: when the running RTO recovery began (0: none)
        self.timeout_rehash = 0  # RTOs that rethought the flow's hash (tcpi_rehash)
        self.delivered_ce = 0  # segments delivered with an ECE on their ACK (classic ECN)
        self.retrans_stamp = -1.0  # when the first retransmitted segment left (-1: none)
        self.rtx_timer: Timer | None = None
        # icsk_pending == ICSK_TIME_LOSS_PROBE: rtx_timer is a tail loss probe, not the RTO
        self.loss_probe_armed = False
        self.tlp_high_seq = 0  # snd_nxt when a loss probe went out (0: none outstanding)
        self.tlp_retrans = False  # that probe retransmitted data (rather than sending new)
        self.keepalive_timer: Timer | None = None  # sk_timer: times an orphan's FIN_WAIT2
        self.sk_err = 0
        self.sk_err_soft = 0
        self.recv_buf = bytearray()
        self.rcvq_skbs = EMPTY_RCVQ  # what each segment in recv_buf costs, freed as it is read
        self.rcvq_truesize = 0  # their sum, charged against rcvbuf
        self.ack_nomem = False  # ICSK_ACK_NOMEM: data was queued past rcvbuf: offer zero
        self.send_buf = bytearray()  # written, not yet sent
        self.rtx_queue = EMPTY_RTX_QUEUE  # sent, not yet acknowledged
        self.fin_queued = False
        self.fin_acked = False
        self.rcv_shutdown = False
        self.snd_shutdown = False
        self.orphan = False
        # sock_owned_by_user: the engine's calls never hold a socket while segments arrive,
        # but a replay marks one that the kernel run's close() held when its peer's ACK came
        # (taken from the backlog as release_sock gave the socket up); only
        # tcp_rcv_state_process's FIN_WAIT1 test reads it
        self.owned_by_user = False
        # the peer's FIN reached an orphan (closed) socket: the skb stays on its receive queue
        # until the socket is destroyed (sk_stream_kill_queues frees it, QUEUE_PURGE)
        self.fin_skb_queued = False
        self.ip_id = 0
        self.cwnd = TCP_INIT_CWND
        self.ssthresh = 0x7FFFFFFF
        self.created = 0.0
        self.syn_sent_at = 0.0
        self.last_oow_ack = -1e18
        self.num_retrans_total = 0
        self.dsack_dups = 0  # tp->dsack_dups: duplicate segments the peer D-SACKed
        self.keepalive_time = 0.0  # TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT (0: the sysctl)
        self.keepalive_intvl = 0.0
        self.keepalive_probes = 0
        self.rcv_tstamp = 0.0  # when an acceptable ACK last arrived
        self.dead = False
        self.keepalive = False
        self.on_wakeup: Waker | None = None  # the driver's readiness hook
        self.dupacks = 0
        self.ca_state = TCP_CA_OPEN  # icsk_ca_state
        self.ca_ops: CongestionOps = RENO  # icsk_ca_ops (new_sock sets the namespace's default)
        self.ca_priv: CaPriv = NO_CA_PRIV  # icsk_ca_priv
        self.ca_setsockopt = False  # chosen by TCP_CONGESTION (a listener's children keep it)
        self.ca_initialized = False
        self.recover = 0  # snd_nxt when recovery began (high_seq)
        self.cwnd_cnt = 0
        self.ooo = EMPTY_OOO  # out-of-order queue: seq -> (data, fin, truesize)
        self.ooo_bytes = 0  # its truesize, charged against rcvbuf
        # tp->selective_acks: the SACK blocks our ACKs carry, the most recently changed first
        # (at most 4; receive.py keeps them as tcp_sack_new_ofo_skb and tcp_sack_remove do)
        self.sack_list = EMPTY_RANGES
        self.ooo_ranges = EMPTY_RANGES  # merged out-of-order ranges, in order
        # tp->duplicate_sack[0] while rx_opt.dsack: the D-SACK our next segment carries
        self.dsack: tuple[int, int] | None = None
        self.listen_refused = False  # a waited-for connect() failed: listen() fails (user.py)
        self.rack: RackState | None = None  # tp->rack (rack.py), made on first use
        self.reord_seen = 0  # reordering events seen (tp->reord_seen)
        self.reordering = ns.sysctl.tcp_reordering  # tp->reordering: the degree, in segments
        # icsk_pending == ICSK_TIME_REO_TIMEOUT: rtx_timer is RACK's reordering timer
        self.reo_armed = False
        # the undo of a cwnd reduction found needless (tcp_try_undo_*): snd_una when it began
        # (-1: nothing to undo), retransmissions not yet shown needless by a D-SACK (-1:
        # none made), and the ssthresh to go back to (0: none)
        self.undo_marker = -1
        self.undo_retrans = -1
        self.prior_ssthresh = 0
        self.frto = False  # tp->frto: F-RTO decides this RTO (stream.py: _process_loss)
        self.frto_new = False  # REXMIT_NEW: the next push sends new data, not retransmissions
        self.tx_count = 0  # segments transmitted so far (TxSeg.order)
        self.fin_sent = False
        self.rcv_adv = 0  # right edge of the window we last advertised
        self.probe_timer: Timer | None = None  # zero-window probe (ICSK_TIME_PROBE0)
        self.probes_out = 0
        self.delack_timer: Timer | None = None
        self.nodelay = False  # TCP_NODELAY
        self.cork = False  # TCP_CORK
        self.sndbuf = 16384 * 64  # sk_sndbuf (SO_SNDBUF stores twice the value asked)
        self.rcvbuf = ns.sysctl.tcp_rmem[1]  # sk_rcvbuf (tcp_init_sock)
        self.buf_locked = 0  # SOCK_SNDBUF_LOCK (1) / SOCK_RCVBUF_LOCK (2): no autotuning
        # the ends it is hashed under in the established table (ehash.py), while it is
        self.ehash_local = 0
        self.ehash_remote = -1  # -1: not hashed
        self.defer_accept = 0  # TCP_DEFER_ACCEPT in SYN-ACK retransmits (rskq_defer_accept)
        self.cookie = 0  # sock_cookie, given on first use (tracepoints)
        self.user_timeout = 0  # icsk_user_timeout: TCP_USER_TIMEOUT in ms (0: off)
        self.backoff = 0  # icsk_backoff: RTO and zero-window probe backoff exponent
        self.probes_tstamp = 0.0  # icsk_probes_tstamp: when zero-window probing began
        self.lsndtime = 0.0  # tp->lsndtime: when data was last sent
        self.wstamp = -1.0  # tp->tcp_wstamp_ns: when any segment last left (no pacing: now)
        # the send chronograph (chrono.py): the kind being timed, since when (jiffies), and
        # the jiffies each kind has had (tp->chrono_type, chrono_start, chrono_stat[])
        self.chrono_type = 0
        self.chrono_start = 0
        self.chrono_busy = 0
        self.chrono_rwnd = 0
        self.chrono_sndbuf = 0
        self.mem_pages = 0  # pages this socket holds of the namespace's tcp_memory_allocated
        self.sk_drops = 0  # sk_drops: segments dropped after they reached the socket
        self.bytes_acked = 0  # tp->bytes_acked (tcp_snd_una_update): an active SYN counts
        self.min_rtt = -1.0  # tcp_min_rtt: the smallest RTT sample (-1: none yet)
        self.snd_sml = 0  # tp->snd_sml: end of the last sub-MSS packet sent (Minshall's Nagle)
        self.prior_cwnd = 0  # cwnd when the reduction (Recovery, CWR) began: PRR's
        self.prr_delivered = 0  # segments delivered during the reduction
        self.prr_out = 0  # segments sent during the reduction
        self.is_cwnd_limited = False  # tcp_cwnd_validate's record: was cwnd what held us?
        self.max_packets_out = 0
        self.cwnd_usage_seq = 0
        self.snd_cwnd_used = 0  # the most packets out while not cwnd-limited (RFC 2861)
        self.snd_cwnd_stamp = 0.0  # when cwnd was last used in full or changed
        self.nospace = False  # SOCK_NOSPACE: a write found the send buffer full
        # delivery rate sampling (rate.py): segments delivered (SACKed or acknowledged, and
        # D-SACKed duplicates), when the last delivery was seen and when the most recently
        # (S)ACKed segment left (us), the application-limited bubble's end (0: none), and the
        # sample kept (tcpi_delivery_rate)
        self.delivered = 0
        self.delivered_mstamp = 0
        self.first_tx_mstamp = 0
        self.app_limited = 0xFFFFFFFF  # (tcp_init_sock: ~0U, so the first flight is limited)
        self.rate_delivered = 0
        self.rate_interval_us = 0
        self.rate_app_limited = True
        # what TCP_INFO counts: segments out and in (data ones apart), payload bytes sent and
        # resent, out-of-order packets received
        self.segs_out = 0
        self.segs_in = 0
        self.data_segs_out = 0
        self.data_segs_in = 0
        self.bytes_sent = 0
        self.bytes_retrans = 0
        self.rcv_ooopack = 0
        self.ecn_flags = 0  # tp->ecn_flags: TCP_ECN_OK, QUEUE_CWR, DEMAND_CWR, SEEN

    def __repr__(self) -> str:
        return (f"TcpSock({TcpState(self.state).name} {self.laddr:08x}:{self.lport} -> "
                f"{self.raddr:08x}:{self.rport})")
