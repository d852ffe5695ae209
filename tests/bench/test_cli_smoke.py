"""``claudeflow bench --smoke``: the whole suite, reduced, end to end (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from claudeflow.bench import _cli
from claudeflow.bench._catalog import BASELINES, SPECIAL, load_scenarios, scenario_names
from claudeflow.bench._clients import CLIENTS, baseline_clients
from claudeflow.bench._goal_ids import GOAL_IDS
from claudeflow.cli import main

pytestmark = pytest.mark.integration


def test_cli_lists_match_the_catalog() -> None:
    assert _cli.SCENARIOS == scenario_names()
    assert set(_cli.CLIENT_NAMES) == set(CLIENTS) | set(BASELINES)
    # The baselines come from benchmarks/ (on pytest's pythonpath), not from the package.
    assert set(baseline_clients()) == set(BASELINES)


def test_bad_arguments_exit_2_with_a_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--scenario", "nope"]) == 2
    assert "unknown --scenario nope" in capsys.readouterr().err
    assert main(["bench", "--scale", "0"]) == 2


def test_smoke_run_writes_a_complete_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    assert main(["bench", "--smoke", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out

    data = json.loads((out / "results.json").read_text())
    expected = {(s.name, c) for s in load_scenarios() for c in s.clients}
    assert {(r["scenario"], r["client"]) for r in data["runs"]} == expected
    for run in data["runs"]:
        assert run["completed"] + run["failed"] + run["unfinished"] == run["requests"]
        assert run["perfect_fifo_s"] > 0 and run["perfect_work_conserving_s"] > 0
        assert run["source"] == "server"
        assert run["series"], "the sampler recorded a time series"
    assert data["config"]["smoke"] is True
    assert data["overhead"]["rounds"] and data["scale"]["bytes_per_request"] > 0
    assert {g["goal"] for g in data["goals"]} == set(GOAL_IDS)
    assert all(g["met"] in (True, False, None) for g in data["goals"])

    for scenario, client in expected:
        assert f"| {scenario} | {client} |" in printed
    assert "Goals:" in printed
    assert (out / "results.md").read_text().strip() == printed.strip()
    if importlib.util.find_spec("matplotlib") is not None:
        pngs = {p.name for p in out.glob("*.png")}
        assert {f"throughput_{s.name}.png" for s in load_scenarios()} <= pngs
        assert "queue_wait_mixed_priority.png" in pngs
    assert set(SPECIAL) == {"overhead", "scale"}
