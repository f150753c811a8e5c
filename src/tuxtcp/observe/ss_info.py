"""What `ss -i` prints after a socket's line (iproute2 6.1, tcp_show_info and tcp_stats_print):
the congestion control's name, then tcp_info's fields in ss's order and units, each only when
it is set, from a socket record's decoded tcp_info (observe/records.py `info`, `cong`, `ca`).

Units as ss converts them: rto, ato, rtt/rttvar, rcv_rtt and minrtt in ms (%g of
microseconds / 1000; the initial 3 s RTO is not shown), rates in bits/s through sprint_bw
(plain integers with -n, else three digits and k/M/G/T), busy times in ms. A listener's
tcp_info aliases unacked to its accept queue and sacked to its backlog; ss hides the latter.
The option words (ts sack ecn ecnseen fastopen) come only with -o or -e, as in ss.
Request and TIME_WAIT socks have no tcp_info: nothing is printed for them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing stays unimported at run time: `tuxtcp ss` starts sooner
if TYPE_CHECKING:
    from typing import Final


LISTEN: Final = 10
U64_MAX: Final = (1 << 64) - 1
U32_MAX: Final = (1 << 32) - 1
INITIAL_RTO_US: Final = 3_000_000
OPT_WORDS: Final = ((1, "ts"), (2, "sack"), (8, "ecn"), (16, "ecnseen"), (32, "fastopen"))
TCPI_OPT_WSCALE: Final = 4


def sprint_bw(bps: float, numeric: bool) -> str:
    """ss's sprint_bw: a rate in bits/s."""
    if numeric:
        return f"{bps:.0f}"
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if bps >= scale:
            return f"{bps / scale:.3g}{unit}"
    return f"{bps:g}"


def info_text(info: dict[str, int], state: int, cong: str | None,
              ca: tuple[str, tuple[int, ...]] | None, numeric: bool,
              show_options: bool) -> str:
    """tcp_stats_print for one socket: the items, each after a space."""
    g = info.get
    out: list[str] = []
    if show_options:
        opts = g("tcpi_options", 0)
        out += [word for bit, word in OPT_WORDS if opts & bit]
    if cong:
        out.append(cong[:15])
    if g("tcpi_options", 0) & TCPI_OPT_WSCALE:
        out.append(f"wscale:{g('tcpi_snd_wscale', 0)},{g('tcpi_rcv_wscale', 0)}")
    rto = g("tcpi_rto", 0)
    if rto and rto != INITIAL_RTO_US:
        out.append(f"rto:{rto / 1000:g}")
    if g("tcpi_backoff", 0):
        out.append(f"backoff:{g('tcpi_backoff')}")
    rtt = g("tcpi_rtt", 0)
    if rtt:
        out.append(f"rtt:{rtt / 1000:g}/{g('tcpi_rttvar', 0) / 1000:g}")
    if g("tcpi_ato", 0):
        out.append(f"ato:{g('tcpi_ato', 0) / 1000:g}")
    for key, word in (("tcpi_snd_mss", "mss"), ("tcpi_pmtu", "pmtu"),
                      ("tcpi_rcv_mss", "rcvmss"), ("tcpi_advmss", "advmss"),
                      ("tcpi_snd_cwnd", "cwnd")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    ssthresh = g("tcpi_snd_ssthresh", 0)
    if ssthresh and ssthresh < 0xFFFF:
        out.append(f"ssthresh:{ssthresh}")
    for key, word in (("tcpi_bytes_sent", "bytes_sent"), ("tcpi_bytes_retrans", "bytes_retrans"),
                      ("tcpi_bytes_acked", "bytes_acked"),
                      ("tcpi_bytes_received", "bytes_received"),
                      ("tcpi_segs_out", "segs_out"), ("tcpi_segs_in", "segs_in"),
                      ("tcpi_data_segs_out", "data_segs_out"),
                      ("tcpi_data_segs_in", "data_segs_in")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    vegas_rtt = 0
    if ca is not None:
        kind, v = ca
        if kind == "dctcp":
            out.append(f"dctcp:(ce_state:{v[1]},alpha:{v[2]},ab_ecn:{v[3]},ab_tot:{v[4]})"
                       if v[0] else "dctcp:fallback_mode")
        elif kind == "bbr":
            bw_lo, bw_hi, min_rtt, pacing_gain, cwnd_gain = v[:5]
            bw = sprint_bw(((bw_hi << 32) | bw_lo) * 8.0, numeric)
            text = f"bbr:(bw:{bw}bps,mrtt:{min_rtt / 1000.0:g}"
            if pacing_gain:
                text += f",pacing_gain:{pacing_gain / 256.0:g}"
            if cwnd_gain:
                text += f",cwnd_gain:{cwnd_gain / 256.0:g}"
            out.append(text + ")")
        elif kind == "vegas" and v[0] and v[2] and v[2] != 0x7FFFFFFF:
            vegas_rtt = v[2]
    srtt = vegas_rtt or rtt
    mss, cwnd = g("tcpi_snd_mss", 0), g("tcpi_snd_cwnd", 0)
    if srtt > 0 and mss and cwnd:
        out.append(f"send {sprint_bw(cwnd * mss * 8000000.0 / srtt, numeric)}bps")
    for key, word in (("tcpi_last_data_sent", "lastsnd"), ("tcpi_last_data_recv", "lastrcv"),
                      ("tcpi_last_ack_recv", "lastack")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    pacing = g("tcpi_pacing_rate", 0)
    if pacing and pacing != U64_MAX:
        text = f"pacing_rate {sprint_bw(pacing * 8.0, numeric)}bps"
        top = g("tcpi_max_pacing_rate", 0)
        if top and top != U64_MAX:
            text += f"/{sprint_bw(top * 8.0, numeric)}bps"
        out.append(text)
    if g("tcpi_delivery_rate", 0):
        out.append(f"delivery_rate {sprint_bw(g('tcpi_delivery_rate', 0) * 8.0, numeric)}bps")
    for key, word in (("tcpi_delivered", "delivered"), ("tcpi_delivered_ce", "delivered_ce")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    if g("tcpi_delivery_rate_app_limited", 0):
        out.append("app_limited")
    busy = g("tcpi_busy_time", 0)
    if busy:
        text = f"busy:{busy // 1000}ms"
        for key, word in (("tcpi_rwnd_limited", "rwnd_limited"),
                          ("tcpi_sndbuf_limited", "sndbuf_limited")):
            lim = g(key, 0)
            if lim:
                text += f" {word}:{lim // 1000}ms({100.0 * lim / busy:.1f}%)"
        out.append(text)
    if g("tcpi_unacked", 0):
        out.append(f"unacked:{g('tcpi_unacked')}")
    if g("tcpi_retrans", 0) or g("tcpi_total_retrans", 0):
        out.append(f"retrans:{g('tcpi_retrans', 0)}/{g('tcpi_total_retrans', 0)}")
    if g("tcpi_lost", 0):
        out.append(f"lost:{g('tcpi_lost')}")
    if g("tcpi_sacked", 0) and state != LISTEN:
        out.append(f"sacked:{g('tcpi_sacked')}")
    for key, word in (("tcpi_dsack_dups", "dsack_dups"), ("tcpi_fackets", "fackets")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    if g("tcpi_reordering", 0) != 3:
        out.append(f"reordering:{g('tcpi_reordering', 0)}")
    if g("tcpi_reord_seen", 0):
        out.append(f"reord_seen:{g('tcpi_reord_seen')}")
    if g("tcpi_rcv_rtt", 0):
        out.append(f"rcv_rtt:{g('tcpi_rcv_rtt', 0) / 1000:g}")
    for key, word in (("tcpi_rcv_space", "rcv_space"), ("tcpi_rcv_ssthresh", "rcv_ssthresh"),
                      ("tcpi_notsent_bytes", "notsent")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    min_rtt = g("tcpi_min_rtt", 0)
    if min_rtt and min_rtt != U32_MAX:
        out.append(f"minrtt:{min_rtt / 1000:g}")
    for key, word in (("tcpi_rcv_ooopack", "rcv_ooopack"), ("tcpi_snd_wnd", "snd_wnd")):
        if g(key, 0):
            out.append(f"{word}:{g(key)}")
    return "".join(" " + item for item in out)
