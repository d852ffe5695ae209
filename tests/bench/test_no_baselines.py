"""``claudeflow bench`` from an installed package, where the baselines are not importable.

The comparison baselines live in the checkout's ``benchmarks/`` folder; without it on
the path the command runs claudeflow's own clients, says how to get the baselines, and
refuses a request for one by name. Run in a child process whose path holds the package
only (pytest itself puts ``benchmarks/`` on its path).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import claudeflow

pytestmark = pytest.mark.integration

_ROOT = Path(claudeflow.__file__).resolve().parent.parent


def _bench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    command = [sys.executable, "-m", "claudeflow.cli", "bench", "--quiet", "--no-plots", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_without_baselines_claudeflow_runs_alone_and_the_hint_says_where(tmp_path: Path) -> None:
    done = _bench(tmp_path, "--smoke", "--scenario", "rpm_bound", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "python benchmarks/run_suite.py" in done.stderr
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [run["client"] for run in runs] == ["claudeflow"]


def test_asking_for_a_missing_baseline_is_a_usage_error(tmp_path: Path) -> None:
    done = _bench(tmp_path, "--scenario", "rpm_bound", "--clients", "sdk", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--clients sdk" in done.stderr and "benchmarks/" in done.stderr
    assert not (tmp_path / "results.json").exists()
