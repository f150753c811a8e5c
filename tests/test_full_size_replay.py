"""Every preset at full size against the kernel, replayed (`tuxtcp simulate PRESET --target both`).

The kernel run records each accept instant (with its service end) and, through tracefs, the
kernel's drops by reason, the SYN-ACKs resent to each client, the instant each client's SYN
went out and each client's established instant, and the jiffies the kernel read as it armed
each SYN's timer (the replay's jiffies phase follows them); the simulation replays those
instants, each client from the kernel client's port, over the kernel's link: a veth (5 us)
where the preset's delay is under a millisecond, else the userspace relay over two TUN devices
(lossy-link: 20 ms one way, 5% loss, each packet's fate decided per flow as the simulation's
link decides it: this kernel has no netem), each packet as late on the simulation's link as
the relay delivered it after the kernel queued it (traced: kernel.link_lags). What is left
to differ is the engine's.

Each preset states what must agree (`BARS`): the compared counters and the drops by reason
within `slack` (0: equal), and a share of the clients one by one. Where the issue's bar (equal,
99%) is not met yet, the preset's entry says so and why; those are the gaps to close, not
tolerances to keep. A kernel run disturbed by this shared 2-core machine (the host stole
over 5% of the agents' CPU, or other TCP traffic: the harness refuses it) is measured again,
and so is one that misses its bar: three measured runs (five in all, refused ones included),
one of which must meet it. Connects the agent started late are no reason to refuse a run
here (kernel.refuse_unfair): the replay starts each client when the kernel's SYN left (a CI
run of 2026-12-03 had every one of its five slow-accept and lossy-link runs refused for
them, 8-89 connects 5-25 ms late, and failed without a measurement). Each preset
runs all its clients in the window `--target both` runs it in, which ends once they are long
done (kernel.kernel_window; the presets' own durations leave the kernel run idle for up to
55 s). The agents that make the traffic
share one CPU (the kernel then takes their segments in the order they were sent, as the
simulation does); the queue sampler and the trace reader run on the others. Single runs
missed by a client or two now and then (seen: burst 36 of 40 clients and ListenOverflows 86
against 85, before the established instants were the kernel's own; capped-backlog 591 of
600, its p90 on the step between clients that waited a second and those that did not;
burst 30 of 40 when /proc/timer_list put the run a jiffy ahead, every SYN timer a bucket
late, before the kernel's own jiffies set the phase; capped-backlog 595 and 599 of 600 from
the agent's connect instants, 598 and 600 from the traced ones).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from typing import Any, NamedTuple

import pytest

from tuxtcp.sim.scenario import ScenarioResult, ScenarioSpec, run_scenario
from tuxtcp.simulate.command import COMPARED_COUNTERS, KERNEL_VETH_DELAY
from tuxtcp.simulate.flowdiff import compare_flows, read_flows
from tuxtcp.simulate.kernel import (
    KernelRunError,
    client_differences,
    compare,
    cut_short,
    kernel_window,
    replay_spec,
    run_on_kernel,
    times_close,
)
from tuxtcp.simulate.kernel_relay import relayed
from tuxtcp.simulate.presets import build_spec
from tuxtcp.simulate.report import percentile_rank, summarize


class Bar(NamedTuple):
    clients: float  # share of clients that must agree one by one
    slack: float  # counters and drops may differ by this share of the kernel's value (and 2)
    # drop reasons also compared as one sum, and one by one within `per_client` per client
    # that differs
    split: frozenset[str] = frozenset()
    why: str = ""
    percentiles: tuple[str, ...] = ("p50", "p90", "p99")  # connect latency, within 5%/10 ms
    # `split` (its sum, and each of its reasons) may differ by this many per client that differs
    per_client: int = 0
    # each counter and drop reason may differ by this many per client that differs (listed)
    counters_per_client: int = 0
    missed: float = 0.01  # share of replayed accepts that may find no connection
    teardown: float = 0.01  # TEARDOWN's sum may differ by this share (and 2)


# The frees that end a connection, compared as one sum (within 2 + 1%) in every preset: the
# server's connection takes the client's FIN as a full FIN_WAIT2 socket and frees it with the
# socket (QUEUE_PURGE), or, when the client's ACK came first on its own, as a timewait sock
# (NOT_SPECIFIED in tcp_v4_rcv). Which one depends on whether a jiffy tick (the client's
# delayed ACK) falls between the server's FIN and the client's close: the replay closes each
# client as long after the FIN as the kernel's did (both instants traced), which brought the
# split close (capped-backlog 561/39 against 572/28, slow-accept 1,769/89 against 1,815/66;
# before: 53 and 81 NOT_SPECIFIED against 28 and 39) but not equal; over the veth each FIN
# now reaches the client when the kernel's did (kernel._server_log: slow-accept 1,727/146
# against 1,731/142, 1,706/163 against 1,713/156). The kernel side also has
# what this 2-CPU machine reorders: a client's delayed ACK of the server's FIN (softirq, one
# CPU) and its close()'s FIN right after (the other CPU) can reach the server in the other
# order (seen in a packet capture), and the late ACK meets the server's full socket already
# closed (TCP_CLOSE, 1-4 a run), or its TIME_WAIT socket (TCP_RFC7323_TW_PAWS when the FIN
# carried a newer timestamp), which answers it with an ACK the closed client frees as
# NO_SOCKET: those NO_SOCKETs, told apart by the client port's traced LAST_ACK
# (`kernel_no_socket_after_close`), count here too. (capped-backlog's CI run of 2345608 had
# one in each of its three kernel runs; locally 3 of 5.)
TEARDOWN = frozenset({"QUEUE_PURGE", "NOT_SPECIFIED", "TCP_CLOSE", "TCP_RFC7323_TW_PAWS"})
# and of those, the two a teardown the kernel's host kept in order ends with: the client's FIN
# freed with a full socket (QUEUE_PURGE) or by a timewait sock (NOT_SPECIFIED), compared one by
# one (in _problems). Which it is the replay follows from the kernel's own instants: the
# server's FIN reaching the client, the client's close, whether the client's delayed ACK of
# that FIN went out alone (ScenarioRun._hold_fin_acks) and whether the server's close() still
# held its socket when that ACK came (replay_ack_in_release).
SPLIT = ("QUEUE_PURGE", "NOT_SPECIFIED")
# an ACK that met a full accept queue (TCP_LISTEN_OVERFLOW, then the client's TCP_INVALID_SYN
# for the SYN-ACK that follows) against a SYN that did, which has no drop reason
OVERFLOWS = frozenset({"TCP_LISTEN_OVERFLOW", "TCP_INVALID_SYN"})

BARS = {
    "burst": Bar(0.99, 0.0),
    "syn-flood": Bar(0.99, 0.0),
    "lossy-link": Bar(
        0.99, 0.0, frozenset({"TCP_INVALID_SYN"}),
        "a client that differs (under 1% do) may see one SYN-ACK more or less, which it frees "
        "as TCP_INVALID_SYN. Every other drop reason equal, the teardown's two frees one by "
        "one too, since a tail loss probe's ACK is no RTT sample (Karn: the TCP metrics "
        "cache, and so the next clients' FIN timers, had parted from the kernel's) and each "
        "packet reaches its peer when the kernel took it in (traced; a packet the replay sent "
        "when the kernel's went arrives then: Link.lags), each client's SYN leaving when the "
        "kernel queued it and its FIN's timer armed when the kernel's close() armed it: 19 "
        "of 20 kernel runs of 2026-12-05 replayed so (17 without the last two, 7 with the "
        "probe's ACK taken as a sample). Before, "
        "TCP_OLD_DATA was allowed one per flow whose server sent its FIN a different number "
        "of times, and the teardown compared as a sum (off by up to 1)",
        per_client=1),
    "capped-backlog": Bar(
        0.99, 0.0, OVERFLOWS,
        "a client that differs (under 1% do) can move its overflow between its final ACK "
        "(two drops: TCP_LISTEN_OVERFLOW, then its own TCP_INVALID_SYN for the SYN-ACK that "
        "follows) and its SYN (no drop reason), ListenOverflows staying equal (seen: 32 drops "
        "against 28 with every counter equal)", per_client=2),
    "slow-accept": Bar(
        0.99, 0.0, OVERFLOWS,
        "1,993-2,000 of 2,000 clients agree on a quieter host (nine runs; 1,947-1,987 when the "
        "replay took the agent's clock reading before connect() as the connect instant, and "
        "its jiffies from /proc/timer_list alone), 1,956-2,000 on a noisier one (ten runs, "
        "eight at 99% or more); where a client differs, it can move a counter by one (seen: "
        "ListenOverflows 935 against 934 with 7 clients differing). The SYN cookies too, "
        "since the replay's clients take their SYN-ACKs when the kernel's clients did "
        "(ScenarioRun._hold_synack) and a tick's resends wait for a connect() or accept() "
        "the kernel made before its timer softirq ran (_user_before_softirq): the SYN "
        "queue stays at its limit for seconds, and whether a SYN finds it over the limit (a "
        "cookie) or at it (a request, the same outcome for the client) moved with such "
        "orders. Before, within 40%: DoCookies 163/218 and 165/176 on two of 18 kernel runs "
        "(2026-12-04); with both, 40 saved runs replayed: 29 with all 2,000 clients and "
        "every counter equal, 39 meeting this bar (the other 163/162, every client "
        "agreeing). Where a tick's softirq ran inside an accept() the replay takes the "
        "call's return (traced_accepts), and a tick's resends follow a connect() that took "
        "its SYN-ACK ahead of them (connects_first): of 22 kernel runs of 2026-12-05, 14 "
        "with all 2,000 clients and every counter equal (11 before; DoCookies 173 against "
        "155 on one of the three), 21 meeting this bar either way. Over the veth the trace "
        "also follows packets through NET_RX (net_dev_queue, netif_receive_skb): each client "
        "starts when its connect() queued its SYN, a SYN timer fires on the kernel's tick a "
        "wheel bucket late too, and each resent SYN and SYN-ACK and each handshake's ACK "
        "reaches its peer when the kernel's NET_RX took it in, packets with no such instant "
        "behind those queued before them (ScenarioRun._hold_in_backlog): 12 new kernel runs "
        "of 2026-12-05, 11 with all 2,000 clients and every counter equal (10 the earlier "
        "way), all 12 meeting this bar (11). Each accept dequeues when the kernel's call "
        "did (traced: its request's free, or its file where a tick's softirq ran in "
        "release_sock; kernel_trace.dequeue): of 70 later kernel runs, all 70 with every "
        "client and counter equal (64 at the entry or return). The teardown's two frees are "
        "compared one by one too since each FIN's delayed ACK follows the "
        "kernel's: held past the client's close where the kernel's never went out alone "
        "(ScenarioRun._hold_fin_acks), taken by a server socket its close() still held where "
        "the kernel's close() took it as it gave the socket up (replay_ack_in_release); and a "
        "NET_RX softirq left pending in an accept() runs before its dequeue (in lock_sock): "
        "18 kernel runs of 2026-12-05 with every client, counter and drop equal "
        "(NOT_SPECIFIED 1-7 over on each without the held delayed ACKs)", per_client=2,
        counters_per_client=1),
}


RUNS = 3  # kernel runs measured against the bar, one of which must meet it
# kernel runs in all, the refused ones included: on a noisy day (2026-12-03) three of five
# slow-accept runs in a row were refused for late connects or steal, and three refused runs
# failed the test without a measurement
ATTEMPTS = 5


def _spec(preset: str) -> ScenarioSpec:
    """The preset on the kernel's link, in the window `tuxtcp simulate PRESET --target both`
    runs (kernel_window: until the clients of a simulation of the preset have long settled;
    burst 16 s of 60, capped-backlog 13 of 60, lossy-link 17 of 60, slow-accept 31 of 40,
    syn-flood all its 40: the flood's requests resend SYN-ACKs until then)."""
    spec = build_spec(preset, None, [])
    if not relayed(spec):
        spec = dataclasses.replace(spec, delay=KERNEL_VETH_DELAY)
    return dataclasses.replace(spec, duration=kernel_window(spec, run_scenario(spec)))


def _cut_short(spec: ScenarioSpec, kres: ScenarioResult) -> list[object]:
    """Clients of the kernel run that the window may have cut short: still connecting at its
    end, or established within QUIET_S of it."""
    late = cut_short(spec.duration, kres)
    return [("clients still connecting near the window's end", late)] if late else []


def _pcap_off_the_clock(path: str, kres: ScenarioResult) -> list[object]:
    """Whether the relay's pcap (`--kernel-pcap`) is on the run's clock: each client's first
    SYN there within 2 ms (the median) of the instant the trace gave for it leaving."""
    with open(path, "rb") as f:
        first = {fl.client[1]: fl.packets[0].t for fl in read_flows(f).values()
                 if fl.packets and fl.packets[0].flags == "S"}
    off = sorted(abs(first[c.port] - c.start) for c in kres.clients if c.port in first)
    if len(off) > len(kres.clients) // 2 and off[len(off) // 2] < 0.002:
        return []
    return [("the kernel run's pcap is off the run's clock", len(off), off[len(off) // 2:][:3])]


def _lags_missing(kres: ScenarioResult) -> list[object]:
    """Whether a relayed run's replay has the relay's lag for (nearly) every packet it
    delivered: the relay lists each read (`reads`) and the trace each queueing on its
    devices, paired by kernel.link_lags (a packet no later than `delay` has no entry)."""
    relay = kres.relay or {}
    lags = kres.link_lags or []
    if len(lags) >= 0.9 * relay.get("forwarded", 0) and not relay.get("reads_cut"):
        return []
    return [("the relay's lags are missing for the replay", len(lags), relay.get("forwarded"))]


def _replay(spec: ScenarioSpec, kres: ScenarioResult, pcap: str | None = None
            ) -> ScenarioResult:
    return run_scenario(replay_spec(spec, kres), pcap)


def _close(a: int, b: int, slack: float) -> bool:
    return a == b if not slack else abs(a - b) <= max(2, slack * b)


def _on_a_step(name: str, kernel_value: float | None, sres: ScenarioResult,
               differ: int) -> bool:
    """Whether a percentile that misses its tolerance (`times_close`) sits on a step that the
    `differ` clients which differ (held to the clients' bar already) explain: each can move
    the simulation's sorted latencies by one rank, so the kernel's value must be close to the
    simulation's at a rank no further than that many from the percentile's.
    (seen: lossy-link's p90 0.040 against 1.043 s with 299 of 300 clients agreeing: 30 and 31
    clients of 300 waited for a resent SYN, the 10% mark between them)."""
    lat = sorted(c.latency for c in sres.clients if c.latency is not None)
    if kernel_value is None or not lat:
        return False
    k = percentile_rank(len(lat), float(name[1:]))
    return any(times_close(v, kernel_value) for v in lat[max(0, k - differ):k + differ + 1])


def _flows_apart(kernel_pcap: str, sim_pcap: str) -> list[object]:
    """The flows whose packets differ between the kernel run's capture (the relay's) and the
    replay's, each from its first difference (the first three): what a relayed run that
    misses its bar parted on."""
    with open(kernel_pcap, "rb") as f:
        theirs = read_flows(f)
    with open(sim_pcap, "rb") as f:
        ours = read_flows(f)
    apart = compare_flows(theirs, ours)
    return [("flows that differ, kernel then replay", len(apart),
             [(d.name[1], [str(p) for p in d.a[d.index:d.index + 3]],
               [str(p) for p in d.b[d.index:d.index + 3]]) for d in apart[:3]])]


def _problems(bar: Bar, sim: dict[str, Any], kern: dict[str, Any],
              sres: ScenarioResult, kres: ScenarioResult) -> list[object]:
    """What misses the bar: the command's comparison rows (`compare`), held to the preset's
    slack, its percentiles and its drop groups, then the clients one by one."""
    assert kern["drops"].get("both") is not None, "the kernel run was not traced (tracefs)"
    out: list[object] = []
    ours: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    agree, diffs = client_differences(sres.clients, kres.clients, late=kres.late_clients)
    differ = len(kres.clients) - agree
    for what, a, b, ok in compare(sim, kern, COMPARED_COUNTERS):
        kind, _, name = what.partition(" ")
        if kind == "drops":
            ours[name], theirs[name] = a, b
        elif kind == "latency":
            if name in bar.percentiles and not ok and not _on_a_step(name, b, sres, differ):
                out.append(("latency", name, a, b))
        elif not _close(a, b, bar.slack) and abs(a - b) > bar.counters_per_client * differ:
            out.append((kind, name, a, b))  # a counter of the server or the client
    after_close = kern["drops"].get("kernel_no_socket_after_close", 0)
    theirs["NO_SOCKET"] -= after_close
    sites = kern["drops"].get("kernel_sites", {})
    for reason in ours:
        moved = bar.counters_per_client * differ
        if reason in bar.split:  # (as a sum below; one by one, where a client differs, as much)
            moved = max(moved, bar.per_client * differ)
        if (reason not in TEARDOWN
                and not _close(ours[reason], theirs[reason], bar.slack)
                and abs(ours[reason] - theirs[reason]) > moved):
            # where the kernel freed them, to tell the run's own drops from the machine's
            out.append(("drops", reason, ours[reason], theirs[reason], sites.get(reason, {}),
                        kern["drops"].get("kernel_first_s", {}).get(reason, []),
                        kern["drops"].get("kernel_resets", [])))
    moved = bar.per_client * differ
    for group, slack, extra in ((TEARDOWN, max(bar.slack, bar.teardown), 0),
                                (bar.split, bar.slack, moved)):
        a = sum(ours[r] for r in group)
        b = sum(theirs[r] for r in group) + (after_close if group is TEARDOWN else 0)
        if group and not _close(a, b, slack) and abs(a - b) > extra:
            out.append(("drops", "+".join(sorted(group)), a, b))
    # the teardown's two frees (SPLIT) one by one, each within one per teardown the kernel's
    # host reordered (its TCP_CLOSE, TCP_RFC7323_TW_PAWS and late NO_SOCKET drops) and
    # `per_client` per client that differs
    reordered = (theirs["TCP_CLOSE"] + theirs["TCP_RFC7323_TW_PAWS"] + after_close
                 + bar.per_client * differ)
    for reason in SPLIT:
        if abs(ours[reason] - theirs[reason]) > reordered:
            out.append(("drops", reason, ours[reason], theirs[reason]))
    if agree < bar.clients * len(kres.clients):
        out.append(("clients", agree, len(kres.clients), diffs))
    if sres.replay_missed > bar.missed * len(kres.clients):
        out.append(("replayed accepts that found no connection", sres.replay_missed))
    return out


@pytest.mark.root
@pytest.mark.parametrize("preset", list(BARS))
def test_full_size_replay_agrees_with_the_kernel(netns_ok: None, preset: str,
                                                 tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Relayed presets also record the relay's pcap (`--kernel-pcap`), checked to be on the
    run's clock, and the replay's: a run that misses its bar lists the flows that differ."""
    spec, bar = _spec(preset), BARS[preset]
    pcap = str(tmp_path / "kernel.pcap") if relayed(spec) else None
    attempts: list[object] = []
    measured = 0
    for _ in range(ATTEMPTS):
        if measured == RUNS:
            break
        try:
            kres = run_on_kernel(spec, pcap, replayed=True)
        except KernelRunError as exc:
            if not exc.disturbed:
                raise
            attempts.append(str(exc))  # a busy machine: measured again
            continue
        measured += 1
        sim_pcap = str(tmp_path / "replay.pcap") if pcap is not None else None
        sres = _replay(spec, kres, sim_pcap)
        # the accept instants the replay takes are the kernel's (traced: each call's dequeue)
        problems = [] if kres.accepts_traced else [("the accept instants are not traced",)]
        problems += _cut_short(spec, kres)
        if pcap is not None:
            problems += _pcap_off_the_clock(pcap, kres) + _lags_missing(kres)
        problems += _problems(bar, summarize(sres), summarize(kres), sres, kres)
        if problems and pcap is not None and sim_pcap is not None:
            problems += _flows_apart(pcap, sim_pcap)
        if not problems:
            if attempts:  # what the runs before it missed, in the test's report
                warnings.warn(f"{preset}: run {len(attempts) + 1} met the bar after: "
                              + "; ".join(f"run {i + 1}: {a}" for i, a in enumerate(attempts)),
                              stacklevel=1)
            return
        attempts.append(problems)
    pytest.fail(f"{preset}: no kernel run of {len(attempts)} met the bar "
                f"({bar.why or 'equal, 99%'}):\n"
                + "\n".join(f"run {i + 1}: {a}" for i, a in enumerate(attempts)), pytrace=False)
