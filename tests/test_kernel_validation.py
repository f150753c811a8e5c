"""`tuxtcp simulate --target kernel`: the same scenarios on the host kernel, in namespaces.

Counters must match exactly; connect-latency percentiles within 5% (or 10 ms for sub-second
values: see simulate/kernel.py:compare). Needs root: runs in CI, skips elsewhere with the reason.
"""

import dataclasses

import pytest

from tuxtcp.sim.scenario import run_scenario
from tuxtcp.simulate.command import COMPARED_COUNTERS
from tuxtcp.simulate.kernel import KernelRunError, client_differences, compare, run_on_kernel
from tuxtcp.simulate.presets import VALIDATION, build_spec
from tuxtcp.simulate.report import summarize


@pytest.mark.root
@pytest.mark.parametrize("scenario", ["burst", "slow-accept", "syn-flood"])
def test_simulation_matches_kernel(netns_ok: None, scenario: str) -> None:
    spec = build_spec(scenario, None, VALIDATION[scenario])
    # A run where an agent started late (machine busy) is not a fair measurement: the harness
    # raises rather than compare it; measure again (at most 3 times). Assertions are not retried.
    for attempt in range(3):
        try:
            kres = run_on_kernel(spec)
            break
        except KernelRunError as exc:
            if "late" not in str(exc) or attempt == 2:
                raise
    kern = summarize(kres)
    # the simulation starts at the kernel run's jiffies phase (timer-wheel buckets line up)
    sres = run_scenario(dataclasses.replace(spec, uptime0=kres.uptime0))
    sim = summarize(sres)
    rows = compare(sim, kern, COMPARED_COUNTERS)
    bad = [r for r in rows if not r[3]]
    assert not bad, bad
    # client by client: the same SYN retransmissions, accepted or not, connect time
    agree, diffs = client_differences(sres.clients, kres.clients)
    assert agree == spec.clients, diffs
    # the kernel side's own facts: every connection it accepted has its accept instant
    assert sum(1 for c in kres.clients if c.accepted is not None) == \
        sum(1 for c in sres.clients if c.accepted is not None)
    # trace-driven: the kernel run's client instants and accept instants replayed give the
    # same counters and the same clients, with no replayed accept finding an empty queue
    rres = run_scenario(dataclasses.replace(
        spec, uptime0=kres.uptime0, replay_starts=[c.start for c in kres.clients],
        replay_accepts=list(kres.server_log)))
    replay = summarize(rres)
    bad = [r for r in compare(replay, kern, COMPARED_COUNTERS) if not r[3]]
    assert not bad, bad
    agree, diffs = client_differences(rres.clients, kres.clients, late=kres.late_clients)
    # the replayed accept instants are the agent's, taken a little after the kernel's: a
    # retransmitted SYN landing within that gap can meet a different queue (seen: 2 of 10)
    assert agree >= 0.8 * spec.clients, diffs
    assert rres.replay_missed == 0
    # the scenario did exercise the mechanism it is named after
    srv = kern["counters"]["server"]
    if scenario == "syn-flood":
        assert srv["TcpExt.SyncookiesRecv"] == spec.clients
    else:
        assert srv["TcpExt.ListenOverflows"] > 0
