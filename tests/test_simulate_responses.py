"""`tuxtcp simulate` with data: each accepted client is sent a response, under a chosen
congestion control, and the report counts retransmissions by mechanism and undos."""

import pytest

from tuxtcp.cli import main
from tuxtcp.sim.scenario import ScenarioSpec, run_scenario
from tuxtcp.simulate.report import RECOVERY_COUNTERS, summarize


def _lossy(cc: str, **kw: object) -> ScenarioSpec:
    params: dict[str, object] = dict(
        name="lossy-responses", clients=40, arrival="uniform", rate=20.0, backlog=64,
        workers=4, service_time=0.002, loss=0.05, delay=0.01, duration=30.0,
        response_bytes=100_000, congestion_control=cc)
    params.update(kw)
    return ScenarioSpec(**params)  # type: ignore[arg-type]


@pytest.mark.parametrize("cc", ["reno", "cubic"])
def test_every_accepted_client_reads_its_whole_response_through_loss(cc: str) -> None:
    res = run_scenario(_lossy(cc))
    accepted = [c for c in res.clients if c.accepted is not None]
    assert len(accepted) == 40
    for c in accepted:
        assert c.received == 100_000 and c.completed is not None, c
        assert c.response_time is not None and c.response_time > c.latency  # type: ignore[operator]
    s = summarize(res)
    assert s["response"]["complete"] == 40
    assert s["response"]["bytes_received"] == 40 * 100_000
    srv = s["recovery"]["server"]
    # 5% loss each way on 100 KB responses: RACK's fast retransmits repair most of it, and
    # every retransmitted segment is counted under one mechanism or another
    assert srv["TcpExt.TCPFastRetrans"] > 0
    assert srv["Tcp.RetransSegs"] >= (srv["TcpExt.TCPFastRetrans"]
                                      + srv["TcpExt.TCPSlowStartRetrans"]
                                      + srv["TcpExt.TCPSynRetrans"])
    assert set(srv) == set(RECOVERY_COUNTERS)
    assert f"100,000 bytes with {cc}" in s["explanation"]


def test_the_congestion_control_changes_the_transfer_on_the_same_losses() -> None:
    # the same seed loses the same packets of each flow (per-flow loss); after a loss Reno
    # halves cwnd and CUBIC keeps 0.7 of it, so the responses take different times
    reno, cubic = (summarize(run_scenario(_lossy(cc))) for cc in ("reno", "cubic"))
    assert reno["response"]["time_s"] != cubic["response"]["time_s"]
    assert reno["spec"]["congestion_control"] == "reno"


def test_a_response_larger_than_the_send_buffer_waits_for_room() -> None:
    # 3 MB does not fit the send buffer: the writer sleeps (SOCK_NOSPACE) and is woken by the
    # ACKs that free a third of it (tcp_check_space), until the whole response is written
    res = run_scenario(ScenarioSpec(clients=2, arrival="uniform", rate=10.0, workers=2,
                                    response_bytes=3_000_000, duration=20.0))
    assert [c.received for c in res.clients] == [3_000_000, 3_000_000]
    assert all(c.completed is not None for c in res.clients)


def test_without_a_response_nothing_is_sent() -> None:
    s = summarize(run_scenario(ScenarioSpec(clients=5, duration=5.0)))
    assert "response" not in s
    assert not any(s["recovery"]["server"].values())


def test_congestion_control_and_response_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown congestion control 'vegas'"):
        ScenarioSpec(congestion_control="vegas")
    with pytest.raises(ValueError, match="as congestion_control"):
        ScenarioSpec(congestion_control="cubic",
                     sysctls={"net.ipv4.tcp_congestion_control": "reno"})
    with pytest.raises(ValueError, match="response_bytes"):
        ScenarioSpec(response_bytes=-1)


def test_cli_reports_retransmissions_by_mechanism(capsys) -> None:  # type: ignore[no-untyped-def]
    rc = main(["simulate", "lossy-link", "--quiet", "--set", "clients=30",
               "--set", "response_bytes=50000", "--set", "congestion_control=reno"])
    assert rc in (0, None)
    out = capsys.readouterr().out
    assert "50,000-byte responses (reno)" in out
    assert "retransmissions by mechanism" in out
    assert "TCPFastRetrans" in out and "TCPLossProbes" in out
