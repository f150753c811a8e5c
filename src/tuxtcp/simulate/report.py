"""Turning a ScenarioResult into numbers, attribution and a plain-language explanation."""

from __future__ import annotations

import dataclasses
import errno
import math
from collections import Counter
from typing import Any

from ..sim.scenario import ScenarioResult

KEY_COUNTERS = (
    "TcpExt.ListenOverflows", "TcpExt.ListenDrops", "TcpExt.TCPReqQFullDrop",
    "TcpExt.TCPReqQFullDoCookies", "TcpExt.SyncookiesSent", "TcpExt.SyncookiesRecv",
    "TcpExt.SyncookiesFailed", "TcpExt.EmbryonicRsts", "TcpExt.TCPTimeouts",
    "TcpExt.TCPSynRetrans", "Tcp.PassiveOpens", "Tcp.ActiveOpens", "Tcp.AttemptFails",
    "Tcp.RetransSegs", "Tcp.OutRsts",
)


# retransmissions by the mechanism that sent them, under the kernel's counters: a SYN or
# SYN-ACK timer (TCPSynRetrans), segments resent in Loss after an RTO (TCPSlowStartRetrans),
# fast retransmissions of segments marked lost in Recovery (TCPFastRetrans: on 6.18 a SACK
# connection's marks are all RACK's, time-based; without SACK, the duplicate-ACK count's),
# and tail loss probes (TCPLossProbes: a probe of new data is counted too)
RETRANSMISSIONS = (
    ("SYN / SYN-ACK timer", "TcpExt.TCPSynRetrans"),
    ("RTO expiries", "TcpExt.TCPTimeouts"),
    ("resent after an RTO (Loss)", "TcpExt.TCPSlowStartRetrans"),
    ("fast retransmit (RACK / dupthresh)", "TcpExt.TCPFastRetrans"),
    ("tail loss probes", "TcpExt.TCPLossProbes"),
    ("losses repaired by a probe", "TcpExt.TCPLossProbeRecovery"),
    ("all retransmitted segments", "Tcp.RetransSegs"),
)
# reductions found needless and undone (tcp_try_undo_*), and what told
UNDO = (
    ("recovery undone in full", "TcpExt.TCPFullUndo"),
    ("undone in part (Eifel)", "TcpExt.TCPPartialUndo"),
    ("undone on D-SACKs (or resent SYN-ACKs)", "TcpExt.TCPDSACKUndo"),
    ("RTO undone", "TcpExt.TCPLossUndo"),
    ("spurious RTOs (F-RTO)", "TcpExt.TCPSpuriousRTOs"),
    ("D-SACKs received", "TcpExt.TCPDSACKRecv"),
)
RECOVERY_COUNTERS = tuple(dict.fromkeys(k for _, k in RETRANSMISSIONS + UNDO))


def percentile_rank(n: int, p: float) -> int:
    """The index of the nearest-rank p-th percentile (p in 0..100) among n sorted values."""
    return max(0, min(n - 1, math.ceil(n * p / 100) - 1))


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    return sorted(values)[percentile_rank(len(values), p)]


def summarize(res: ScenarioResult) -> dict[str, Any]:
    lat = [c.latency for c in res.clients if c.latency is not None]
    outcomes = Counter(c.outcome for c in res.clients)
    syn_retx = Counter(c.syn_retrans for c in res.clients if c.latency is not None)
    via_synack = sum(1 for c in res.clients if c.latency is not None and c.synack_retrans)
    never_accepted = sum(1 for c in res.clients if c.latency is not None and c.accepted is None)
    failed = {k: v for k, v in outcomes.items() if k != "ok"}
    sc = res.server_counters
    cc = res.client_counters
    counters = {"server": {k: sc.get(k, 0) for k in KEY_COUNTERS},
                "client": {k: cc.get(k, 0) for k in KEY_COUNTERS}}
    pct = {f"p{p}": percentile(lat, p) for p in (50, 90, 99)}
    pct["max"] = max(lat) if lat else None
    resp = [t for c in res.clients if (t := c.response_time) is not None]
    response = None
    if res.spec.response_bytes:
        rp = {f"p{p}": percentile(resp, p) for p in (50, 90, 99)}
        rp["max"] = max(resp) if resp else None
        response = {"complete": sum(1 for c in res.clients if c.completed is not None
                                    and c.received == res.spec.response_bytes),
                    "bytes_received": sum(c.received for c in res.clients),
                    "time_s": rp}
    peak_synq = max((s for _, s, _ in res.samples), default=0)
    peak_accq = max((a for _, _, a in res.samples), default=0)
    return {
        "scenario": res.spec.name,
        "spec": {f.name: getattr(res.spec, f.name) for f in dataclasses.fields(res.spec)
                 if not f.name.startswith("replay_")},
        "replayed": res.spec.replay_accepts is not None,
        **({"replay_missed_accepts": res.replay_missed}
           if res.spec.replay_accepts is not None else {}),
        "clients": len(res.clients),
        "connected": len(lat),
        "latency_s": pct,
        "syn_retransmissions": {str(k): v for k, v in sorted(syn_retx.items())},
        "completed_via_synack_retransmission": via_synack,
        "established_but_never_accepted": never_accepted,
        "failed": failed,
        "counters": counters,
        **({"response": response} if response is not None else {}),
        "recovery": {side: {k: cnt.get(k, 0) for k in RECOVERY_COUNTERS}
                     for side, cnt in (("server", sc), ("client", cc))},
        "drops": {"server": dict(sorted(res.server_drops.items(), key=lambda kv: -kv[1])),
                  "client": dict(sorted(res.client_drops.items(), key=lambda kv: -kv[1])),
                  **({"both": dict(sorted(res.traced_drops.items(), key=lambda kv: -kv[1]))}
                     if res.traced_drops is not None else {}),
                  **({"kernel_sites": res.traced_drop_sites}
                     if res.traced_drop_sites is not None else {}),
                  **({"kernel_first_s": res.traced_drop_first}
                     if res.traced_drop_first is not None else {}),
                  **({"kernel_resets": [list(r) for r in res.traced_resets]}
                     if res.traced_resets else {}),
                  **({"kernel_no_socket_after_close": res.traced_after_close}
                     if res.traced_after_close else {}),
                  **({"kernel_acks_in_close": res.traced_acks_in_close}
                     if res.traced_acks_in_close else {})},
        "peak": {"time": res.peak_time, "syn_queue": peak_synq, "accept_queue": peak_accq,
                 "ss": res.peak_ss, "proc_net_tcp": res.peak_proc},
        "queue_timeline": _timeline(res.samples),
        "flood_syns": res.flood_sent,
        "dmesg": res.dmesg,
        "explanation": explain(res, lat, syn_retx, failed, never_accepted),
        **({"agent_late_ms": {k: round(v * 1000, 2) for k, v in res.agent_late.items()},
            "late_connects": len(res.late_clients), "agent_cpus": res.agent_cpus,
            "agent_cpu_steal": round(res.agent_steal, 4)} if res.agent_late else {}),
        **({"kernel_relay": {**res.relay, **_lag_summary(res.link_lags)}}
           if res.relay else {}),
        **({"replayed_link_lags": len(res.spec.replay_link_lags)}
           if res.spec.replay_link_lags else {}),
    }


def _lag_summary(lags: list[tuple[int, int, int, int, int, float, float]] | None
                 ) -> dict[str, Any]:
    """How late the relay delivered the packets it timed (kernel.link_lags), beyond the
    link's delay: how many, and the median, 99th percentile and largest lag in us."""
    if not lags:
        return {}
    us = sorted(lag[5] * 1e6 for lag in lags)
    return {"lagged_packets": len(us),
            "lag_us": {"p50": round(us[percentile_rank(len(us), 50)], 1),
                       "p99": round(us[percentile_rank(len(us), 99)], 1),
                       "max": round(us[-1], 1)}}


def _timeline(samples: list[tuple[float, int, int]], rows: int = 12) -> list[tuple[float, int,
                                                                                 int]]:
    """A few evenly spaced samples up to the last time a queue was non-empty."""
    busy = [i for i, (_, s, a) in enumerate(samples) if s or a]
    if not busy:
        return []
    end = min(len(samples), busy[-1] + 2)
    step = max(1, end // rows)
    return [samples[i] for i in range(0, end, step)][:rows + 1]


def explain(res: ScenarioResult, lat: list[float], syn_retx: Counter[int],
            failed: dict[str, int], never_accepted: int = 0) -> str:
    spec = res.spec
    sc = res.server_counters
    somax = int(spec.sysctls.get("net.core.somaxconn", 4096))
    eff = spec.backlog if 0 <= spec.backlog <= somax else somax
    parts = []
    if eff != spec.backlog:
        parts.append(f"listen({spec.backlog}) was capped to {eff} by net.core.somaxconn, so "
                     f"each queue held {eff + 1} connections (backlog+1).")
    else:
        parts.append(f"listen({spec.backlog}) lets each queue hold {eff + 1} connections.")
    ovf = sc.get("TcpExt.ListenOverflows", 0)
    if ovf:
        parts.append(f"The accept queue was full {ovf} times when a SYN or third ACK arrived "
                     "(ListenOverflows): the kernel dropped those SYNs without an answer "
                     "(tcp_conn_request), so clients retransmitted them after 1, 2, 3 ... s "
                     "(tcp_syn_linear_timeouts keeps the first four retries 1 s apart).")
    retried = sum(v for k, v in syn_retx.items() if k)
    if retried:
        parts.append(f"{retried} of {len(lat)} connected clients needed at least one SYN "
                     "retransmission; each one adds about a second to connect().")
    drop = sc.get("TcpExt.TCPReqQFullDrop", 0)
    if drop:
        parts.append(f"The SYN queue was full and cookies were off: {drop} SYNs were dropped "
                     "(TCPReqQFullDrop).")
    ck = sc.get("TcpExt.SyncookiesSent", 0)
    if ck:
        parts.append(f"{ck} SYNs were answered with SYN cookies, so no state was kept for "
                     f"them; {sc.get('TcpExt.SyncookiesRecv', 0)} cookie ACKs came back valid "
                     "and became connections.")
    if res.flood_sent:
        parts.append(f"A spoofed flood sent {res.flood_sent} SYNs that nobody answered.")
    elif ck:
        parts.append("There was no flood: the SYN queue filled with requests whose third ACK "
                     "had been dropped because the accept queue was full (tcp_check_req keeps "
                     "them and resends the SYN-ACK), so the kernel switched to cookies and "
                     "logged 'Possible SYN flooding' anyway.")
    if never_accepted:
        parts.append(_never_accepted(res, never_accepted, ovf))
    if failed:
        why = ", ".join(f"{n} {k}" for k, n in failed.items())
        parts.append(f"Not connected: {why} ('pending' = still retrying at the end of the run; "
                     f"ETIMEDOUT after the last SYN retry at 131 s).")
    if not (ovf or drop or ck or failed):
        parts.append("No queue overflowed" + (
            "." if retried else ": every client connected on its first SYN."))
    if spec.response_bytes:
        parts.append(_responses(res))
    return " ".join(parts)


def _responses(res: ScenarioResult) -> str:
    """How the responses went and how their losses were repaired."""
    spec, sc = res.spec, res.server_counters
    whole = sum(1 for c in res.clients if c.completed is not None
                and c.received == spec.response_bytes)
    text = (f"Each accepted client was sent {spec.response_bytes:,} bytes with "
            f"{spec.congestion_control}; {whole} read a whole response.")
    fast, rto = sc.get("TcpExt.TCPFastRetrans", 0), sc.get("TcpExt.TCPTimeouts", 0)
    tlp = sc.get("TcpExt.TCPLossProbes", 0)
    if fast or rto or tlp:
        text += (f" The server repaired losses with {fast} fast retransmissions (segments "
                 f"RACK marked lost a reordering window after a later one was delivered), "
                 f"{tlp} tail loss probes ({sc.get('TcpExt.TCPLossProbeRecovery', 0)} of them "
                 f"repaired a loss alone) and {rto} retransmission timeouts (a lost SYN-ACK's "
                 f"among them: {sc.get('TcpExt.TCPSynRetrans', 0)} SYN-ACKs resent).")
    undo = sum(sc.get(k, 0) for _, k in UNDO[:4])
    if undo:
        text += (f" {undo} reductions of cwnd turned out needless (the original arrived: "
                 f"D-SACK, timestamps or F-RTO) and were undone.")
    return text


def _never_accepted(res: ScenarioResult, n: int, ovf: int) -> str:
    """Why `n` clients that connected were never accepted: a third ACK that met a full accept
    queue leaves the request in the SYN queue and the server resends its SYN-ACK
    (tcp_check_req, then the SYN-ACK timer); otherwise the connection was still waiting in
    the accept queue when the run ended."""
    resent = sum(1 for c in res.clients
                 if c.latency is not None and c.accepted is None and c.synack_retrans)
    text = (f"{n} clients saw their connect() succeed but the server never accepted the "
            "connection by the end of the run:")
    if resent:
        text += (f" {resent} had their third ACK dropped at a full accept queue "
                 "(tcp_abort_on_overflow=0 drops it silently; the server resent its SYN-ACK, "
                 "and their first data is retransmitted until the queue has room)")
    if n - resent:
        rest = f" {n - resent} were still waiting in the accept queue when it ended"
        if ovf:
            rest += (", or their third ACK was dropped there without a SYN-ACK resent yet (a "
                     "SYN cookie's ACK leaves no request to resend from; a request's first "
                     "resend comes a second later)")
        text += ("," if resent else "") + rest
    return text + "."


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code))
