"""`tuxtcp simulate --target both`'s comparison (issue 14's report fixes): clients compared
one by one with the reason for each difference, a table with units and differences, and a
kernel run that cannot be measured fairly ends with one line, not a traceback."""

from __future__ import annotations

import pytest
from rich.console import Console

from tuxtcp.sim.scenario import ClientResult
from tuxtcp.simulate import command, kernel
from tuxtcp.simulate.kernel import KernelRunError, client_differences
from tuxtcp.simulate.render import print_comparison


def _client(i: int, start: float, est: float | None, syn: int = 0,
            accepted: float | None = None) -> ClientResult:
    c = ClientResult(i, start, port=40000 + i, established=est, syn_retrans=syn)
    c.accepted = accepted
    return c


def test_clients_are_compared_one_by_one_with_the_reason() -> None:
    sim = [_client(0, 0.0, 0.001, accepted=0.002), _client(1, 0.1, 1.101, syn=1),
           _client(2, 0.2, 0.201, accepted=0.3), _client(3, 0.3, 0.350)]
    kern = [_client(0, 0.0, 0.0012, accepted=0.002), _client(1, 0.1, 0.102),
            _client(2, 0.2, 0.201), _client(3, 0.3, 0.302)]
    agree, diffs = client_differences(sim, kern)
    assert agree == 1
    assert [d["client"] for d in diffs] == [1, 2, 3]
    assert diffs[0]["why"] == "SYNs sent 2 vs 1; connect 1001.0 vs 2.0 ms"
    assert diffs[1]["why"] == "accepted in the simulation only"
    assert diffs[2]["why"] == "connect 50.0 vs 2.0 ms"
    # a kernel connect that started late is named
    assert client_differences(sim, kern, late={3: 0.0071})[1][2]["why"] == (
        "connect 50.0 vs 2.0 ms; kernel connect started 7.1 ms late")
    assert diffs[0]["sim"] == {"syn_retrans": 1, "synack_retrans": 0, "accepted": False,
                               "connect_ms": 1001.0, "outcome": "ok"}
    assert client_differences(sim, kern, limit=1)[1][0]["client"] == 1


def test_the_comparison_table_has_units_and_differences() -> None:
    out = {"comparison": [
        {"what": "server TcpExt.ListenOverflows", "sim": 1167, "kernel": 1170, "agrees": False},
        {"what": "latency p99", "sim": 3.0712, "kernel": 3.0701, "agrees": True},
        {"what": "latency p50", "sim": 0.001000000000000334, "kernel": 0.0011, "agrees": True},
        {"what": "response time p50", "sim": 0.3849, "kernel": 0.407, "agrees": False}],
        "clients_agreeing": {"agree": 1990, "of": 2000},
        "client_differences": [{"client": 7, "start_s": 0.0521, "why": "accepted in the "
                                "kernel only", "sim": {"syn_retrans": 0, "synack_retrans": 0,
                                                  "accepted": False, "connect_ms": 1.0,
                                                  "outcome": "ok"},
                                "kernel": {"syn_retrans": 0, "synack_retrans": 0,
                                           "accepted": True, "connect_ms": 1.1,
                                           "outcome": "ok"}}]}
    console = Console(record=True, width=160)
    print_comparison(console, out)
    text = console.export_text()
    assert "1,167" in text and "1,170" in text and "-3" in text and "DIFF" in text
    assert "3,071.2 ms" in text and "+1.1 ms" in text
    assert "1.0 ms" in text and "0.001000000000000334" not in text  # rounded, with its unit
    assert "server ListenOverflows" in text and "TcpExt" not in text  # the name, unwrapped
    assert "384.9 ms" in text and "-22.1 ms" in text
    assert "clients that agree" in text and "1990 of 2000" in text
    assert "accepted in the kernel only" in text and "52.1 ms" in text


def test_an_unfair_kernel_run_ends_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    def late(spec: object, pcap: str | None = None, replayed: bool = False) -> object:
        raise KernelRunError("the kernel's client agent started a connect 7.8 ms late (the "
                             "machine was busy), so the comparison would not be fair: run it "
                             "again, or a smaller scenario (fewer clients, a lower rate)")

    monkeypatch.setattr("tuxtcp.host.netns.available", lambda: None)
    monkeypatch.setattr(kernel, "run_on_kernel", late)
    assert command.simulate(["slow-accept", "--target", "both", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tuxtcp simulate --target both: the kernel's client agent started")


def test_late_connects_refuse_a_run_only_where_no_replay_follows_them() -> None:
    """A replay starts each client when the kernel's did, so late connects leave it fair;
    a run meant to follow the scenario's schedule is refused with over 1% of them more
    than 5 ms late (none under 100 clients), and any run where the host stole over 5% of
    the agents' CPU (the kernel's own timers waited too). Each refusal is one line that
    says what to do, marked `disturbed` (running it again may do)."""
    kernel.refuse_unfair(60, 2000, 0.025, 0.04, replayed=True)
    kernel.refuse_unfair(20, 2000, 0.025, 0.04, replayed=False)
    kernel.refuse_unfair(0, 20, 0.0, 0.0, replayed=False)
    for args in ((21, 2000, 0.025, 0.04, False), (1, 20, 0.006, 0.0, False)):
        with pytest.raises(KernelRunError) as e:
            kernel.refuse_unfair(*args)
        assert e.value.disturbed and "--target both" in str(e.value)
        assert "\n" not in str(e.value)
    for replayed in (True, False):
        with pytest.raises(KernelRunError) as e:
            kernel.refuse_unfair(0, 2000, 0.0, 0.06, replayed)
        assert e.value.disturbed and "steal" in str(e.value)


def test_a_run_whose_trace_is_not_whole_is_refused() -> None:
    """A trace whose ring buffer lost events, or that holds more connects than the run made
    (another run's, the tracepoints being machine-wide), would replay other instants than the
    kernel's: refused in one line, `disturbed`. One with fewer connects (none traced before
    the session began) is replayed from the agents' clocks, as before."""
    from tuxtcp.simulate.kernel_trace import TracedRun

    kernel.refuse_untraced(TracedRun(connects=[0.1] * 20), 20)
    kernel.refuse_untraced(TracedRun(connects=[0.1] * 19), 20)
    for run, says in ((TracedRun(connects=[0.1] * 20, lost=3), "lost 3 events"),
                      (TracedRun(connects=[0.1] * 34), "34 connects")):
        with pytest.raises(KernelRunError) as e:
            kernel.refuse_untraced(run, 20)
        assert e.value.disturbed and says in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(("extra", "link", "note"), [
    # 0.5 ms and no loss: a veth pair (5 us), whose delay the simulation takes
    ([], (0.000005, 0.0), "veth pair (5 us"),
    # loss: the userspace relay, with the scenario's own delay and loss on both sides
    (["--set", "loss=0.05"], (0.0005, 0.05), "userspace relay"),
    (["--set", "delay=0.02"], (0.02, 0.0), "20 ms one way"),
])
def test_both_replays_the_kernel_run_on_the_kernels_link(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        extra: list[str], link: tuple[float, float], note: str) -> None:
    """--target both: the kernel run's link is a veth below a millisecond of delay without
    loss (the simulation takes its 5 us, said in a note), else the userspace relay with the
    scenario's delay and loss; the simulation replays the kernel run's client and accept
    instants. The kernel run is stood in for by a simulation with the same instants, so every
    client agrees."""
    import dataclasses
    import json

    from tuxtcp.sim.scenario import run_scenario

    seen = {}

    def fake_kernel(spec: object, pcap: str | None = None, replayed: bool = False) -> object:
        seen["link"] = (spec.delay, spec.loss)  # type: ignore[attr-defined]
        seen["replayed"] = replayed
        # one jiffies phase for both hosts, as on one machine (a seeded world draws one each)
        res = run_scenario(dataclasses.replace(spec, uptime0=987.0))  # type: ignore[type-var]
        res.server_log = [(c.accepted, c.accepted + 0.0075) for c in
                          sorted(res.clients, key=lambda c: c.accepted or 0)
                          if c.accepted is not None]
        return dataclasses.replace(res, uptime0=res.uptime0)

    monkeypatch.setattr("tuxtcp.host.netns.available", lambda: None)
    monkeypatch.setattr(kernel, "run_on_kernel", fake_kernel)
    assert command.simulate(["slow-accept", "--target", "both", "--json", "--set",
                             "clients=60", "--set", "duration=5", *extra]) == 0
    out = json.loads(capsys.readouterr().out)
    assert seen == {"link": link, "replayed": True}
    assert note in out["notes"][0]
    assert out["sim"]["spec"]["delay"] == link[0] and out["sim"]["spec"]["loss"] == link[1]
    assert out["sim"]["replayed"] is True and out["sim"]["replay_missed_accepts"] == 0
    assert out["clients_agreeing"] == {"agree": 60, "of": 60}


@pytest.mark.parametrize(("extra", "duration"), [([], 13.0), (["--full-duration"], 30.0)])
def test_both_runs_the_kernel_until_the_clients_have_long_settled(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        extra: list[str], duration: float) -> None:
    """--target both runs in real time on the kernel: a burst of 10 clients accepted from 2 s
    has settled by 2.5 s in the simulation, so both sides run 13 s (10 s after that, in
    whole seconds) of the scenario's 30, with a note; --full-duration runs all 30."""
    import dataclasses
    import json

    from tuxtcp.sim.scenario import run_scenario

    seen: list[float] = []

    def fake_kernel(spec: object, pcap: str | None = None, replayed: bool = False) -> object:
        seen.append(spec.duration)  # type: ignore[attr-defined]
        res = run_scenario(dataclasses.replace(spec, uptime0=987.0))  # type: ignore[type-var]
        res.server_log = [(c.accepted, c.accepted + 0.05) for c in
                          sorted(res.clients, key=lambda c: c.accepted or 0)
                          if c.accepted is not None]
        return res

    monkeypatch.setattr("tuxtcp.host.netns.available", lambda: None)
    monkeypatch.setattr(kernel, "run_on_kernel", fake_kernel)
    assert command.simulate(["burst", "--target", "both", "--json", "--set", "clients=10",
                             "--set", "duration=30", *extra]) == 0
    out = json.loads(capsys.readouterr().out)
    assert seen == [duration]
    assert out["sim"]["spec"]["duration"] == duration
    window = [n for n in out.get("notes", []) if "of the scenario's" in n]
    assert window == ([] if extra else
                      ["both sides run 13 s of the scenario's 30 s: the simulation's clients "
                       "had settled and its queues emptied by 3 s, and the rest is idle "
                       "(--full-duration runs all of it)"])
    assert out["clients_agreeing"] == {"agree": 10, "of": 10}


def test_the_window_of_a_run_without_clients_or_with_one_still_connecting() -> None:
    from tuxtcp.sim.scenario import ScenarioSpec, run_scenario

    idle = ScenarioSpec(clients=0, duration=30.0)
    assert kernel.kernel_window(idle, run_scenario(idle)) == 10.0
    # nobody accepts a listen(1) that holds two: the third client's SYNs, 10 ms after the
    # second, meet the full accept queue to the end (its connect() would fail only at 11 s)
    stuck = ScenarioSpec(clients=3, arrival="burst", burst_spacing=0.01, backlog=1,
                         accept_start=100.0, duration=5.0)
    res = run_scenario(stuck)
    assert [c.established is None for c in res.clients] == [False, False, True]
    assert kernel.kernel_window(stuck, res) == 5.0


def test_the_report_shows_the_relays_lags_and_the_replay_that_followed_them() -> None:
    """A kernel run over the relay reports each packet's lag beyond the delay (how many, the
    median, 99th percentile and largest, in us); the replay says it followed them."""
    import dataclasses

    from tuxtcp.sim.scenario import ScenarioSpec, run_scenario
    from tuxtcp.simulate.render import print_report
    from tuxtcp.simulate.report import summarize

    spec = ScenarioSpec(clients=3, arrival="uniform", rate=10.0, delay=0.02, duration=2.0,
                        uptime0=987.0)
    res = run_scenario(spec)
    lags = [(1, 2, 3, 4, n, lag, 0.1) for n, lag in enumerate([0.00009, 0.0001, 0.0021])]
    kern = dataclasses.replace(res, agent_late={"client": 0.0, "server": 0.0},
                               relay={"forwarded": 12, "lost": 0, "spoofed": 0,
                                      "late_over_1ms": 1, "worst_late_ms": 2.1},
                               link_lags=lags)
    out = summarize(kern)
    assert out["kernel_relay"]["lagged_packets"] == 3
    assert out["kernel_relay"]["lag_us"] == {"p50": 100.0, "p99": 2100.0, "max": 2100.0}
    replay = summarize(run_scenario(dataclasses.replace(spec, replay_link_lags=lags)))
    assert replay["replayed_link_lags"] == 3
    console = Console(record=True, width=300)  # (one line each)
    print_report(console, out)
    print_report(console, replay)
    text = console.export_text()
    assert "median 100 us, 99th percentile 2,100 us, at most 2,100 us, over 3 packets" in text
    assert "replayed link: 3 packets as late as the kernel run's relay delivered them" in text
