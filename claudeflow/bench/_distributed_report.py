"""How the ``distributed`` benchmark's setups are judged, and its Markdown report.

The goals are the issue's for the shared (Redis) setup: as efficient as one process
sending everything, no 429 storm, HIGH requests not stuck behind the LOW backlog; and
for the outage runs, that every request still ends in exactly one outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._distributed import DistributedConfig, SetupResult

__all__ = [
    "MAX_SHARED_429_PER_1K",
    "MAX_URGENT_P95_S",
    "MIN_SHARED_RATIO",
    "judge",
    "markdown",
]

# The goals for the shared (Redis) setup.
MIN_SHARED_RATIO = 0.95  # of the single process's efficiency on the same workload
MAX_SHARED_429_PER_1K = 1.0
MAX_URGENT_P95_S = 1.0


def judge(results: Sequence[SetupResult]) -> list[tuple[str, bool | None, str]]:
    """``(goal, met, measured)`` for the shared setup and the outage runs."""
    by = {r.setup: r for r in results}
    goals: list[tuple[str, bool | None, str]] = []
    shared, single = by.get("redis"), by.get("single")
    if shared is not None and single is not None and shared.efficiency and single.efficiency:
        ratio = shared.efficiency / single.efficiency
        goals.append(
            (
                f"redis efficiency >= {MIN_SHARED_RATIO:g} of single's",
                ratio >= MIN_SHARED_RATIO,
                f"{shared.efficiency:.3f} / {single.efficiency:.3f} = {ratio:.3f}",
            )
        )
    if shared is not None:
        goals.append(_shared_limits(shared))
        wait = shared.high_wait_p95_s
        goals.append(
            (
                f"redis HIGH p95 queue wait <= {MAX_URGENT_P95_S:g} s",
                None if wait is None else wait <= MAX_URGENT_P95_S,
                "-" if wait is None else f"{wait:.3f} s",
            )
        )
    goals.extend(_outage_goal(r) for r in results if r.setup.startswith("outage"))
    return goals


def _shared_limits(shared: SetupResult) -> tuple[str, bool | None, str]:
    lost = shared.failed + shared.unfinished
    met = shared.per_1k_429 <= MAX_SHARED_429_PER_1K and lost == 0
    measured = f"{shared.per_1k_429:g} 429s/1k, {lost} failed or unfinished"
    return (f"redis <= {MAX_SHARED_429_PER_1K:g} 429/1k, no failed request", met, measured)


def _outage_goal(result: SetupResult) -> tuple[str, bool | None, str]:
    """Every request ended in exactly one outcome (checked when summarizing) in time."""
    ended = result.completed + result.failed
    measured = (
        f"{result.completed} ok, {result.failed} failed {result.errors or ''}, "
        f"{result.unfinished} unfinished; {result.per_1k_429:g} 429s/1k; "
        f"{len(result.modes)} mode change(s)"
    )
    return (
        f"{result.setup}: every request ends, the run finishes",
        ended == result.requests,
        measured,
    )


def markdown(config: DistributedConfig, results: Sequence[SetupResult]) -> str:
    """The results table, the goals, and the mode changes of the outage runs."""
    scenario = config.scenario()
    lines = [
        "# distributed: processes sharing one account",
        "",
        f"{scenario.title}; {scenario.workload.count} requests, seed {config.seed}. Limits "
        f"per {config.limits.minute_seconds:g} s minute: {config.limits.rpm:,.0f} RPM, "
        f"{config.limits.input_tpm:,.0f} ITPM, {config.limits.output_tpm:,.0f} OTPM; "
        f"{config.concurrency} concurrent per process. Outage runs: Redis killed at "
        f"{config.outage[0]:g} s, started again at {config.outage[1]:g} s.",
        "",
        "| setup | procs | eff. vs FIFO | wall / perfect (s) | ok / failed / unfinished "
        "| 429s /1k | HIGH p95 wait (s) | LOW p95 wait (s) | Redis trips /req |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(_row_md(r) for r in results)
    lines += ["", "Goals:"]
    for goal, met, measured in judge(results):
        label = {True: "met", False: "NOT met", None: "not judged"}[met]
        lines.append(f"- {goal}: **{label}** ({measured})")
    for result in results:
        if result.modes:
            lines += ["", f"{result.setup} mode changes (all processes, in order of process):"]
            lines.extend(f"- {line}" for line in result.modes)
    return "\n".join(lines) + "\n"


def _row_md(r: SetupResult) -> str:
    def num(value: float | None, digits: int = 3) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    perfect = num(r.perfect_fifo_s, 2)
    return (
        f"| {r.setup} | {r.processes} | {num(r.efficiency)} | {r.wall_s:.2f} / {perfect} "
        f"| {r.completed} / {r.failed} / {r.unfinished} | {r.per_1k_429:g} "
        f"| {num(r.high_wait_p95_s)} | {num(r.low_wait_p95_s)} "
        f"| {num(r.redis_trips_per_request, 2)} |"
    )
