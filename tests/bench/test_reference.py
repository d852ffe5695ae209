"""A scenario's perfect schedules, and which requests a run is measured against."""

from __future__ import annotations

import pytest
from bench_helpers import outcome

from claudeflow._clock import LoopClock
from claudeflow.bench._drive import DriveResult
from claudeflow.bench._load import LoadContext, _reference_of
from claudeflow.bench._progress import Progress
from claudeflow.bench._reference import references
from claudeflow.bench._scenario import Limits, LoadScenario, ServerModel
from claudeflow.bench._workload import Stream, Workload

# 20 tiny requests at once against 60 RPM per 6 s with a bucket of 6: 6 go at once,
# then one every 0.1 s; replies take 20 ms.
_SCENARIO = LoadScenario(
    "tiny",
    "t",
    Limits(rpm=60, minute_seconds=6.0, burst=0.1),
    Workload((Stream(20),)),
    ("claudeflow",),
    ServerModel(ttft_s=0.02, per_token_s=0.0),
)
_CTX = LoadContext("sk-test", "claude-haiku-4-5", 1, LoopClock(), Progress(1, enabled=False))


def test_the_references_of_an_rpm_bound_backlog() -> None:
    items = _SCENARIO.workload.build(seed=1)
    found = references(_SCENARIO, items, model=_CTX.model, seed=1)
    assert found.fifo_s == pytest.approx(1.4 + 0.02)  # the 20th goes at 14 x 0.1 s
    assert found.work_conserving_s == pytest.approx(found.fifo_s)
    assert found.requests == 20


def test_a_run_that_lost_requests_is_measured_against_what_it_completed() -> None:
    items = _SCENARIO.workload.build(seed=1)
    full = references(_SCENARIO, items, model=_CTX.model, seed=1)
    every = DriveResult(tuple(outcome(n) for n in range(20)), 2.0, timed_out=False)
    assert _reference_of(_SCENARIO, "claudeflow", items, every, _CTX, full) is full

    half = DriveResult(tuple(outcome(n, ok=n < 10) for n in range(20)), 2.0, timed_out=False)
    done = _reference_of(_SCENARIO, "claudeflow", items, half, _CTX, full)
    assert done is not None and done.requests == 10
    assert done.fifo_s == pytest.approx(0.4 + 0.02)  # the 10th goes at 4 x 0.1 s
    lost = DriveResult(tuple(outcome(n, ok=False) for n in range(20)), 2.0, timed_out=False)
    assert _reference_of(_SCENARIO, "claudeflow", items, lost, _CTX, full) is None
