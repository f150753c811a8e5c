"""Benchmarks (pytest-benchmark). Run: make bench. Figures go to bench/RESULTS.md."""

from __future__ import annotations

import pytest

from workloads import (
    cookie_synacks,
    kernel_handshakes,
    memory_per_connection,
    memory_per_request,
    sim_handshakes,
)


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_sim_handshakes(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    wall = benchmark.pedantic(sim_handshakes, args=(n,), rounds=1, iterations=1)
    benchmark.extra_info["connections_per_s"] = round(n / wall)


def test_kernel_handshakes_same_loop(benchmark) -> None:  # type: ignore[no-untyped-def]
    n = 10_000
    sim = sim_handshakes(n)
    kern = benchmark.pedantic(kernel_handshakes, args=(n,), rounds=1, iterations=1)
    benchmark.extra_info["kernel_per_s"] = round(n / kern)
    benchmark.extra_info["tuxtcp_per_s"] = round(n / sim)
    benchmark.extra_info["kernel_over_tuxtcp"] = round(sim / kern, 2)


def test_cookie_synacks_engine_only(benchmark) -> None:  # type: ignore[no-untyped-def]
    n = 200_000
    wall = benchmark.pedantic(cookie_synacks, args=(n,), rounds=3, iterations=1)
    benchmark.extra_info["syn_per_s"] = round(n / wall)


def test_memory(benchmark) -> None:  # type: ignore[no-untyped-def]
    req = benchmark.pedantic(memory_per_request, rounds=1, iterations=1)
    conn = memory_per_connection()
    benchmark.extra_info["bytes_per_request_sock"] = round(req)
    benchmark.extra_info["bytes_per_established_conn"] = round(conn)
