"""Running admitted jobs: one HTTP attempt at a time, settled exactly once.

The runner holds one attempt path for plain and streamed jobs alike; each concern it
coordinates has its own home: the HTTP exchange (:mod:`._attempt`), stream pumping
(:mod:`._pump`), learning from the server's headers (:mod:`._server`), the retry
decision (:mod:`._retrying`) and outcomes, counters and pricing (:mod:`._outcomes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import AsyncIterator, Callable, Mapping

from .._clock import Clock
from .._errors import APIStatusError, APITimeoutError, ClaudeflowError, RateLimitError
from .._types import Cost
from ..limiter import Permit
from ..retry import RetryPolicy
from ..routing import KeyRing, Pool
from ..tokens import Calibrator, OutputReservation, PriceTable
from ..transport import SseEvent
from ._attempt import Answer, Pump, consumed_by_failure, exchange
from ._budget import Spending
from ._job import Job
from ._outcomes import Outcomes, Spent
from ._pump import pump, used_so_far
from ._retrying import RetryDecision
from ._server import ServerView
from ._statistics import RunnerStatistics
from ._stream import MessageAccumulator

__all__ = ["Runner"]


class Runner:
    """Executes attempts for one Flow run and records their outcomes."""

    def __init__(
        self,
        *,
        retry: RetryPolicy,
        rng: random.Random,
        clock: Clock,
        ring: KeyRing,
        spending: Spending,
        calibrator: Calibrator | None,
        reservation: OutputReservation,
        prices: PriceTable,
        count_cache_reads: bool,
        learn_limits: bool,
        reroute: Callable[[Job, BaseException], bool],
    ) -> None:
        self._clock = clock
        self._spending = spending
        self._count_cache_reads = count_cache_reads
        self._reservation = reservation
        self._decision = RetryDecision(retry, rng, clock, ring, reroute)
        self._server = ServerView(learn_limits=learn_limits)
        self._outcomes = Outcomes(
            calibrator=calibrator,
            reservation=reservation,
            prices=prices,
            count_cache_reads=count_cache_reads,
        )

    # -- what the Flow reads -----------------------------------------------------------

    def statistics(self) -> RunnerStatistics:
        """The runner's counters and the server's latest view, frozen."""
        return self._outcomes.statistics(self._server.statuses, self._server.limits)

    # -- attempts ----------------------------------------------------------------------

    def launched(self, job: Job, permit: Permit) -> None:
        """An attempt starts on ``permit``'s pool: count it there and charge the budget."""
        pool: Pool = permit.owner
        pool.in_flight += 1
        pool.key.in_flight += 1
        pool.key.requests += 1
        self._spending.reserve(job)

    def charged_as_generated(self, job: Job) -> bool:
        """Whether ``job``'s output is charged as it is generated (it always streams)."""
        return self._reservation.as_generated(job.body["max_tokens"])

    def unlaunched(self, job: Job, permit: Permit) -> None:
        """The attempt :meth:`launched` counted never ran (cancelled before it began)."""
        pool: Pool = permit.owner
        pool.in_flight -= 1
        pool.key.in_flight -= 1
        pool.key.requests -= 1
        self._spending.settle(job, 0.0, 0)

    async def attempt(self, job: Job, permit: Permit) -> float | None:
        """Run one attempt; return the delay before a retry, or ``None`` if it ended."""
        pool: Pool = permit.owner
        spent = Spent()
        sent = pool.buckets.sent()  # the pool's lead follows how long answers take
        try:
            return await self._attempt(job, permit, pool, spent, sent)
        finally:
            pool.buckets.answered(sent)  # no headers (an error): the end bounds it too
            pool.in_flight -= 1
            pool.key.in_flight -= 1
            self._spending.settle(job, spent.usd, spent.tokens)

    async def _attempt(
        self, job: Job, permit: Permit, pool: Pool, spent: Spent, sent: int | None
    ) -> float | None:
        started = self._clock.now()
        # A probe is streamed even when the caller did not ask for a stream: the
        # headers that teach the limits arrive before the generation, not after it.
        # Output charged as generated needs the deltas: such a request always streams.
        live = self.charged_as_generated(job)
        # So is a request whose pool waits for its first answer to time its transit.
        streamed = job.channel is not None or pool.probing or live or pool.buckets.early_headers()
        acc = MessageAccumulator()
        outcome: Answer | ClaudeflowError
        total = _total_s(job, streamed)
        try:
            if total is None:  # the common case; entering a context manager costs µs
                acc_or_none = acc if streamed else None
                outcome = await self._exchange(job, permit, pool, acc_or_none, live, sent)
            else:
                async with _deadline(self._clock, total):
                    outcome = await self._exchange(job, permit, pool, acc, live, sent)
        except ClaudeflowError as error:
            if acc.content_started and job.channel is not None:
                # Content already reached the caller: no retry; settle what was used.
                permit.settle(used_so_far(acc, self._count_cache_reads))
                self.fail(job, error)
                return None
            outcome = error
        except asyncio.CancelledError:
            permit.settle(self._interrupted(job, acc, streamed))
            raise
        except Exception as unexpected:  # a bug, not an API outcome: still one outcome
            permit.settle(self._interrupted(job, acc, streamed))
            self.fail(job, unexpected)
            return None
        if isinstance(outcome, Answer):
            if streamed:
                self._reservation.observe_text(
                    job.model, acc.generated_chars, outcome.usage.output_tokens
                )
            latency = self._clock.now() - started
            self._outcomes.succeed(job, permit, outcome, latency, spent)
            return None
        permit.settle(consumed_by_failure(outcome, job.cost))
        return self._after_failure(job, pool, outcome)

    async def _exchange(
        self,
        job: Job,
        permit: Permit,
        pool: Pool,
        acc: MessageAccumulator | None,
        live: bool,
        sent: int | None,
    ) -> Answer | APIStatusError:
        """One request on ``pool``'s key; streamed into ``acc`` when there is one.

        ``live``: the output is charged as it is generated.
        """
        return await exchange(
            pool.key.transport,
            job.body,
            _headers(job, pool),
            job.timeout,
            observe=lambda headers, status: self._observe(pool, sent, headers, status),
            pump=None if acc is None else self._pump_into(job, permit, acc, live),
        )

    def _observe(
        self, pool: Pool, sent: int | None, headers: Mapping[str, str], status: int
    ) -> None:
        pool.buckets.answered(sent)  # the request has reached the server by now
        self._server.observe(pool, headers, status)

    def _pump_into(self, job: Job, permit: Permit, acc: MessageAccumulator, live: bool) -> Pump:
        """What reads a stream's events into ``acc`` (built only for streams)."""

        async def read_events(events: AsyncIterator[SseEvent]) -> MessageAccumulator:
            await pump(
                events, acc, permit, job.channel, count_cache_reads=self._count_cache_reads,
                ahead=self._reservation.ahead if live else None,
                max_tokens=job.body["max_tokens"],
                chars_per_token=self._reservation.chars_per_token(job.model),
            )  # fmt: skip
            return acc

        return read_events

    def _interrupted(self, job: Job, acc: MessageAccumulator, streamed: bool) -> Cost:
        """What an attempt cut off in flight (cancelled, or a bug) most likely cost."""
        if streamed:
            used = used_so_far(acc, self._count_cache_reads)
            # The server counted what it generated; the usage says so only at the end.
            generated = acc.generated_tokens(self._reservation.chars_per_token(job.model))
            return Cost(1, used.input_tokens, max(used.output_tokens, generated))
        # The server has probably counted the request and its input; no output reached
        # us, so that reservation goes back.
        return Cost(1, job.cost.input_tokens, 0)

    def _after_failure(self, job: Job, pool: Pool, error: ClaudeflowError) -> float | None:
        delay = self._decision.delay(job, pool, error)
        if isinstance(error, RateLimitError):
            self._outcomes.counts["rate_limited"] += 1
        if delay is None:
            self.fail(job, error)
            return None
        self._outcomes.counts["retries"] += 1
        return delay

    def fail(self, job: Job, error: BaseException) -> None:
        """End ``job`` with ``error`` (no-op if it already ended)."""
        self._outcomes.finish(job, error)


def _total_s(job: Job, streamed: bool) -> float | None:
    """The clock deadline of a whole attempt, where the transport cannot keep one.

    A plain request's transport bounds the whole reply; a stream's bounds each read, and
    a caller's stream may rightly run for many minutes. A plain request streamed as a
    probe keeps its total.
    """
    if streamed and job.channel is None:
        return job.timeout
    return None


@contextlib.asynccontextmanager
async def _deadline(clock: Clock, seconds: float | None) -> AsyncIterator[None]:
    """Raise :class:`APITimeoutError` if the block runs longer than ``seconds`` of ``clock``."""
    if seconds is None or seconds == math.inf:
        yield
        return
    task = asyncio.current_task()
    assert task is not None
    fired = False

    def expire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    timer = clock.call_later(seconds, expire)
    try:
        yield
    except asyncio.CancelledError:
        # Our own cancel becomes a timeout; anyone else's stays a cancellation.
        if fired and task.uncancel() == 0:
            raise APITimeoutError(f"request timed out after {seconds:g}s") from None
        raise
    finally:
        timer.cancel()


def _headers(job: Job, pool: Pool) -> Mapping[str, str]:
    if not job.extra_headers:
        return pool.key.headers  # the common case: no copy per attempt
    return {**pool.key.headers, **job.extra_headers}
