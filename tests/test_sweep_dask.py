"""`tuxtcp simulate sweep --scheduler` (issue 14): a grid run on a Dask cluster (here a
LocalCluster of two worker processes) gives, point for point, the rows the local processes
give; an unreachable scheduler ends with one line."""

from __future__ import annotations

import pytest

from tuxtcp.cli import main
from tuxtcp.simulate.sweep import SweepError, run_sweep

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

GRID = {"backlog": ["1", "4", "16"], "net.ipv4.tcp_syncookies": ["0", "1"]}
BASE = ["clients=12", "duration=8"]


def test_a_local_cluster_sweep_equals_the_local_one() -> None:
    local = run_sweep("burst", None, BASE, GRID, jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as cluster:
        remote = run_sweep("burst", None, BASE, GRID, scheduler=cluster.scheduler_address)
    assert remote == local
    assert len(local) == 6 and {r["backlog"] for r in local} == {1, 4, 16}
    assert any(r["ListenOverflows"] for r in local)  # the grid exercised the queues


def test_no_scheduler_there(capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SweepError, match="no Dask scheduler at tcp://127.0.0.1:9"):
        run_sweep("burst", None, BASE, {"backlog": ["1"]}, scheduler="tcp://127.0.0.1:9",
                  connect_timeout=2)
    real = run_sweep

    def quick(*args: object, **kw: object) -> object:
        return real(*args, connect_timeout=2)  # type: ignore[arg-type]

    monkeypatch.setattr("tuxtcp.simulate.sweep.run_sweep", quick)
    rc = main(["simulate", "sweep", "burst", "--set", "clients=4", "--grid", "backlog=1",
               "--scheduler", "tcp://127.0.0.1:9", "--csv", "/dev/null"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.startswith("tuxtcp simulate sweep: no Dask scheduler at tcp://127.0.0.1:9")
    assert err.count("\n") == 1
