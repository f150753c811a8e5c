"""`make fuzz` works: the long stateful run and both atheris targets, each for a moment (the
long runs themselves are in bench/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_stateful_run_reports_its_segments() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "fuzz" / "run_states.py"), "--segments",
                        "2200", "--per-case", "200", "--jobs", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "done: 2,200 segments in 11 cases" in r.stdout and "no failure" in r.stdout


def test_atheris_targets_run(tmp_path: Path) -> None:
    for target in ("wire", "engine"):
        r = subprocess.run([sys.executable, str(ROOT / "fuzz" / "atheris_targets.py"), target,
                            "-atheris_runs=300", f"-artifact_prefix={tmp_path}/"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
        assert "Done 300 " in r.stderr
