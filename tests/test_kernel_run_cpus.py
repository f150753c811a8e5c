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
