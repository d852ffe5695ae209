"""Outcomes: each job's one ending, and the counters, prices and arms it adds to.

Every submitted job ends exactly once (principle 8): :meth:`Outcomes.finish` is the one
place a job's future is resolved, so the counters here are exact. They are read as a
frozen :class:`RunnerStatistics` snapshot (anyio's ``statistics()`` pattern), never
as the live counters.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .._errors import ClaudeflowError
from .._types import Cost
from ..limiter import Permit
from ..retry import ServerLimits
from ..routing import ArmStatistics, Pool
from ..tokens import Calibrator, OutputReservation, PriceTable, Usage
from ._attempt import Answer
from ._job import Job
from ._result import Result
from ._statistics import RunnerStatistics

__all__ = ["Outcomes", "Spent"]

log = logging.getLogger("claudeflow")


@dataclass(slots=True)
class Spent:
    """What one attempt spent, filled in when it succeeds (for the budget's settle)."""

    usd: float = 0.0
    tokens: int = 0


class Outcomes:
    """Resolves jobs and keeps the counters: tokens, cost, retries, each split's arms."""

    def __init__(
        self,
        *,
        calibrator: Calibrator | None,
        reservation: OutputReservation,
        prices: PriceTable,
        count_cache_reads: bool,
    ) -> None:
        self._calibrator = calibrator
        self._reservation = reservation
        self._prices = prices
        self._count_cache_reads = count_cache_reads
        self.counts: Counter[str] = Counter()
        # Integers only (µs, nano-dollars): sums of floats would drift with order.
        self.arms: dict[str, dict[str, Counter[str]]] = {}

    def succeed(
        self, job: Job, permit: Permit, answer: Answer, latency: float, spent: Spent
    ) -> None:
        """Settle ``permit`` to the answer's usage, learn from it and resolve ``job``.

        What it cost goes into ``spent``, which the runner settles the budget with.
        """
        usage = answer.usage
        pool: Pool = permit.owner
        # Any success ends a 529 window: the probe answered, so everyone goes at once.
        if pool.overload.clear():
            log.info("%s answers again: the whole line goes", pool.name)
            pool.buckets.on_change()
        # Settled before the caller is resumed: capacity is back in the line at once.
        permit.settle(Cost(1, usage.itpm_tokens(self._count_cache_reads), usage.output_tokens))
        if self._calibrator is not None and job.estimate is not None:
            self._calibrator.observe(job.model, job.estimate, usage.total_input)
        self._reservation.observe(job.model, usage.output_tokens)
        cost = self._prices.cost_usd(job.model, usage)
        self._account(usage, cost)
        self.finish(job, _result(job, pool, answer, latency, cost))
        if job.arm is not None:
            self._count_arm(job, usage, cost, latency)
        spent.usd = cost or 0.0
        spent.tokens = usage.total_input + usage.output_tokens

    def finish(self, job: Job, outcome: Result | BaseException) -> None:
        """End ``job`` with ``outcome`` (no-op if it already ended)."""
        if job.channel is not None:
            job.channel.close()  # even for an ended job: a stream's reader must not hang
        # Exactly one outcome per request: a cancelled or already-failed job keeps its own.
        if job.future.done():
            return
        if isinstance(outcome, BaseException):
            self.counts["failed"] += 1
            if job.arm is not None:
                self.arms.setdefault(job.arm, {}).setdefault(job.model, Counter())["failed"] += 1
            if isinstance(outcome, ClaudeflowError):
                outcome.attempts = job.attempts  # the caller sees how hard we tried
            job.future.set_exception(outcome)
        else:
            self.counts["completed"] += 1
            job.future.set_result(outcome)

    def arm_statistics(self) -> dict[str, Mapping[str, ArmStatistics]]:
        """Each split's arms, as frozen statistics."""
        return {
            split: MappingProxyType({model: _arm(c) for model, c in models.items()})
            for split, models in self.arms.items()
        }

    def statistics(
        self, statuses: Mapping[int, int], server: ServerLimits | None
    ) -> RunnerStatistics:
        """A frozen snapshot, with the server's view (kept by :class:`ServerView`)."""
        c = self.counts
        return RunnerStatistics(
            completed=c["completed"],
            failed=c["failed"],
            retries=c["retries"],
            rate_limited=c["rate_limited"],
            input_tokens=c["input_tokens"],
            output_tokens=c["output_tokens"],
            cache_creation_input_tokens=c["cache_creation_input_tokens"],
            cache_read_input_tokens=c["cache_read_input_tokens"],
            unpriced_requests=c["unpriced"],
            statuses=MappingProxyType(dict(statuses)),
            server=server,
            arms=MappingProxyType(self.arm_statistics()),
        )

    def _account(self, usage: Usage, cost: float | None) -> None:
        self.counts["input_tokens"] += usage.input_tokens
        self.counts["output_tokens"] += usage.output_tokens
        self.counts["cache_creation_input_tokens"] += usage.cache_creation_input_tokens
        self.counts["cache_read_input_tokens"] += usage.cache_read_input_tokens
        if cost is None:
            self.counts["unpriced"] += 1

    def _count_arm(self, job: Job, usage: Usage, cost: float | None, latency: float) -> None:
        assert job.arm is not None
        arm = self.arms.setdefault(job.arm, {}).setdefault(job.model, Counter())
        arm["requests"] += 1
        arm["latency_us"] += round(latency * 1e6)
        arm["input_tokens"] += usage.input_tokens
        arm["output_tokens"] += usage.output_tokens
        arm["cost_nusd"] += round((cost or 0.0) * 1e9)


def _result(job: Job, pool: Pool, answer: Answer, latency: float, cost: float | None) -> Result:
    return Result(
        message=answer.message,
        usage=answer.usage,
        # Every admitted job was counted by its lane; the bound is only a fallback for types.
        estimated_input_tokens=job.cost.input_tokens if job.estimate is None else job.estimate,
        reserved=job.cost,
        attempts=job.attempts,
        queue_wait_s=job.queue_wait_s,
        retry_wait_s=job.retry_wait_s,
        latency_s=latency,
        cost_usd=cost,
        request_id=answer.headers.get("request-id"),
        priority=job.priority,
        key=pool.key.name,
        pool=pool.name,
        tried=job.tried,
        arm=job.arm,
    )


def _arm(c: Counter[str]) -> ArmStatistics:
    return ArmStatistics(
        requests=c["requests"],
        failed=c["failed"],
        latency_s=c["latency_us"] / 1e6,
        input_tokens=c["input_tokens"],
        output_tokens=c["output_tokens"],
        cost_usd=c["cost_nusd"] / 1e9,
    )
