"""The ``distributed`` benchmark: how the work is split, how the runs are judged, and a
small real run (worker processes, one simulator, a real redis-server, Redis killed)."""

from __future__ import annotations

import pytest

from claudeflow._types import Priority
from claudeflow.bench._distributed import (
    DistributedConfig,
    SetupResult,
    _plans,
    _summarize,
    run_distributed,
)
from claudeflow.bench._distributed_report import judge, markdown
from claudeflow.bench._target import Target
from claudeflow.bench._worker import WorkerPlan, WorkerReport

_SMALL = DistributedConfig(
    processes=3, backlog=12, urgent=4, urgent_interval_s=0.1, trickle=6, trickle_interval_s=0.1
)


def test_the_workload_is_split_by_process_backlog_urgent_and_trickles() -> None:
    items = _SMALL.scenario().workload.build(1)
    by_tag = {tag: [i for i in items if i.tag == tag] for tag in ("p0", "p1", "p2")}
    assert [len(v) for v in by_tag.values()] == [12, 4, 6]
    assert {i.priority for i in by_tag["p0"]} == {Priority.LOW}
    assert {i.arrival_s for i in by_tag["p0"]} == {0.0}
    assert {i.priority for i in by_tag["p1"]} == {Priority.HIGH}
    assert min(i.arrival_s for i in by_tag["p1"]) == 0.5
    assert _SMALL.scenario().concurrency == 3 * _SMALL.concurrency


def test_each_setup_gives_the_processes_their_share_and_limits() -> None:
    items = _SMALL.scenario().workload.build(1)
    (single,) = _plans(_SMALL, "single", items, "http://sim", None, 9.0)
    assert single.items == tuple(items) and single.target.concurrency == 3 * _SMALL.concurrency
    quarter = _plans(_SMALL, "quarter", items, "http://sim", None, 9.0)
    assert [p.target.limits.input_tpm for p in quarter] == [_SMALL.limits.input_tpm / 3] * 3  # type: ignore[operator]
    shared = _plans(_SMALL, "outage-degrade", items, "http://sim", "redis://r", 9.0)
    assert [len(p.items) for p in shared] == [12, 4, 6]
    assert {(p.redis_url, p.on_failure, p.target.limits) for p in shared} == {
        ("redis://r", "degrade", _SMALL.limits)
    }


def test_a_plan_travels_as_json_and_hides_its_key() -> None:
    items = _SMALL.scenario().workload.build(1)[:2]
    target = Target("http://sim", "sk-secret", "m", _SMALL.limits, 4, 1)
    plan = WorkerPlan(target, tuple(items), 5.0, "redis://r", "degrade")
    assert WorkerPlan.from_json(plan.to_json()) == plan
    assert "sk-secret" not in repr(plan)
    report = WorkerReport(((0, True, None, 0.5, 1.0), (1, False, "E", None, 2.0)), False, ("x",))
    assert WorkerReport.from_json(report.to_json()) == report


def _result(setup: str, **values: object) -> SetupResult:
    fields: dict[str, object] = {
        "setup": setup,
        "processes": 4,
        "requests": 10,
        "completed": 10,
        "failed": 0,
        "unfinished": 0,
        "errors": {},
        "wall_s": 10.0,
        "perfect_fifo_s": 9.0,
        "efficiency": 0.9,
        "server_429": 0,
        "per_1k_429": 0.0,
        "high_wait_p95_s": 0.2,
        "low_wait_p95_s": 5.0,
        "redis_trips_per_request": 3.0,
        "modes": (),
    }
    fields.update(values)
    return SetupResult(**fields)  # type: ignore[arg-type]


def test_outcomes_are_counted_once_and_summarized() -> None:
    items = _SMALL.scenario().workload.build(1)
    rows = [(i.index, True, None, 0.01 * i.index, 1.0 + i.index / 10) for i in items]
    rows[0] = (0, False, "BackendUnavailableError", None, 0.5)
    rows[1] = (1, False, None, None, None)  # stopped by the time limit
    half = len(rows) // 2
    reports = [WorkerReport(tuple(rows[:half]), False), WorkerReport(tuple(rows[half:]), False)]
    result = _summarize(_SMALL, "redis", items, reports, 3, 2.5, 30.0)
    assert (result.completed, result.failed, result.unfinished) == (len(items) - 2, 1, 1)
    assert result.errors == {"BackendUnavailableError": 1}
    assert result.wall_s == max(r[4] for r in rows if r[4] is not None)
    assert result.per_1k_429 == round(3000 / len(items), 2)
    with pytest.raises(RuntimeError, match="every item once"):
        _summarize(_SMALL, "redis", items, [*reports, reports[0]], 0, None, 30.0)


def test_the_goals_compare_redis_with_one_process() -> None:
    good = [_result("single", efficiency=0.99), _result("redis", efficiency=0.95)]
    assert [met for _, met, _ in judge(good)] == [True, True, True]
    slow = [
        _result("single", efficiency=0.99),
        _result("redis", efficiency=0.9, per_1k_429=2.0, high_wait_p95_s=1.5),
        _result("outage-fail", completed=7, failed=2, unfinished=1),
    ]
    assert [met for _, met, _ in judge(slow)] == [False, False, False, False]
    assert "NOT met" in markdown(_SMALL, slow)


@pytest.mark.integration
async def test_processes_share_redis_and_survive_losing_it() -> None:
    # The trickle arrives over 0-0.5 s and the urgent requests from 0.5 s: Redis is
    # down from 0.3 s to 1.5 s, so requests that arrive then cannot be admitted.
    config = DistributedConfig(
        processes=3,
        backlog=10,
        urgent=3,
        urgent_interval_s=0.1,
        trickle=6,
        trickle_interval_s=0.1,
        outage=(0.3, 1.5),
        setups=("redis", "outage-fail"),
    )
    shared, outage = await run_distributed(config)
    assert (shared.completed, shared.failed, shared.unfinished) == (19, 0, 0)
    assert shared.server_429 == 0  # the whole workload fits in the first bucket
    assert shared.redis_trips_per_request is not None and shared.redis_trips_per_request >= 1
    assert shared.modes == ()
    # A 1.2 s outage is shorter than fail mode's grace (5 s): the line waits it out.
    assert (outage.completed, outage.failed, outage.unfinished) == (19, 0, 0)
    assert any("failed" in line for line in outage.modes)
    assert any("shared limits again" in line for line in outage.modes)
