"""results.json and the table: schema, every run present, verdict lines."""

from __future__ import annotations

import json
from pathlib import Path

from bench_helpers import LIMITS, counters, outcome, run_metrics

from claudeflow._types import Priority
from claudeflow.bench._goals import evaluate
from claudeflow.bench._report import (
    RUN_COLUMNS,
    SCHEMA_VERSION,
    render_table,
    write_results,
)
from claudeflow.bench._scenario import LoadScenario
from claudeflow.bench._suite import SuiteConfig, SuiteResult, environment
from claudeflow.bench._workload import Stream, Workload

TOP_KEYS = {
    "schema_version",
    "started_at",
    "wall_s",
    "config",
    "environment",
    "scenarios",
    "runs",
    "overhead",
    "scale",
    "goals",
    "errors",
}
RUN_KEYS = {
    "scenario",
    "client",
    "efficiency",
    "efficiency_fifo",
    "efficiency_work_conserving",
    "perfect_fifo_s",
    "perfect_work_conserving_s",
    "last_start_s",
    "completed",
    "failed",
    "per_1k_429",
    "attempts_per_request",
    "queue_wait_s",
    "bound_s",
    "wall_s",
    "series",
    "series_columns",
}


def _result() -> SuiteResult:
    scenario = LoadScenario(
        "mixed",
        "a title",
        LIMITS,
        Workload((Stream(2),)),
        ("claudeflow", "sdk"),
        goals=("priority",),
    )
    outcomes = (
        outcome(0, priority=Priority.HIGH, wait=0.01),
        outcome(1, priority=Priority.LOW, wait=1.0),
    )
    server = counters(received=46, admitted=46)
    runs = tuple(
        run_metrics(scenario="mixed", client=c, outcomes=outcomes, server=server, wall_s=5.0)
        for c in ("claudeflow", "sdk")
    )
    return SuiteResult(
        config=SuiteConfig(api_key="sk-secret-never-shown"),
        scenarios=(scenario,),
        plan=(("mixed", ("claudeflow", "sdk")),),
        runs=runs,
        overhead=None,
        scale=None,
        verdicts=evaluate((scenario,), runs, None, None),
        started_at="2026-01-01T00:00:00+00:00",
        wall_s=12.0,
        environment=environment(),
    )


def test_json_holds_every_figure_and_its_configuration(tmp_path: Path) -> None:
    paths = write_results(_result(), tmp_path)
    assert [p.name for p in paths] == ["results.json", "results.md"]
    text = (tmp_path / "results.json").read_text()
    data = json.loads(text)
    assert set(data) == TOP_KEYS
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["environment"]["cpu_count"] is not None
    assert data["config"]["seed"] == 1
    assert data["scenarios"][0]["limits"]["minute_seconds"] == 6.0
    assert data["scenarios"][0]["clients"] == ["claudeflow", "sdk"]
    assert [(r["scenario"], r["client"]) for r in data["runs"]] == [
        ("mixed", "claudeflow"),
        ("mixed", "sdk"),
    ]
    assert RUN_KEYS <= set(data["runs"][0])
    assert data["goals"][0]["goal"] == "priority"
    assert "sk-secret" not in text


def test_table_has_a_row_per_run_and_a_verdict_per_goal() -> None:
    table = render_table(_result())
    lines = table.splitlines()
    assert "| " + " | ".join(RUN_COLUMNS) + " |" in lines
    assert sum(line.startswith("| mixed |") for line in lines) == 2
    assert "HIGH 0.010 / 0.010 / 0.010; LOW 1.000 / 1.000 / 1.000" in table
    assert "- priority · mixed: **met**" in table
    assert "sk-secret" not in table
