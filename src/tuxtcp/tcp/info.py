"""TCP_INFO: a read-only snapshot of one socket (tcp.c:tcp_get_info, struct tcp_info).

`tcp_get_info(sk, now)` copies what the socket holds into a `TcpInfo` under the kernel's field
names; `TcpInfo.pack()` lays it out as the kernel's struct tcp_info (6.18: 280 bytes), which is
what getsockopt(IPPROTO_TCP, TCP_INFO) returns. The snapshot is a copy: it does not follow the
socket afterwards, and nothing written to it reaches the engine.

Exact (the socket's own value, in the kernel's unit): tcpi_state, tcpi_ca_state,
tcpi_retransmits, tcpi_probes, tcpi_options, tcpi_snd_wscale, tcpi_rcv_wscale, tcpi_snd_mss,
tcpi_unacked (packets_out; on a listener the accept queue), tcpi_sacked (sacked_out, including
a non-SACK peer's dupacks; on a listener the backlog), tcpi_lost, tcpi_retrans, tcpi_snd_ssthresh,
tcpi_snd_cwnd, tcpi_total_retrans, tcpi_notsent_bytes, tcpi_snd_wnd,
tcpi_rcv_wnd (the window last advertised), tcpi_rcv_ssthresh, tcpi_rcv_space, tcpi_rcv_mss,
tcpi_advmss (less the timestamp option once it is on), tcpi_max_pacing_rate (no
SO_MAX_PACING_RATE: ~0), tcpi_reordering (the degree RACK learned; 3 on a listener),
tcpi_delivered, tcpi_segs_out, tcpi_segs_in, tcpi_data_segs_out, tcpi_data_segs_in,
tcpi_bytes_sent, tcpi_bytes_retrans, tcpi_dsack_dups, tcpi_reord_seen, tcpi_rcv_ooopack,
tcpi_total_rto, tcpi_total_rto_recoveries and tcpi_total_rto_time (tcp_update_rto_stats,
tcp_update_rto_time: ms from an RTO run's first timeout until Loss is left; a child whose
SYN-ACK timed out starts with one recovery), tcpi_busy_time, tcpi_rwnd_limited and
tcpi_sndbuf_limited (the send chronograph, chrono.py, in whole jiffies as the kernel keeps
it), tcpi_rehash (RTOs that rethought the flow hash; PLB is not modelled),
tcpi_delivered_ce (classic ECN: segments cumulatively ACKed or dup-ACKed with ECE), and
tcpi_delivery_rate with tcpi_delivery_rate_app_limited (tcp_rate.c's sampling,
rate.py; the virtual clock's microseconds, so a kernel run's rate differs by its timing).

Approximations:
- tcpi_rto, tcpi_ato, tcpi_rtt, tcpi_rttvar: the engine keeps seconds as floats, not jiffies,
  so these are rounded microseconds rather than multiples of a jiffy (4 ms at HZ=250); the RTT
  estimator is RFC 6298's, not the kernel's mdev_max variant.
- tcpi_backoff: in SYN_SENT the RTOs past tcp_syn_linear_timeouts (exact); otherwise the
  consecutive RTOs (or zero-window probes) not yet answered.
- tcpi_pmtu: icsk_pmtu_cookie, the path MTU the MSS was computed for (net/route.py: 1500,
  65535 on loopback, or a path MTU learned from ICMP).
- tcpi_last_data_sent, tcpi_last_data_recv, tcpi_last_ack_recv: jiffies since, in ms, from
  times the engine keeps as floats (a socket that never sent has its creation's epoch).
- tcpi_bytes_acked, tcpi_bytes_received: from the sequence numbers (so modulo 2**32), as the
  kernel counts them: an active opener's SYN in bytes_acked (tcp_snd_una_update), no SYN in
  bytes_received, a FIN in both.
- tcpi_pacing_rate: tcp_update_pacing_rate's formula on the current cwnd and srtt (the kernel
  updates it on each ACK); ~0 before the first RTT sample.
- tcpi_min_rtt: the smallest RTT sample of the connection (the kernel's window is 300 s).

Not modelled, always 0: tcpi_fastopen_client_fail, tcpi_fackets, tcpi_last_ack_sent (0 in
the kernel too) and the AccECN counters.
The send-buffer chronograph starts where the kernel starts it, but tuxtcp's send buffer
counts bytes, not skb truesize, so a write fills it at another size than on the kernel.

The fields without the tcpi_ prefix are tuxtcp's own (what `ss` and the ioctls show, and the
sequence variables), so a test can read a connection without reaching into the engine.
"""

from __future__ import annotations

import struct
from typing import Final

from ..net.clock import round_int
from ..net.sysctl_specs import HZ
from ..net.tcp_states import LISTEN, SYN_SENT, TcpState
from .chrono import chrono_stats
from .constants import TCP_ECN_OK
from .pacing import pacing_rate
from .rate import delivery_rate
from .sock import TcpSock

M32: Final = 0xFFFFFFFF
U64_MAX: Final = 0xFFFFFFFFFFFFFFFF
TCP_INFO: Final = 11  # include/uapi/linux/tcp.h
# tcpi_options bits
TCPI_OPT_TIMESTAMPS: Final = 1
TCPI_OPT_SACK: Final = 2
TCPI_OPT_WSCALE: Final = 4
TCPI_OPT_ECN: Final = 8
TCP_FASTRETRANS_THRESH: Final = 3
TCP_DELACK_MAX: Final = 0.2

# struct tcp_info (6.18) in field order: 8 u8 (two of them bitfields), 24 u32, then the u64/u32
# groups; every field is naturally aligned, so the packed size is sizeof(struct tcp_info).
TCP_INFO_FORMAT: Final = "=8B24I4Q2I4I4Q2I2Q2II2II2HI7I2H"
TCP_INFO_LEN: Final = struct.calcsize(TCP_INFO_FORMAT)  # 280


# every field a TcpInfo has: the kernel's tcpi_* in struct order, then tuxtcp's plain ones
FIELDS: Final[tuple[str, ...]] = (
    "tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff",
    "tcpi_options", "tcpi_snd_wscale", "tcpi_rcv_wscale", "tcpi_delivery_rate_app_limited",
    "tcpi_fastopen_client_fail", "tcpi_rto", "tcpi_ato", "tcpi_snd_mss", "tcpi_rcv_mss",
    "tcpi_unacked", "tcpi_sacked", "tcpi_lost", "tcpi_retrans", "tcpi_fackets",
    "tcpi_last_data_sent", "tcpi_last_ack_sent", "tcpi_last_data_recv", "tcpi_last_ack_recv",
    "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt", "tcpi_rttvar", "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering", "tcpi_rcv_rtt", "tcpi_rcv_space",
    "tcpi_total_retrans", "tcpi_pacing_rate", "tcpi_max_pacing_rate", "tcpi_bytes_acked",
    "tcpi_bytes_received", "tcpi_segs_out", "tcpi_segs_in", "tcpi_notsent_bytes",
    "tcpi_min_rtt", "tcpi_data_segs_in", "tcpi_data_segs_out", "tcpi_delivery_rate",
    "tcpi_busy_time", "tcpi_rwnd_limited", "tcpi_sndbuf_limited", "tcpi_delivered",
    "tcpi_delivered_ce", "tcpi_bytes_sent", "tcpi_bytes_retrans", "tcpi_dsack_dups",
    "tcpi_reord_seen", "tcpi_rcv_ooopack", "tcpi_snd_wnd", "tcpi_rcv_wnd", "tcpi_rehash",
    "tcpi_total_rto", "tcpi_total_rto_recoveries", "tcpi_total_rto_time",
    "tcpi_received_ce", "tcpi_delivered_e1_bytes", "tcpi_delivered_e0_bytes",
    "tcpi_delivered_ce_bytes", "tcpi_received_e1_bytes", "tcpi_received_e0_bytes",
    "tcpi_received_ce_bytes", "tcpi_accecn_fail_mode", "tcpi_accecn_opt_seen",
    "state", "iss", "irs", "snd_una", "snd_nxt", "rcv_nxt", "snd_wnd", "rcv_wnd",
    "recv_queue", "send_queue", "mss_clamp", "fin_sent", "fin_acked", "sk_err",
)

KERNEL_FIELDS: Final = tuple(n for n in FIELDS if n.startswith("tcpi_"))


class TcpInfo:
    """struct tcp_info for one socket at one instant, plus tuxtcp's plainly named fields."""

    __slots__ = FIELDS

    def __init__(self) -> None:
        """All zeros: what the kernel reports for a socket that is not SOCK_STREAM."""
        self.tcpi_state = 0
        self.tcpi_ca_state = 0
        self.tcpi_retransmits = 0
        self.tcpi_probes = 0
        self.tcpi_backoff = 0
        self.tcpi_options = 0
        self.tcpi_snd_wscale = 0
        self.tcpi_rcv_wscale = 0
        self.tcpi_delivery_rate_app_limited = 0
        self.tcpi_fastopen_client_fail = 0
        self.tcpi_rto = 0  # us
        self.tcpi_ato = 0  # us
        self.tcpi_snd_mss = 0
        self.tcpi_rcv_mss = 0
        self.tcpi_unacked = 0
        self.tcpi_sacked = 0
        self.tcpi_lost = 0
        self.tcpi_retrans = 0
        self.tcpi_fackets = 0
        self.tcpi_last_data_sent = 0  # ms
        self.tcpi_last_ack_sent = 0
        self.tcpi_last_data_recv = 0
        self.tcpi_last_ack_recv = 0
        self.tcpi_pmtu = 0
        self.tcpi_rcv_ssthresh = 0
        self.tcpi_rtt = 0  # us
        self.tcpi_rttvar = 0  # us
        self.tcpi_snd_ssthresh = 0
        self.tcpi_snd_cwnd = 0
        self.tcpi_advmss = 0
        self.tcpi_reordering = 0
        self.tcpi_rcv_rtt = 0
        self.tcpi_rcv_space = 0
        self.tcpi_total_retrans = 0
        self.tcpi_pacing_rate = 0  # bytes/s
        self.tcpi_max_pacing_rate = 0
        self.tcpi_bytes_acked = 0
        self.tcpi_bytes_received = 0
        self.tcpi_segs_out = 0
        self.tcpi_segs_in = 0
        self.tcpi_notsent_bytes = 0
        self.tcpi_min_rtt = 0
        self.tcpi_data_segs_in = 0
        self.tcpi_data_segs_out = 0
        self.tcpi_delivery_rate = 0
        self.tcpi_busy_time = 0
        self.tcpi_rwnd_limited = 0
        self.tcpi_sndbuf_limited = 0
        self.tcpi_delivered = 0
        self.tcpi_delivered_ce = 0
        self.tcpi_bytes_sent = 0
        self.tcpi_bytes_retrans = 0
        self.tcpi_dsack_dups = 0
        self.tcpi_reord_seen = 0
        self.tcpi_rcv_ooopack = 0
        self.tcpi_snd_wnd = 0
        self.tcpi_rcv_wnd = 0
        self.tcpi_rehash = 0
        self.tcpi_total_rto = 0
        self.tcpi_total_rto_recoveries = 0
        self.tcpi_total_rto_time = 0
        self.tcpi_received_ce = 0
        self.tcpi_delivered_e1_bytes = 0
        self.tcpi_delivered_e0_bytes = 0
        self.tcpi_delivered_ce_bytes = 0
        self.tcpi_received_e1_bytes = 0
        self.tcpi_received_e0_bytes = 0
        self.tcpi_received_ce_bytes = 0
        self.tcpi_accecn_fail_mode = 0
        self.tcpi_accecn_opt_seen = 0
        # tuxtcp's own
        self.state = ""  # the state's name, as Socket.state gives it ("ESTABLISHED", ...)
        self.iss = 0  # our initial sequence number
        self.irs = 0  # the peer's initial sequence number
        self.snd_una = 0
        self.snd_nxt = 0
        self.rcv_nxt = 0
        self.snd_wnd = 0  # the peer's window, scaled (bytes)
        self.rcv_wnd = 0  # the receive window last offered (bytes)
        self.recv_queue = 0  # bytes received, not yet read (SIOCINQ; ss Recv-Q)
        self.send_queue = 0  # sequence space written, not yet acknowledged (SIOCOUTQ; ss Send-Q)
        self.mss_clamp = 0  # the peer's MSS as clamped (rx_opt.mss_clamp)
        self.fin_sent = False
        self.fin_acked = False
        self.sk_err = 0  # the pending error (SO_ERROR would read and clear it)

    def pack(self) -> bytes:
        """The kernel's struct tcp_info bytes (native byte order, TCP_INFO_LEN bytes)."""
        return struct.pack(
            TCP_INFO_FORMAT,
            self.tcpi_state, self.tcpi_ca_state, self.tcpi_retransmits & 0xFF,
            self.tcpi_probes & 0xFF, self.tcpi_backoff & 0xFF, self.tcpi_options,
            (self.tcpi_snd_wscale & 0xF) | (self.tcpi_rcv_wscale & 0xF) << 4,
            (self.tcpi_delivery_rate_app_limited & 1)
            | (self.tcpi_fastopen_client_fail & 3) << 1,
            self.tcpi_rto, self.tcpi_ato, self.tcpi_snd_mss, self.tcpi_rcv_mss,
            self.tcpi_unacked, self.tcpi_sacked, self.tcpi_lost, self.tcpi_retrans,
            self.tcpi_fackets,
            self.tcpi_last_data_sent, self.tcpi_last_ack_sent, self.tcpi_last_data_recv,
            self.tcpi_last_ack_recv,
            self.tcpi_pmtu, self.tcpi_rcv_ssthresh, self.tcpi_rtt, self.tcpi_rttvar,
            self.tcpi_snd_ssthresh, self.tcpi_snd_cwnd, self.tcpi_advmss, self.tcpi_reordering,
            self.tcpi_rcv_rtt, self.tcpi_rcv_space, self.tcpi_total_retrans,
            self.tcpi_pacing_rate, self.tcpi_max_pacing_rate, self.tcpi_bytes_acked,
            self.tcpi_bytes_received,
            self.tcpi_segs_out, self.tcpi_segs_in,
            self.tcpi_notsent_bytes, self.tcpi_min_rtt, self.tcpi_data_segs_in,
            self.tcpi_data_segs_out,
            self.tcpi_delivery_rate, self.tcpi_busy_time, self.tcpi_rwnd_limited,
            self.tcpi_sndbuf_limited,
            self.tcpi_delivered, self.tcpi_delivered_ce,
            self.tcpi_bytes_sent, self.tcpi_bytes_retrans,
            self.tcpi_dsack_dups, self.tcpi_reord_seen,
            self.tcpi_rcv_ooopack,
            self.tcpi_snd_wnd, self.tcpi_rcv_wnd,
            self.tcpi_rehash,
            self.tcpi_total_rto, self.tcpi_total_rto_recoveries,
            self.tcpi_total_rto_time,
            self.tcpi_received_ce, self.tcpi_delivered_e1_bytes, self.tcpi_delivered_e0_bytes,
            self.tcpi_delivered_ce_bytes, self.tcpi_received_e1_bytes,
            self.tcpi_received_e0_bytes, self.tcpi_received_ce_bytes,
            self.tcpi_accecn_fail_mode, self.tcpi_accecn_opt_seen,
        )

    def __repr__(self) -> str:
        return (f"TcpInfo({self.state} snd_una={self.snd_una} snd_nxt={self.snd_nxt} "
                f"rcv_nxt={self.rcv_nxt} cwnd={self.tcpi_snd_cwnd} rto={self.tcpi_rto}us)")


def _us(seconds: float) -> int:
    return max(0, round_int(seconds * 1_000_000))


def _ms_since(now_j: int, then_j: int) -> int:
    """jiffies_to_msecs(now - then), the difference taken as u32."""
    return ((now_j - then_j) & M32) * 1000 // HZ


def _seq_count(end: int, start: int) -> int:
    """Sequence space from start to end; 0 if end is before start."""
    d = (end - start) & M32
    return 0 if d & 0x80000000 else d


def tcp_get_info(sk: TcpSock, now: float) -> TcpInfo:
    """tcp.c:tcp_get_info. `now` is the instant of the snapshot (the kernel's tcp_jiffies32,
    which only the time-since fields use; those are not modelled)."""
    info = TcpInfo()
    st = sk.state
    info.tcpi_state = st
    info.state = TcpState(st).name
    info.tcpi_max_pacing_rate = U64_MAX
    info.tcpi_pacing_rate = U64_MAX
    info.tcpi_reordering = TCP_FASTRETRANS_THRESH
    info.tcpi_snd_cwnd = sk.cwnd
    if st == LISTEN:
        # the listener's aliased fields: children ready for accept(), the backlog
        info.tcpi_unacked = len(sk.lq.accept_queue) if sk.lq is not None else 0
        info.tcpi_sacked = sk.backlog
        info.snd_una, info.snd_nxt, info.rcv_nxt = sk.snd_una, sk.snd_nxt, sk.rcv_nxt
        return info
    info.tcpi_ca_state = sk.ca_state
    info.tcpi_retransmits = sk.retransmits
    info.tcpi_probes = sk.probes_out
    if st == SYN_SENT:
        linear = sk.ns.sysctl.get_int("net.ipv4.tcp_syn_linear_timeouts")
        info.tcpi_backoff = max(0, sk.total_rto - linear)
        info.tcpi_snd_cwnd = 1 if sk.retransmits else sk.cwnd  # tcp_enter_loss on the SYN
    else:
        info.tcpi_backoff = sk.backoff
        # the options are negotiated: nothing is agreed before the SYN-ACK
        if sk.rx_opt.tstamp_ok:
            info.tcpi_options |= TCPI_OPT_TIMESTAMPS
        if sk.rx_opt.sack_ok:
            info.tcpi_options |= TCPI_OPT_SACK
        if sk.rx_opt.wscale_ok:
            info.tcpi_options |= TCPI_OPT_WSCALE
            info.tcpi_snd_wscale = sk.rx_opt.snd_wscale
            info.tcpi_rcv_wscale = sk.rx_opt.rcv_wscale
        if sk.ecn_flags & TCP_ECN_OK:
            info.tcpi_options |= TCPI_OPT_ECN
    info.tcpi_rto = _us(sk.rto)
    info.tcpi_ato = _us(min(sk.icsk_ack.ato, TCP_DELACK_MAX))
    info.tcpi_snd_mss = sk.mss_cache
    info.tcpi_rcv_mss = sk.icsk_ack.rcv_mss
    info.tcpi_unacked = len(sk.rtx_queue)
    info.tcpi_sacked = sk.sack.sacked_out + sk.sack.reno_sacked
    info.tcpi_lost = sk.sack.lost_out
    info.tcpi_retrans = sk.sack.retrans_out
    info.tcpi_pmtu = sk.pmtu_cookie
    info.tcpi_rcv_ssthresh = sk.rcv_ssthresh
    info.tcpi_rtt = _us(sk.srtt)
    info.tcpi_rttvar = _us(sk.rttvar)
    info.tcpi_snd_ssthresh = sk.ssthresh
    info.tcpi_advmss = sk.advmss
    info.tcpi_rcv_space = sk.rcvq_space.space
    info.tcpi_rcv_rtt = sk.rcvq_space.rtt_us >> 3  # rcv_rtt_est, kept times 8
    info.tcpi_total_retrans = sk.num_retrans_total
    info.tcpi_pacing_rate = pacing_rate(sk)
    if sk.min_rtt >= 0:
        info.tcpi_min_rtt = _us(sk.min_rtt)
    info.tcpi_bytes_acked = sk.bytes_acked
    if sk.rcv_nxt != sk.irs:
        info.tcpi_bytes_received = _seq_count(sk.rcv_nxt, (sk.irs + 1) & M32)
    info.tcpi_notsent_bytes = _seq_count(sk.write_seq, sk.snd_nxt)
    info.tcpi_snd_wnd = sk.snd_wnd
    # tp->rcv_wnd: the window in our last segment (the SYN's before any other was sent)
    info.tcpi_rcv_wnd = sk.rcv_wnd
    info.tcpi_total_rto = sk.total_rto
    info.tcpi_total_rto_recoveries = sk.total_rto_recoveries
    info.tcpi_total_rto_time = sk.total_rto_time
    if sk.rto_stamp:
        info.tcpi_total_rto_time += sk.ns.clock.tcp_clock_ms(now) - sk.rto_stamp
    info.tcpi_reordering = sk.reordering
    info.tcpi_delivered = sk.delivered
    info.tcpi_delivered_ce = sk.delivered_ce
    info.tcpi_rehash = sk.timeout_rehash  # (+ plb_rehash: PLB is off by default, not modelled)
    info.tcpi_delivery_rate = delivery_rate(sk)
    info.tcpi_delivery_rate_app_limited = int(sk.rate_app_limited)
    info.tcpi_segs_out = sk.segs_out
    info.tcpi_segs_in = sk.segs_in
    info.tcpi_data_segs_out = sk.data_segs_out
    info.tcpi_data_segs_in = sk.data_segs_in
    info.tcpi_bytes_sent = sk.bytes_sent
    info.tcpi_bytes_retrans = sk.bytes_retrans
    info.tcpi_dsack_dups = sk.dsack_dups
    info.tcpi_reord_seen = sk.reord_seen
    info.tcpi_rcv_ooopack = sk.rcv_ooopack
    info.tcpi_busy_time, info.tcpi_rwnd_limited, info.tcpi_sndbuf_limited = \
        chrono_stats(sk, now)
    # jiffies since data last left, data last came and an acceptable ACK last came, in ms
    clock = sk.ns.clock
    j = clock.jiffies(now)
    info.tcpi_last_data_sent = _ms_since(j, clock.jiffies(sk.lsndtime))
    info.tcpi_last_data_recv = _ms_since(j, clock.jiffies(sk.icsk_ack.lrcvtime))
    info.tcpi_last_ack_recv = _ms_since(j, clock.jiffies(sk.rcv_tstamp))
    # tuxtcp's own
    info.iss = sk.iss
    info.irs = sk.irs
    info.snd_una = sk.snd_una
    info.snd_nxt = sk.snd_nxt
    info.rcv_nxt = sk.rcv_nxt
    info.snd_wnd = sk.snd_wnd
    info.rcv_wnd = sk.rcv_wnd
    info.recv_queue = len(sk.recv_buf)
    info.send_queue = (sk.write_seq - sk.snd_una) & M32
    info.mss_clamp = sk.rx_opt.mss_clamp
    info.fin_sent = sk.fin_sent
    info.fin_acked = sk.fin_acked
    info.sk_err = sk.sk_err
    return info
