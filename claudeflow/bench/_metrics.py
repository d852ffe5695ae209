"""The numbers of one load run, as DESIGN.md "Measuring" defines them.

Efficiency = perfect wall time / measured wall time, against both perfect schedules of
the scenario (:mod:`._perfect`: one FIFO line per pool, and work-conserving), which
model the simulator's own rules, ``max_tokens`` held for the whole latency included.

The older figure, kept beside it (``efficiency``, "vs bound"), is lower bound / wall
time. The bound is, over each limited dimension,
``(demand - initial bucket capacity) / refill rate`` with demand taken from the
server's own counters (requests admitted, input tokens counted toward ITPM, output
tokens generated). A workload whose last request arrives later than that bound cannot
finish before it arrives, so the bound is never below the last arrival time
(``arrival_floor_s``); the rate-bound scenarios submit everything at once, so there the
floor is zero.

A server that lets a bucket go into debt (the ``actual`` OTPM rule debits output as it
is generated, past zero) would let a client "beat" the bound by leaving debt behind;
that debt is quota spent ahead of time, so the run is charged the time the server needs
to repay it (``debt_repay_s``) and efficiency = bound / (wall + debt_repay_s) <= 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .._types import Priority
from ..tokens._numbers import quantile
from ._drive import DriveResult
from ._record import Outcome
from ._reference import References
from ._sampler import Sample
from ._scenario import DIMENSIONS, Dimension, Limits
from ._server import Counters

__all__ = ["Bound", "RunMetrics", "lower_bound", "percentiles", "priority_name", "summarize"]


def priority_name(priority: int) -> str:
    try:
        return Priority(priority).name
    except ValueError:
        return str(priority)


def percentiles(values: Iterable[float]) -> dict[str, float | int]:
    """``n``, p50, p95, p99 and max (linear interpolation between ranks); empty: ``n`` 0."""
    data = sorted(v for v in values if not math.isnan(v))
    if not data:
        return {"n": 0}
    return {
        "n": len(data),
        "p50": quantile(data, 0.50),
        "p95": quantile(data, 0.95),
        "p99": quantile(data, 0.99),
        "max": data[-1],
    }


@dataclass(frozen=True, slots=True)
class Bound:
    """The physical lower bound on wall time and the dimension that sets it."""

    seconds: float
    binding: Dimension | None
    per_dimension: Mapping[str, float]


def lower_bound(demand: Mapping[Dimension, float], limits: Limits) -> Bound:
    """``max over dimensions of (demand - capacity) / rate`` (0 for unlimited ones)."""
    per: dict[str, float] = {}
    for dim in DIMENSIONS:
        rate, capacity = limits.rate(dim), limits.capacity(dim)
        if rate is None or capacity is None:
            continue
        per[dim] = max(0.0, demand.get(dim, 0.0) - capacity) / rate
    if not per:
        return Bound(0.0, None, per)
    binding = max(per, key=lambda d: per[d])
    return Bound(per[binding], binding, per)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """Every figure of one (scenario, client) run; ``source`` says whose counts they are."""

    scenario: str
    client: str
    requests: int
    completed: int
    failed: int
    unfinished: int
    timed_out: bool
    wall_s: float
    debt_repay_s: float
    bound_s: float
    binding: str | None
    bound_per_dimension: Mapping[str, float]
    arrival_floor_s: float
    efficiency: float | None
    perfect_fifo_s: float | None
    perfect_work_conserving_s: float | None
    perfect_requests: int | None
    last_start_s: float | None
    perfect_last_start_s: float | None
    efficiency_fifo: float | None
    efficiency_work_conserving: float | None
    source: str
    server_429: int | None
    per_1k_429: float | None
    attempts_per_request: float | None
    utilisation: Mapping[str, float]
    statuses: Mapping[str, int]
    faults: Mapping[str, int]
    errors: Mapping[str, int]
    queue_wait_s: Mapping[str, Mapping[str, float | int]]
    e2e_s: Mapping[str, Mapping[str, float | int]]
    large_request: Mapping[str, float | None] | None = None
    series: Sequence[Sample] = field(default_factory=tuple)

    def wait_p95(self, priority: Priority) -> float | None:
        value = self.queue_wait_s.get(priority.name, {}).get("p95")
        return None if value is None else float(value)

    def efficiency_against(self, reference: str) -> float | None:
        """Efficiency against the ``"fifo"`` or ``"work_conserving"`` perfect schedule."""
        if reference == "fifo":
            return self.efficiency_fifo
        return self.efficiency_work_conserving

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["series"] = [
            [s.t, s.requests, s.input_tokens, s.output_tokens, s.rate_limited] for s in self.series
        ]
        data["series_columns"] = ["t", "requests", "input_tokens", "output_tokens", "rate_limited"]
        return data


def summarize(
    *,
    scenario: str,
    client: str,
    limits: Limits,
    run: DriveResult,
    server: Counters | None,
    samples: Sequence[Sample],
    arrival_floor_s: float,
    reference: References | None = None,
) -> RunMetrics:
    """Reduce a run to its metrics (server counters when available, else the client's).

    :param reference: the perfect schedules of the requests the run completed
    """
    outcomes = run.outcomes
    demand = _demand(server, outcomes)
    bound = lower_bound(demand, limits)
    floor = max(bound.seconds, arrival_floor_s)
    n = len(outcomes)
    wall = run.wall_s
    repay = _repay_seconds(server, limits)
    charged = wall + repay
    return RunMetrics(
        scenario=scenario,
        client=client,
        requests=n,
        completed=sum(o.ok for o in outcomes),
        failed=sum(o.failed for o in outcomes),
        unfinished=sum(o.delivery is None for o in outcomes),
        timed_out=run.timed_out,
        wall_s=round(wall, 4),
        debt_repay_s=round(repay, 4),
        bound_s=round(floor, 4),
        binding=bound.binding if bound.seconds >= arrival_floor_s else "arrivals",
        bound_per_dimension={k: round(v, 4) for k, v in bound.per_dimension.items()},
        arrival_floor_s=round(arrival_floor_s, 4),
        efficiency=round(floor / charged, 4) if floor > 0 and charged > 0 else None,
        last_start_s=_last_start(outcomes),
        attempts_per_request=_attempts(server, outcomes),
        utilisation=_utilisation(demand, limits, charged),
        errors=_errors(outcomes),
        queue_wait_s=_by_priority(outcomes, _queue_wait),
        e2e_s=_by_priority(outcomes, _e2e),
        large_request=_large(outcomes, limits),
        series=tuple(samples),
        **_against(reference, wall),
        **_server_view(server, n),
    )


_PERFECT_FIELDS = (
    "perfect_fifo_s",
    "perfect_work_conserving_s",
    "perfect_requests",
    "perfect_last_start_s",
    "efficiency_fifo",
    "efficiency_work_conserving",
)


def _against(reference: References | None, wall: float) -> dict[str, Any]:
    """The perfect schedules' figures, and the run's wall time measured against them."""
    if reference is None:
        return dict.fromkeys(_PERFECT_FIELDS)
    return {
        "perfect_fifo_s": round(reference.fifo_s, 4),
        "perfect_work_conserving_s": round(reference.work_conserving_s, 4),
        "perfect_requests": reference.requests,
        "perfect_last_start_s": round(reference.fifo_last_start_s, 4),
        "efficiency_fifo": _ratio(reference.fifo_s, wall),
        "efficiency_work_conserving": _ratio(reference.work_conserving_s, wall),
    }


def _server_view(server: Counters | None, n: int) -> dict[str, Any]:
    """What only the server's counters know (empty or ``None`` without them)."""
    if server is None:
        empty: dict[str, Any] = {"statuses": {}, "faults": {}}
        return {"source": "client", "server_429": None, "per_1k_429": None, **empty}
    return {
        "source": "server",
        "server_429": server.rate_limited,
        "per_1k_429": round(1000 * server.rate_limited / n, 2) if n else None,
        "statuses": dict(server.statuses),
        "faults": dict(server.faults),
    }


def _last_start(outcomes: Sequence[Outcome]) -> float | None:
    """When the last completed request was first sent (as its client saw it)."""
    starts = [
        o.submitted_s + o.delivery.queue_wait_s
        for o in outcomes
        if o.ok and o.delivery is not None and o.delivery.queue_wait_s is not None
    ]
    return round(max(starts), 4) if starts else None


def _ratio(perfect: float, wall: float) -> float | None:
    return round(perfect / wall, 4) if perfect > 0 and wall > 0 else None


def _demand(server: Counters | None, outcomes: Sequence[Outcome]) -> dict[Dimension, float]:
    if server is not None:
        return {dim: server.demand(dim) for dim in DIMENSIONS}
    done = [o.delivery for o in outcomes if o.ok and o.delivery is not None]
    return {
        "requests": float(len(done)),
        "input_tokens": float(sum(d.input_tokens for d in done)),
        "output_tokens": float(sum(d.output_tokens for d in done)),
    }


def _repay_seconds(server: Counters | None, limits: Limits) -> float:
    if server is None:
        return 0.0
    waits = [
        debt / rate
        for dim, debt in server.debt.items()
        if (rate := limits.rate(dim)) is not None  # type: ignore[arg-type]
    ]
    return max(waits, default=0.0)


def _attempts(server: Counters | None, outcomes: Sequence[Outcome]) -> float | None:
    if not outcomes:
        return None
    if server is not None:
        return round(server.received / len(outcomes), 3)
    seen = [o.delivery.attempts for o in outcomes if o.delivery and o.delivery.attempts]
    return round(sum(seen) / len(seen), 3) if seen else None


def _errors(outcomes: Sequence[Outcome]) -> dict[str, int]:
    names = (o.delivery.error for o in outcomes if o.failed and o.delivery is not None)
    return dict(Counter(name for name in names if name))


def _utilisation(
    demand: Mapping[Dimension, float], limits: Limits, wall: float
) -> dict[str, float]:
    """Share of each dimension's refill over the run that was used (beyond the initial
    bucket): equal to the efficiency on the binding dimension."""
    out: dict[str, float] = {}
    for dim in DIMENSIONS:
        rate, capacity = limits.rate(dim), limits.capacity(dim)
        if rate is not None and capacity is not None and wall > 0:
            out[dim] = round(max(0.0, demand.get(dim, 0.0) - capacity) / (wall * rate), 4)
    return out


def _queue_wait(outcome: Outcome) -> float:
    wait = outcome.delivery.queue_wait_s if outcome.delivery is not None else None
    return math.nan if wait is None else wait


def _e2e(outcome: Outcome) -> float:
    if outcome.finished_s is None or not outcome.ok:
        return math.nan
    return outcome.finished_s - outcome.submitted_s


def _by_priority(outcomes: Sequence[Outcome], value: Any) -> dict[str, dict[str, float | int]]:
    classes = sorted({o.priority for o in outcomes})
    return {
        priority_name(p): _rounded(percentiles(value(o) for o in outcomes if o.priority == p))
        for p in classes
    }


def _rounded(stats: Mapping[str, float | int]) -> dict[str, float | int]:
    return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in stats.items()}


def _large(outcomes: Sequence[Outcome], limits: Limits) -> dict[str, float | None] | None:
    """The starvation figures of the request tagged ``large``: its wait against the time
    its own size takes to refill (the goal: at most two such periods)."""
    large = next((o for o in outcomes if o.tag == "large"), None)
    rate = limits.rate("input_tokens")
    if large is None or rate is None:
        return None
    wait = large.delivery.queue_wait_s if large.delivery is not None else None
    refill = large.input_tokens / rate
    e2e = _e2e(large)
    return {
        "input_tokens": large.input_tokens,
        "submitted_s": round(large.submitted_s, 4),
        "refill_period_s": round(refill, 4),
        "wait_s": None if wait is None else round(wait, 4),
        "wait_periods": None if wait is None else round(wait / refill, 3),
        "e2e_s": None if math.isnan(e2e) else round(e2e, 4),
        "completed": float(large.ok),
    }
