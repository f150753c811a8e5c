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


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(len(s) * p / 100) - 1))
    return s[k]


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
                     if res.traced_after_close else {})},
        "peak": {"time": res.peak_time, "syn_queue": peak_synq, "accept_queue": peak_accq,
                 "ss": res.peak_ss, "proc_net_tcp": res.peak_proc},
        "queue_timeline": _timeline(res.samples),
        "flood_syns": res.flood_sent,
        "dmesg": res.dmesg,
        "explanation": explain(res, lat, syn_retx, failed, never_accepted),
        **({"agent_late_ms": {k: round(v * 1000, 2) for k, v in res.agent_late.items()},
            "late_connects": len(res.late_clients)} if res.agent_late else {}),
        **({"kernel_relay": res.relay} if res.relay else {}),
    }


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
        parts.append("No queue overflowed: every client connected on its first SYN.")
    return " ".join(parts)


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
