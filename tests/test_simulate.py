"""`tuxtcp simulate`: presets, TOML, overrides, report, JSON, plot, pcap, sweep."""

import csv
import json

import pytest

from tuxtcp.cli import main
from tuxtcp.sim.scenario import ScenarioRun, ScenarioSpec, run_scenario
from tuxtcp.simulate.presets import PRESETS, build_spec
from tuxtcp.simulate.report import percentile, summarize


def test_percentile_nearest_rank() -> None:
    vals = [float(v) for v in range(1, 101)]
    assert percentile(vals, 50) == 50 and percentile(vals, 99) == 99
    assert percentile(vals, 100) == 100 and percentile([], 50) is None


def test_build_spec_preset_toml_and_overrides() -> None:
    toml = """
[scenario]
preset = "burst"
clients = 12
backlog = 3
[sysctl]
"net.ipv4.tcp_syncookies" = 0
"""
    spec = build_spec(None, toml, ["workers=2", "net.core.somaxconn=64"])
    assert (spec.name, spec.clients, spec.backlog, spec.workers) == ("burst", 12, 3, 2)
    assert spec.sysctls == {"net.ipv4.tcp_syncookies": 0, "net.core.somaxconn": 64}
    with pytest.raises(ValueError):
        build_spec("nope")
    with pytest.raises(ValueError):
        build_spec("burst", None, ["colour=blue"])


def test_burst_attribution_matches_the_kernel_story() -> None:
    # listen(2): 3 connect at once; the server only starts accepting at 2.5 s. The others are
    # dropped (ListenOverflows) and retry at ~1, 2, 3 s; by 3 s there is room.
    spec = build_spec("burst", None, ["clients=8", "backlog=2", "accept_start=2.5",
                                      "workers=8", "service_time=0", "duration=8",
                                      "timer_model=exact"])
    s = summarize(run_scenario(spec))
    assert s["connected"] == 8
    assert s["syn_retransmissions"] == {"0": 3, "3": 5}
    assert s["counters"]["server"]["TcpExt.ListenOverflows"] == 15
    assert "ListenOverflows" in s["explanation"]
    assert s["latency_s"]["p99"] == pytest.approx(3.0 + 0.001, abs=0.002)


def test_capped_backlog_is_explained() -> None:
    s = summarize(run_scenario(build_spec("capped-backlog", None, ["clients=50"])))
    assert "capped to 64 by net.core.somaxconn" in s["explanation"]


def test_syncookies_off_flood_fails_clients() -> None:
    spec = build_spec("syn-flood", None, ["clients=40", "duration=6", "flood_duration=6",
                                          "net.ipv4.tcp_syncookies=0"])
    s = summarize(run_scenario(spec))
    assert s["counters"]["server"]["TcpExt.TCPReqQFullDrop"] > 1000
    assert s["failed"].get("pending", 0) > 30


def test_same_seed_same_report() -> None:
    spec = build_spec("slow-accept", None, ["clients=80"])
    a, b = summarize(run_scenario(spec)), summarize(run_scenario(spec))
    assert a["latency_s"] == b["latency_s"] and a["counters"] == b["counters"]


def test_cli_json_plot_pcap(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    png, pcap = tmp_path / "run.png", tmp_path / "run.pcap"
    rc = main(["simulate", "burst", "--set", "clients=10", "--json", "--plot", str(png),
               "--pcap", str(pcap)])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sim"]["clients"] == 10 and out["sim"]["connected"] == 10
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert pcap.stat().st_size > 1000


def test_cli_report_and_list(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["simulate", "list"]) == 0
    assert set(PRESETS) <= set(capsys.readouterr().out.split())
    assert main(["simulate", "slow-accept", "--quiet", "--set", "clients=30"]) == 0
    text = capsys.readouterr().out
    assert "What the kernel did" in text and "LISTEN" in text and "p99" in text


def test_cli_bad_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["simulate", "nope"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    # the kernel run's pcap comes from its relay: not for the simulation alone, not over a veth
    assert main(["simulate", "lossy-link", "--kernel-pcap", "k.pcap"]) == 2
    assert "--kernel-pcap records the kernel run's relay" in capsys.readouterr().err
    assert main(["simulate", "burst", "--target", "both", "--kernel-pcap", "k.pcap"]) == 2
    assert "--kernel-pcap records the kernel run's relay" in capsys.readouterr().err


def test_sweep_csv_and_plot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    rc = main(["simulate", "sweep", "burst", "--set", "clients=10", "--grid", "backlog=1,4",
               "--grid", "net.ipv4.tcp_syncookies=0,1", "--jobs", "2", "--csv", str(out),
               "--plot", str(png)])
    assert rc == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4 and {r["backlog"] for r in rows} == {"1", "4"}
    assert png.exists()


def test_spec_validation() -> None:
    with pytest.raises(ValueError):
        ScenarioSpec(arrival="weibull")
    for bad in ("0", "-1", "nan", "1e-9"):  # 0 used to sample forever at one instant
        with pytest.raises(ValueError, match="sample_interval must be over 0 s"):
            build_spec("burst", None, [f"sample_interval={bad}"])
    assert build_spec("burst", None, ["sample_interval=0.001"]).sample_interval == 0.001


def test_clients_on_many_addresses_sharing_ports_are_attributed_apart() -> None:
    # 8 source addresses and a 4-port range: the same port is in use from several addresses
    # at once. Every accepted connection must be credited to its own client (keyed by address
    # and port), so each client is accepted exactly once and none is left unaccounted.
    spec = ScenarioSpec(clients=32, arrival="burst", backlog=64, client_addresses=8,
                        accept_start=0.01, duration=2.0,
                        sysctls={"net.ipv4.ip_local_port_range": "40000 40003"})
    res = run_scenario(spec)
    assert all(c.outcome == "ok" for c in res.clients)
    assert len({(c.index % 8, c.port) for c in res.clients}) == 32
    assert len({c.port for c in res.clients}) == 4
    assert all(c.accepted is not None for c in res.clients)
    assert res.server_counters["Tcp.PassiveOpens"] == 32


def test_the_address_map_keeps_only_clients_in_flight() -> None:
    # A client that closes after the server took its connection leaves the map of clients by
    # address and port; the ones the server never took stay (a SYN-ACK resent to them is still
    # theirs). 24 clients on one address and a 4-port range, 50 ms apart on average, take
    # turns on its two even ports (__inet_hash_connect tries the low end's parity first).
    spec = ScenarioSpec(clients=24, arrival="poisson", rate=20.0, backlog=64,
                        client_addresses=1, duration=5.0,
                        sysctls={"net.ipv4.ip_local_port_range": "40000 40003"})
    run = ScenarioRun(spec)
    res = run.run()
    done = [c for c in res.clients if c.accepted is not None and c.outcome == "ok"]
    assert len(done) == 24 and {c.port for c in done} == {40000, 40002}
    assert run._by_addr == {}
    # listen(1) with the accept loop never started: no client is taken, every one stays
    spec = ScenarioSpec(clients=6, arrival="burst", backlog=1, client_addresses=1,
                        accept_start=10.0, duration=2.0)
    run = ScenarioRun(spec)
    res = run.run()
    assert all(c.accepted is None for c in res.clients)
    assert sorted(run._by_addr.values(), key=lambda c: c.index) == [
        c for c in res.clients if c.port]


def test_the_console_script_leaves_the_run_out_of_the_final_collection(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # what the command built is frozen before the interpreter exits, so its final collection
    # does not walk it (a 1M-connection simulation: about a second)
    import gc

    import tuxtcp.cli as cli

    monkeypatch.setattr(cli, "main", lambda: 0)
    assert gc.get_freeze_count() == 0
    try:
        assert cli.run() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_plots_zoom_to_the_activity_and_log_geometric_grids() -> None:
    from tuxtcp.simulate.plot import activity_window, geometric

    quiet = [(i * 0.05, 0, 0) for i in range(1200)]  # 60 s
    busy = [(t, 3 if 2.0 <= t <= 6.5 else 0, 0) for t, _, _ in quiet]
    lo, hi = activity_window(busy, 60.0)
    assert 1.5 <= lo < 2.0 and 6.5 < hi <= 7.0
    assert activity_window(quiet, 60.0) == (0.0, 60.0)  # nothing queued: the whole run
    everywhere = [(t, 1, 0) for t, _, _ in quiet]
    assert activity_window(everywhere, 60.0) == (0.0, 60.0)
    assert geometric([8, 64, 512]) == 8
    assert geometric(["1", "2", "4", "8", "16"]) == 2
    assert geometric([10, 100, 1000]) == 10
    assert geometric([1, 2, 3, 4]) is None and geometric([8, 64]) is None
    assert geometric(["a", "b", "c"]) is None


def test_clients_never_accepted_are_explained_by_what_the_server_did() -> None:
    # listen(2), nobody accepts: three clients connect (10 ms apart, 50 ms one way) and wait
    # in the accept queue, three more meet it full; no third ACK was dropped
    spec = build_spec("burst", None, ["clients=6", "backlog=2", "accept_start=100",
                                      "duration=5", "delay=0.05", "timer_model=exact",
                                      "net.ipv4.tcp_syncookies=0"])
    res = run_scenario(spec)
    s = summarize(res)
    assert s["established_but_never_accepted"] == 3
    assert ("3 were still waiting in the accept queue when it ended, or their third ACK was "
            "dropped there") in s["explanation"]
    assert "SYN-ACK resent" in s["explanation"] and "had their third ACK dropped" not in \
        s["explanation"]
    # had the server resent one of them its SYN-ACK, its third ACK met the full queue
    res.clients[0].synack_retrans = 1
    text = summarize(res)["explanation"]
    assert ("1 had their third ACK dropped at a full accept queue (tcp_abort_on_overflow=0 "
            "drops it silently; the server resent its SYN-ACK") in text
    assert "2 were still waiting in the accept queue" in text


def test_without_overflows_clients_never_accepted_were_still_queued() -> None:
    spec = build_spec("burst", None, ["clients=2", "backlog=8", "accept_start=100",
                                      "duration=2", "timer_model=exact"])
    s = summarize(run_scenario(spec))
    assert s["counters"]["server"].get("TcpExt.ListenOverflows", 0) == 0
    assert ("2 clients saw their connect() succeed but the server never accepted the "
            "connection by the end of the run: 2 were still waiting in the accept queue when it "
            "ended. No queue overflowed") in s["explanation"]


def test_arrivals_are_drawn_as_random_expovariate_draws_them() -> None:
    """The scenario's own exponential draw (arrivals, service times) takes what
    random.Random.expovariate would, float for float, and leaves the generator alike."""
    import random

    from tuxtcp.sim.scenario import expovariate

    for seed in range(20):
        a, b = random.Random(seed), random.Random(seed)
        for rate in (10_000.0, 1 / 0.0001, 0.5):
            assert [expovariate(a, rate) for _ in range(100)] == [
                b.expovariate(rate) for _ in range(100)]
        assert a.getstate() == b.getstate()


def test_client_result_init_is_the_dataclass_one() -> None:
    # ClientResult's __init__ is written out (compiled, not the dataclass's generated one):
    # the fields' order (positional), names (keywords) and defaults, and replace() works
    import dataclasses

    from tuxtcp.sim.scenario import ClientResult

    fields = dataclasses.fields(ClientResult)
    values: list[object] = [7, 0.5, 4000, 0.75, 111, 2, 1, 1.5, 2.5, 300, 3.5, None]
    assert len(values) == len(fields)
    by_position = ClientResult(*values)  # type: ignore[arg-type]
    by_name = ClientResult(**{f.name: v for f, v in zip(fields, values, strict=True)})  # type: ignore[arg-type]
    assert [getattr(by_position, f.name) for f in fields] == values
    assert by_name == by_position
    defaults = ClientResult(3, 0.25)
    assert [getattr(defaults, f.name) for f in fields[2:]] == [f.default for f in fields[2:]]
    assert dataclasses.replace(defaults, error=111) == ClientResult(3, 0.25, error=111)
