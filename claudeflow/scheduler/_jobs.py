"""Turning a call into a :class:`Job`: route, validate, estimate, check, and reroute.

Everything here happens before the job enters a line (or, for a fallback, between two
lines), so a request that can never be served is refused at once, within milliseconds,
with an error that says why. (A prompt counted locally is only bounded here, cheaply:
one whose count overflows every pool, though its bound does not, is refused when its
line counts it, unless its queue timeout ends it first.)
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from .._clock import Clock
from .._config import Timeouts, check_positive
from .._errors import CapacityError
from .._types import Cost
from ..routing import KeyRing, PoolLimits, Router, max_output_tokens
from ..tokens import Calibrator, OutputReservation, PriceTable, TokenEstimator, Usage
from ._arguments import extra_headers as checked_extra_headers
from ._budget import Spending
from ._job import Job
from ._request import validate_body

__all__ = ["UNSET", "Estimator", "JobMaker"]

log = logging.getLogger("claudeflow")

UNSET: Final[Any] = object()  # "not given", as distinct from None ("no limit")
# About 256 tokens of prompt: counting more costs more (~0.1 ms) than a pass of the loop.
_COSTLY_TO_COUNT_CHARS = 1_000


class Estimator(Protocol):
    """Anything that estimates a request's input tokens (:class:`TokenEstimator` does)."""

    async def estimate_async(self, body: Mapping[str, Any]) -> int: ...


class JobMaker:
    """Builds jobs for one Flow run (the parts it needs, and nothing it does not)."""

    def __init__(
        self,
        *,
        router: Router,
        pool_limits: PoolLimits,
        ring: KeyRing,
        spending: Spending,
        estimator: Estimator,
        calibrator: Calibrator | None,
        reservation: OutputReservation,
        prices: PriceTable,
        clock: Clock,
        draw: Callable[[], float],
        timeouts: Timeouts,
        queue_timeout: float | None,
        priced: bool,
    ) -> None:
        self._router = router
        self._pool_limits = pool_limits
        self._ring = ring
        self._spending = spending
        self._estimator = estimator
        self._calibrator = calibrator
        self._reservation = reservation
        self._prices = prices
        self._clock = clock
        self._draw = draw
        self._timeouts = timeouts
        self._queue_timeout = queue_timeout
        self._priced = priced  # a budget or a dollar quota needs each job's worst price
        # Local counting is CPU only, so its lane can do it; a server count is a network
        # round trip that callers wait for concurrently instead.
        self._deferred = isinstance(estimator, TokenEstimator)

    def route(self, params: dict[str, Any], task: str | None) -> tuple[dict[str, Any], str | None]:
        """The validated body with its model resolved, and the split it came from."""
        model = params.get("model")
        routed, arm = self._router.resolve(model, task=task, draw=self._draw)
        # validate_body copies: merge only a model that routing changed (one copy, not two).
        changed = routed is not None and routed is not model
        return validate_body({**params, "model": routed} if changed else params), arm

    async def make(
        self,
        body: dict[str, Any],
        arm: str | None,
        priority: int,
        queue_timeout: float | None,
        extra_headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Job:
        model = body["model"]
        model_class = self._pool_limits.classes(model)
        output_tokens = self._reservation.reserve(model, body["max_tokens"])
        if self._deferred:
            # Counted later, at the head of the line: a backlog submitted at once would
            # otherwise be counted in full before the first request could go out.
            estimate = None
            reserved_in, costly = self._lower_bound(model, model_class, body, output_tokens)
        else:
            estimate, costly = await self._estimator.estimate_async(body), False
            reserved_in = self._calibrated(model, estimate)
        cost = Cost(1, reserved_in, output_tokens)
        self.check_fits(model_class, cost)
        if queue_timeout is UNSET:
            queue_timeout = self._queue_timeout  # checked once, by QueuePolicy
        else:
            check_positive("queue_timeout", queue_timeout)
        now = self._clock.now()
        job = Job(
            body=body,
            extra_headers=checked_extra_headers(extra_headers),
            model=model,
            model_class=model_class,
            priority=priority,
            cost=cost,
            estimate=estimate,
            costly_count=costly,
            worst_usd=self._worst_usd(model, reserved_in, body["max_tokens"]),
            future=asyncio.get_running_loop().create_future(),
            submitted_at=now,
            deadline=None if queue_timeout is None else now + queue_timeout,
            timeout=self._attempt_timeout(timeout),
            queue_timeout=queue_timeout,
            fallbacks=self._router.chain(model),
            tried=(model,),
            arm=arm,
        )
        self._spending.check_open(job)
        return job

    async def estimate(self, job: Job) -> None:
        """Count a deferred job's input tokens (its lane does, just before admitting it).

        :raises CapacityError: the counted request can never fit any pool
        """
        body = job.body
        estimate = await self._estimator.estimate_async(body)
        if job.body is not body:
            return  # moved to a fallback model while it was counted: its new line counts it
        cost = Cost(1, self._calibrated(job.model, estimate), job.cost.output_tokens)
        self.check_fits(job.model_class, cost)
        job.estimate, job.cost, job.costly_count = estimate, cost, False
        job.worst_usd = self._worst_usd(job.model, cost.input_tokens, job.body["max_tokens"])

    def _calibrated(self, model: str, estimate: int) -> int:
        return self._calibrator.adjust(model, estimate) if self._calibrator else estimate

    def _lower_bound(
        self, model: str, model_class: str, body: Mapping[str, Any], output_tokens: int
    ) -> tuple[int, bool]:
        """At most what :meth:`estimate` will reserve, and whether counting it will cost
        more than a pass of the event loop.

        The cheap bound skips the words of shorter texts. A text has no more words than
        characters, so when even that many more could not fit, the words are read too:
        a request they show hopeless is refused at submission, uncounted.
        """
        estimator = self._estimator
        assert isinstance(estimator, TokenEstimator)
        bound, work = estimator.lower_bound_and_work(body)
        most = bound + math.ceil(work * (1.0 + estimator.margin))  # any words at all
        if not self._fits(model_class, Cost(1, self._at_most(model, most), output_tokens)):
            bound = estimator.lower_bound(body, words_from=0)
        return self._at_most(model, bound), work >= _COSTLY_TO_COUNT_CHARS

    def _fits(self, model_class: str, cost: Cost) -> bool:
        try:
            self.check_fits(model_class, cost)
        except CapacityError:
            return False
        return True

    def _tight_bound(self, job: Job) -> int | None:
        """An uncounted job's bound with every text's words (``None``: it is counted).

        The bound at submission skips the words of shorter texts: a fallback that could
        not hold even those is skipped here, not refused once its line counts the job.
        """
        if job.estimate is not None or not isinstance(self._estimator, TokenEstimator):
            return None
        return self._estimator.lower_bound(job.body, words_from=0)

    def _at_most(self, model: str, bound: int) -> int:
        """A lower bound as ``model``'s reservation sees it (the calibrator may scale it
        down)."""
        return min(bound, self._calibrated(model, bound))

    def reroute(self, job: Job, error: BaseException) -> bool:
        """Move ``job`` to the next model of its fallback chain that can take it."""
        # Read the words once, and only when there is a fallback to check them against.
        tight = self._tight_bound(job) if job.fallbacks else None
        while job.fallbacks:
            model, job.fallbacks = job.fallbacks[0], job.fallbacks[1:]
            body = {**job.body, "model": model}
            cap = max_output_tokens(model)
            if cap is not None and body["max_tokens"] > cap:
                body["max_tokens"] = cap  # the same request, within what this model allows
            out = self._reservation.reserve(model, body["max_tokens"])
            input_tokens = job.cost.input_tokens if tight is None else self._at_most(model, tight)
            cost = Cost(1, input_tokens, out)
            model_class = self._pool_limits.classes(model)
            try:
                self.check_fits(model_class, cost)
            except CapacityError:
                continue
            log.warning("falling back from %s to %s (%s)", job.model, model, error)
            job.body, job.model, job.model_class, job.cost = body, model, model_class, cost
            job.worst_usd = self._worst_usd(model, cost.input_tokens, body["max_tokens"])
            job.tried = (*job.tried, model)
            return True
        return False

    def check_fits(self, model_class: str, cost: Cost) -> None:
        """Raise :class:`CapacityError` unless some key's pool could ever admit ``cost``."""
        pools = self._ring.pools(model_class)
        for index, pool in enumerate(pools):
            try:
                pool.buckets.check_fits(cost)
                return
            except CapacityError:
                if index == len(pools) - 1:
                    raise

    def _worst_usd(self, model: str, input_tokens: int, max_tokens: int) -> float:
        if not self._priced:
            return 0.0
        return self._prices.cost_usd(model, Usage(input_tokens, max_tokens)) or 0.0

    def _attempt_timeout(self, timeout: float | None) -> float:
        if timeout is UNSET:
            return self._timeouts.total
        if timeout is None:
            return math.inf  # as in the SDK: no limit at all
        check_positive("timeout", timeout)
        return timeout
