"""Where a kernel run puts its processes: the helpers that keep this process's threads off the
agents' CPU and measure the hypervisor's steal on it (no root needed)."""

from __future__ import annotations

import os
import threading

import pytest

from tuxtcp.simulate.kernel import _threads_off, cpu_times


def test_cpu_times_reads_one_cpus_steal_and_total() -> None:
    cpu = max(os.sched_getaffinity(0))
    steal, total = cpu_times(cpu)
    assert 0 <= steal <= total and total > 0
    assert cpu_times(10_000) == (0, 0)  # no such CPU


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to move between")
def test_threads_leave_the_agents_cpu_and_come_back() -> None:
    here = os.sched_getaffinity(0)
    cpu = max(here)
    stop = threading.Event()
    seen: list[set[int]] = []
    t = threading.Thread(target=stop.wait, args=(10.0,))
    t.start()
    try:
        with _threads_off(cpu):
            assert t.native_id is not None
            seen = [os.sched_getaffinity(0), os.sched_getaffinity(t.native_id)]
        assert seen == [here - {cpu}, here - {cpu}]
        assert os.sched_getaffinity(0) == here
        assert os.sched_getaffinity(t.native_id) == here
    finally:
        stop.set()
        t.join()


def test_the_report_shows_where_the_agents_ran_and_the_steal() -> None:
    import dataclasses
    import io

    from rich.console import Console

    from tuxtcp.sim.scenario import run_scenario
    from tuxtcp.simulate.presets import build_spec
    from tuxtcp.simulate.render import print_report
    from tuxtcp.simulate.report import summarize

    res = run_scenario(build_spec("burst", None, ["clients=2", "duration=1"]))
    res = dataclasses.replace(res, agent_late={"client": 0.001, "server": 0.002},
                              agent_cpus={"server": [1], "client": [1], "sampler": [0],
                                          "trace": [0]}, agent_steal=0.0125)
    out = io.StringIO()
    print_report(Console(file=out, width=200), summarize(res))
    assert ("kernel agents on CPU 1 (server, client), the sampler and the trace reader on 0; "
            "the host took 1.2% of the agents' CPU (steal)") in out.getvalue()
