"""Delivery rate sampling, as Linux's tcp_rate.c does it (RFC draft-cheng-iccrg-delivery-rate-
estimation): every transmission records how much had been delivered and when; an ACK that
delivers a segment gives a sample, the data delivered since it left over the longer of its
send and ACK phases. The last sample not limited by the application (or the highest one that
was) is what TCP_INFO reports as tcpi_delivery_rate, and the sample's prior_delivered is what
RACK's reordering window adapts on (tcp_rack_update_reo_wnd).

Times are in whole microseconds (tcp_mstamp); 0 means none, as in the kernel.
"""

from __future__ import annotations

from ..wire.seq import after
from .rack import us
from .sock import TcpSock, TxSeg, in_flight


class RateSample:
    """struct rate_sample, one per ACK."""

    __slots__ = ("prior_delivered", "prior_mstamp", "is_app_limited", "last_end_seq",
                 "interval_us", "delivered")

    def __init__(self) -> None:
        self.prior_delivered = 0  # tp->delivered when the most recently sent (S)ACKed one left
        self.prior_mstamp = 0  # and when the delivery before it was seen (0: no sample)
        self.is_app_limited = False
        self.last_end_seq = 0
        self.interval_us = 0  # the send phase, then the sample's interval (-1: none)
        self.delivered = 0  # segments delivered over it (-1: no sample)


def skb_sent(sk: TcpSock, ts: TxSeg, now: float) -> None:
    """tcp_rate_skb_sent: with nothing out, a new sampling interval starts now; the record a
    packet (new or resent) carries, put on `ts`: tp->delivered, delivered_mstamp,
    first_tx_mstamp and whether the sender was application-limited."""
    if not sk.rtx_queue:
        t = us(now)
        sk.first_tx_mstamp = t
        sk.delivered_mstamp = t
    ts.rate_delivered = sk.delivered
    ts.rate_mstamp = sk.delivered_mstamp
    ts.rate_first_tx = sk.first_tx_mstamp
    ts.rate_app_limited = sk.app_limited != 0
    ts.has_rate = True


def copy_rate(ts: TxSeg, src: TxSeg) -> None:
    """`src`'s transmission record on `ts` (another segment of the same packet)."""
    ts.has_rate = src.has_rate
    ts.rate_delivered = src.rate_delivered
    ts.rate_mstamp = src.rate_mstamp
    ts.rate_first_tx = src.rate_first_tx
    ts.rate_app_limited = src.rate_app_limited


def skb_delivered(sk: TcpSock, ts: TxSeg, rs: RateSample) -> None:
    """tcp_rate_skb_delivered: a segment was SACKed or cumulatively acknowledged. The sample
    follows the most recently sent of those (later time, or the same time and later in
    sequence: tcp_skb_sent_after). A SACKed one gives no second sample when acknowledged: its
    record is dropped as it is SACKed (the caller, tcp_sacktag_one's part)."""
    if not ts.has_rate:
        return
    tx = us(ts.xmit)
    if not rs.prior_delivered or tx > sk.first_tx_mstamp or (
            tx == sk.first_tx_mstamp and after(ts.end, rs.last_end_seq)):
        rs.prior_delivered = ts.rate_delivered
        rs.prior_mstamp = ts.rate_mstamp
        rs.is_app_limited = ts.rate_app_limited
        rs.last_end_seq = ts.end
        sk.first_tx_mstamp = tx  # the most recently (S)ACKed one's send time
        rs.interval_us = tx - ts.rate_first_tx  # its window's send phase


def rate_gen(sk: TcpSock, delivered: int, is_sack_reneg: bool, rs: RateSample,
             now: float) -> None:
    """tcp_rate_gen: the ACK's sample. The application-limited bubble ends once what was in
    flight when it began is delivered. No sample without timing, during a SACK reneging, or
    over less than the minimum RTT; a sample is kept unless it is application-limited and
    slower than the one kept."""
    if sk.app_limited and after(sk.delivered, sk.app_limited):
        sk.app_limited = 0
    t = us(now)
    if delivered:
        sk.delivered_mstamp = t
    if not rs.prior_mstamp or is_sack_reneg:
        rs.delivered = -1
        rs.interval_us = -1
        return
    rs.delivered = sk.delivered - rs.prior_delivered
    ack_us = t - rs.prior_mstamp
    rs.interval_us = max(rs.interval_us, ack_us)
    min_rtt = us(sk.min_rtt) if sk.min_rtt >= 0 else 0xFFFFFFFF
    if rs.interval_us < min_rtt:
        rs.interval_us = -1
        return
    if not rs.is_app_limited or (
            rs.delivered * sk.rate_interval_us >= sk.rate_delivered * rs.interval_us):
        sk.rate_delivered = rs.delivered
        sk.rate_interval_us = rs.interval_us
        sk.rate_app_limited = rs.is_app_limited


def check_app_limited(sk: TcpSock) -> None:
    """tcp_rate_check_app_limited, as a write begins: less than a segment unsent, cwnd not
    full and every lost segment resent (nothing waits in a qdisc here): the sender is
    application-limited until what is in flight now is delivered."""
    pipe = in_flight(sk)
    if (((sk.write_seq - sk.snd_nxt) & 0xFFFFFFFF) < sk.mss_cache and pipe < sk.cwnd
            and sk.sack.lost_out <= sk.sack.retrans_out):
        sk.app_limited = (sk.delivered + pipe) or 1


def delivery_rate(sk: TcpSock) -> int:
    """tcp_compute_delivery_rate: the kept sample in bytes per second."""
    if sk.rate_delivered and sk.rate_interval_us:
        return sk.rate_delivered * sk.mss_cache * 1_000_000 // sk.rate_interval_us
    return 0
