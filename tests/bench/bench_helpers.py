"""Builders of benchmark values for the bench tests (no server, no clock)."""

from __future__ import annotations

from typing import Any

from claudeflow._types import Priority
from claudeflow.bench._drive import DriveResult
from claudeflow.bench._metrics import RunMetrics, summarize
from claudeflow.bench._record import Delivery, Outcome
from claudeflow.bench._reference import References
from claudeflow.bench._scenario import Limits
from claudeflow.bench._server import Counters

# 60 requests, 6,000 input and 600 output tokens per 6-second "minute", buckets of 10 %.
LIMITS = Limits(rpm=60, input_tpm=6_000, output_tpm=600, minute_seconds=6.0, burst=0.1)


def outcome(
    index: int,
    *,
    priority: int = Priority.NORMAL,
    wait: float | None = 0.0,
    ok: bool = True,
    tag: str = "",
    input_tokens: int = 100,
    submitted: float = 0.0,
    finished: float | None = 1.0,
) -> Outcome:
    delivery = Delivery(ok=ok, queue_wait_s=wait, attempts=1, error=None if ok else "Boom")
    return Outcome(index, priority, tag, input_tokens, submitted, finished, delivery)


def counters(**values: Any) -> Counters:
    return Counters(**values)


def run_metrics(
    *,
    scenario: str = "s",
    client: str = "claudeflow",
    outcomes: tuple[Outcome, ...] = (),
    wall_s: float = 2.0,
    server: Counters | None = None,
    limits: Limits = LIMITS,
    arrival_floor_s: float = 0.0,
    reference: References | None = None,
) -> RunMetrics:
    outcomes = outcomes or tuple(outcome(n) for n in range(10))
    return summarize(
        scenario=scenario,
        client=client,
        limits=limits,
        run=DriveResult(outcomes, wall_s, timed_out=False),
        server=server,
        samples=(),
        arrival_floor_s=arrival_floor_s,
        reference=reference,
    )
