"""The suite's goals and their verdicts: measured, judged plainly, never asserted.

Each goal is checked on claudeflow's own runs (baselines are reported, not judged). A
verdict is ``met`` (True/False) with the figures that decided it, or ``None`` when the
suite did not run what the goal needs (then it says so instead of guessing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from .._types import Priority
from ._clients import is_baseline
from ._goal_ids import (
    EFFICIENCY,
    EFFICIENCY_TARGETS,
    GOAL_IDS,
    MAX_BYTES_PER_QUEUED,
    MAX_HIGH_TO_LOW_P95,
    MAX_REFILL_PERIODS,
    MEMORY,
    MEMORY_AT_QUEUED,
    MIN_OVERHEAD_RATIO,
    OVERHEAD,
    PRIORITY,
    STARVATION,
)
from ._metrics import RunMetrics
from ._overhead import OverheadResult
from ._scale import ScaleResult
from ._scenario import LoadScenario

__all__ = [
    "Verdict",
    "evaluate",
    "judge_efficiency",
    "judge_memory",
    "judge_overhead",
    "judge_priority",
    "judge_starvation",
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One goal on one scenario (or on the overhead/scale measurement).

    :ivar met: ``True``/``False``; ``None`` when it could not be judged (see ``detail``)
    :ivar measured: the deciding figures, human-readable
    """

    goal: str
    subject: str
    target: str
    met: bool | None
    measured: str
    detail: str = ""

    @property
    def label(self) -> str:
        return {True: "met", False: "NOT met", None: "not judged"}[self.met]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    scenarios: Sequence[LoadScenario],
    runs: Sequence[RunMetrics],
    overhead: OverheadResult | None,
    scale: ScaleResult | None,
    *,
    reduced: bool = False,
) -> tuple[Verdict, ...]:
    """Every verdict the suite's results allow, in goal order.

    ``reduced`` (a smoke or down-scaled run): load runs of a second or two are dominated
    by fixed costs, so their goals are reported with the figures but not judged.
    """
    verdicts = [
        _judge_goal(goal, scenario, runs) for scenario in scenarios for goal in scenario.goals
    ]
    if reduced:
        verdicts = [
            replace(v, met=None, detail="reduced run: too short to judge; run the full suite")
            for v in verdicts
        ]
    if overhead is not None:
        verdicts.append(judge_overhead(overhead))
    if scale is not None:
        verdicts.append(judge_memory(scale))
    order = {goal: n for n, goal in enumerate(GOAL_IDS)}
    return tuple(sorted(verdicts, key=lambda v: order.get(v.goal, len(order))))


def _judge_goal(goal: str, scenario: LoadScenario, runs: Sequence[RunMetrics]) -> Verdict:
    target = EFFICIENCY_TARGETS.get(goal)
    if target is not None and target.of_configured:
        configured = _claudeflow_run(scenario, runs, configured=True)
        learned = _claudeflow_run(scenario, runs, configured=False)
        return judge_efficiency(scenario.name, learned, goal=goal, configured=configured)
    return _judge_load(goal, scenario.name, _claudeflow_run(scenario, runs))


def _claudeflow_run(
    scenario: LoadScenario, runs: Sequence[RunMetrics], *, configured: bool | None = None
) -> RunMetrics | None:
    """The scenario's first claudeflow run (``configured``: the one given the limits, or
    not; ``None``: either)."""
    for run in runs:
        if run.scenario != scenario.name or is_baseline(run.client):
            continue
        if configured is None or (run.client == CONFIGURED_CLIENT) == configured:
            return run
    return None


def _judge_load(goal: str, subject: str, run: RunMetrics | None) -> Verdict:
    if goal in EFFICIENCY_TARGETS:
        return judge_efficiency(subject, run, goal=goal)
    if goal == PRIORITY:
        return judge_priority(subject, run)
    if goal == STARVATION:
        return judge_starvation(subject, run)
    raise ValueError(f"unknown goal {goal!r}")


def _unjudged(goal: str, subject: str, target: str, why: str) -> Verdict:
    return Verdict(goal, subject, target, None, "-", why)


def judge_efficiency(
    subject: str,
    run: RunMetrics | None,
    *,
    goal: str = EFFICIENCY,
    configured: RunMetrics | None = None,
) -> Verdict:
    """Efficiency against the goal's perfect schedule (or, for a goal ``of_configured``,
    against ``configured``'s), failures and 429s within its limits."""
    want = EFFICIENCY_TARGETS[goal]
    name = _REFERENCE_NAMES[want.reference]
    failures = "no failed request, " if want.no_failures else ""
    share = f"{want.minimum:g} of the configured run's efficiency against {name}"
    target = (
        f"efficiency >= {share if want.of_configured else f'{want.minimum:g} of {name}'}, "
        f"{failures}<= {want.max_per_1k:g} 429s per 1,000"
    )
    if run is None:
        return _unjudged(goal, subject, target, "no claudeflow run")
    if run.per_1k_429 is None:
        return _unjudged(goal, subject, target, "no server-side counts (external server)")
    efficiency = run.efficiency_against(want.reference)
    if efficiency is None:
        return _unjudged(goal, subject, target, "no perfect schedule for this run")
    bar, against = want.minimum, ""
    if want.of_configured:
        given = None if configured is None else configured.efficiency_against(want.reference)
        if given is None:
            return _unjudged(goal, subject, target, "no configured run to compare with")
        bar, against = want.minimum * given, f" (configured: {given:.3f})"
    problems = []
    if efficiency < bar:
        problems.append(f"efficiency {efficiency:.3f} < {bar:.3f}{against}")
    if want.no_failures and run.failed + run.unfinished > 0:
        problems.append(f"{run.failed + run.unfinished} request(s) failed or unfinished")
    if run.per_1k_429 > want.max_per_1k:
        problems.append(f"{run.per_1k_429:g} 429s per 1,000 > {want.max_per_1k:g}")
    measured = (
        f"efficiency {efficiency:.3f} of {name}{against} ({run.wall_s:.3f}s vs "
        f"{_perfect_s(run, want.reference):.3f}s), {run.failed} failed, "
        f"{run.per_1k_429:g} 429s/1k ({run.client}){_where_time_went(run)}"
    )
    return Verdict(goal, subject, target, not problems, measured, "; ".join(problems))


def _where_time_went(run: RunMetrics) -> str:
    """The last send against the perfect FIFO one, and the tail after it."""
    last, perfect_last = run.last_start_s, run.perfect_last_start_s
    if last is None or perfect_last is None or run.perfect_fifo_s is None:
        return ""
    tail, perfect_tail = run.wall_s - last, run.perfect_fifo_s - perfect_last
    return (
        f"; last request sent at {last:.2f}s (perfect {perfect_last:.2f}s), "
        f"then {tail:.2f}s to the end (perfect {perfect_tail:.2f}s)"
    )


CONFIGURED_CLIENT = "claudeflow"  # the client given the scenario's limits
_REFERENCE_NAMES = {"fifo": "FIFO", "work_conserving": "work-conserving"}


def _perfect_s(run: RunMetrics, reference: str) -> float:
    perfect = run.perfect_fifo_s if reference == "fifo" else run.perfect_work_conserving_s
    return perfect or 0.0


def judge_priority(subject: str, run: RunMetrics | None) -> Verdict:
    target = f"HIGH p95 queue wait <= {MAX_HIGH_TO_LOW_P95:.0%} of LOW p95"
    if run is None:
        return _unjudged(PRIORITY, subject, target, "no claudeflow run")
    high, low = run.wait_p95(Priority.HIGH), run.wait_p95(Priority.LOW)
    if high is None or low is None:
        return _unjudged(PRIORITY, subject, target, "no queue waits for HIGH or LOW")
    if low <= 0:
        met = high <= 0
        return Verdict(PRIORITY, subject, target, met, f"HIGH p95 {high:.4f}s, LOW p95 0s")
    ratio = high / low
    measured = f"HIGH p95 {high:.4f}s / LOW p95 {low:.3f}s = {ratio:.1%}"
    return Verdict(PRIORITY, subject, target, ratio <= MAX_HIGH_TO_LOW_P95, measured)


def judge_starvation(subject: str, run: RunMetrics | None) -> Verdict:
    target = f"large request starts within {MAX_REFILL_PERIODS:g} refill periods of its size"
    if run is None:
        return _unjudged(STARVATION, subject, target, "no claudeflow run")
    large = run.large_request
    if large is None or large.get("wait_periods") is None:
        return _unjudged(STARVATION, subject, target, "the large request never started")
    periods = float(large["wait_periods"] or 0.0)
    measured = (
        f"waited {large['wait_s']:.3f}s = {periods:.2f} refill periods "
        f"of {large['refill_period_s']:.3f}s"
    )
    return Verdict(STARVATION, subject, target, periods <= MAX_REFILL_PERIODS, measured)


def judge_overhead(result: OverheadResult) -> Verdict:
    target = f"throughput >= {MIN_OVERHEAD_RATIO:.2f} of raw aiohttp"
    measured = (
        f"Flow {result.flow_per_s:,.0f}/s vs raw {result.raw_per_s:,.0f}/s = {result.ratio:.2f}"
        f" (median pair {result.median_pair_ratio:.2f}); "
        f"{result.flow_cpu_us:.0f} vs {result.raw_cpu_us:.0f} µs CPU/request"
    )
    return Verdict(OVERHEAD, "overhead", target, result.ratio >= MIN_OVERHEAD_RATIO, measured)


def judge_memory(result: ScaleResult) -> Verdict:
    target = f"< {MAX_BYTES_PER_QUEUED / 1024:g} KB per queued request at {MEMORY_AT_QUEUED:,}"
    measured = (
        f"{result.bytes_per_request:,.0f} B/request at {result.config.queued:,} queued "
        f"({result.claudeflow_bytes_per_request:,.0f} B beyond an awaiting task)"
    )
    if result.config.queued < MEMORY_AT_QUEUED:
        detail = f"only {result.config.queued:,} queued (reduced run)"
        return Verdict(MEMORY, "scale", target, None, measured, detail)
    met = result.bytes_per_request < MAX_BYTES_PER_QUEUED
    return Verdict(MEMORY, "scale", target, met, measured)
