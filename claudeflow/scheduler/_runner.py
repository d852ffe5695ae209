"""Running admitted jobs: one HTTP attempt at a time, settled exactly once.

The runner sends an attempt (plain or streamed), squares its permit with what the
server reports, feeds the server's rate-limit headers back into admission, and decides
through the retry policy whether the job ends here or comes back after a delay. It
also keeps the Flow's counters and spend, since it is where every outcome is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from .._clock import Clock, wall_time
from .._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BillingError,
    ClaudeflowError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    status_error,
)
from .._types import Cost
from ..limiter import Permit
from ..retry import RetryPolicy, ServerLimits, parse_rate_limits
from ..retry._headers import enforced_counts, parse_retry_after
from ..retry._overload import is_overload
from ..routing import ArmStatistics, KeyRing, Pool
from ..tokens import Calibrator, OutputReservation, PriceTable, Usage
from ..transport import SseEvent
from ._attempt import MESSAGES_PATH, Answer, consumed_by_failure, send_message
from ._budget import Spending
from ._job import Job
from ._result import Result
from ._stream import FlowStream, MessageAccumulator, stream_error

__all__ = ["Runner"]

log = logging.getLogger("claudeflow")

# Server token counts are rounded to the nearest thousand (api doc 2.1): only a gap
# larger than that means someone else is spending from the same key.
_TOKEN_ROUNDING: Final = 500.0


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
        self._retry = retry
        self._rng = rng
        self._clock = clock
        self._ring = ring
        self._spending = spending
        self._calibrator = calibrator
        self._reservation = reservation
        self._prices = prices
        self._count_cache_reads = count_cache_reads
        self._learn_limits = learn_limits
        self._reroute = reroute
        self.arms: dict[str, dict[str, Counter[str]]] = {}
        self.counts: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._last_headers: Mapping[str, str] | None = None
        self._last_wall = 0.0

    @property
    def spent_usd(self) -> float:
        return self._spending.budget.spent_usd

    def launched(self, job: Job, permit: Permit) -> None:
        """An attempt starts on ``permit``'s pool: count it there and charge the budget."""
        pool: Pool = permit.owner
        pool.in_flight += 1
        pool.key.in_flight += 1
        pool.key.requests += 1
        self._spending.reserve(job)

    # -- attempts --------------------------------------------------------------------

    async def attempt(self, job: Job, permit: Permit) -> float | None:
        """Run one attempt; return the delay before a retry, or ``None`` if it ended."""
        pool: Pool = permit.owner
        spent = _Spent()
        try:
            # A probe is streamed even when the caller did not ask for a stream: the
            # headers that teach the limits arrive before the generation, not after it.
            if job.channel is not None or pool.probing:
                return await self._attempt_stream(job, permit, pool, spent)
            return await self._attempt_plain(job, permit, pool, spent)
        finally:
            pool.in_flight -= 1
            pool.key.in_flight -= 1
            self._spending.settle(job, spent.usd, spent.tokens)

    async def _attempt_plain(
        self, job: Job, permit: Permit, pool: Pool, spent: _Spent
    ) -> float | None:
        started = self._clock.now()
        try:
            response, outcome = await send_message(
                pool.key.transport, job.body, _headers(job, pool), job.timeout
            )
        except ClaudeflowError as error:
            permit.settle(consumed_by_failure(error, job.cost))
            return self._after_failure(job, pool, error)
        except asyncio.CancelledError:
            # Interrupted in flight: the server has probably counted the request and its
            # input; no output reached us, so that reservation goes back.
            permit.settle(Cost(1, job.cost.input_tokens, 0))
            raise
        except Exception as unexpected:  # a bug, not an API outcome: still one outcome
            permit.settle(Cost(1, job.cost.input_tokens, 0))
            self.fail(job, unexpected)
            return None
        self._observe_server(pool, response.headers, response.status)
        if isinstance(outcome, Answer):
            self._succeed(job, permit, outcome, self._clock.now() - started, spent)
            return None
        permit.settle(consumed_by_failure(outcome, job.cost))
        return self._after_failure(job, pool, outcome)

    async def _attempt_stream(
        self, job: Job, permit: Permit, pool: Pool, spent: _Spent
    ) -> float | None:
        started = self._clock.now()
        acc = MessageAccumulator()
        # A stream bounds each read; a plain request streamed as a probe keeps its total.
        total = job.timeout if job.channel is None else math.inf
        try:
            async with (
                _deadline(self._clock, total),
                pool.key.transport.open_stream(
                    "POST",
                    MESSAGES_PATH,
                    headers=_headers(job, pool),
                    json={**job.body, "stream": True},
                    timeout=job.timeout,
                ) as response,
            ):
                self._observe_server(pool, response.headers, response.status)
                if response.status >= 300:
                    body = await response.read()
                    raise status_error(response.status, response.headers, body)
                await self._pump(permit, job.channel, acc, response.events())
                headers = response.headers
        except ClaudeflowError as error:
            if acc.content_started and job.channel is not None:
                # Content already reached the caller: no retry; settle what was used.
                permit.settle(self._used_so_far(acc))
                self.fail(job, error)
                return None
            permit.settle(consumed_by_failure(error, job.cost))
            return self._after_failure(job, pool, error)
        except asyncio.CancelledError:
            permit.settle(self._used_so_far(acc))
            raise
        except Exception as unexpected:
            permit.settle(self._used_so_far(acc))
            self.fail(job, unexpected)
            return None
        answer = Answer(acc.final(), Usage.from_api(acc.usage), headers)
        self._succeed(job, permit, answer, self._clock.now() - started, spent)
        return None

    async def _pump(
        self,
        permit: Permit,
        channel: FlowStream | None,
        acc: MessageAccumulator,
        events: AsyncIterator[SseEvent],
    ) -> None:
        """Read events into ``acc``, forward them once content has begun, settle early."""
        held: list[dict[str, Any]] = []
        async for event in events:
            if event.event == "ping":
                continue
            data = event.json()
            if event.event == "error" or data.get("type") == "error":
                raise stream_error(data)
            acc.apply(data)
            self._settle_progress(permit, acc, data)
            if channel is None:
                continue  # a plain request streamed as a probe: only the result matters
            if not acc.content_started:
                held.append(data)
                continue
            for early in held:
                channel.put(early)
            held.clear()
            channel.put(data)
        if not acc.finished:
            raise APIConnectionError("the stream ended before message_stop")

    def _settle_progress(self, permit: Permit, acc: MessageAccumulator, data: Any) -> None:
        """Square input at ``message_start`` and output at the final ``message_delta``."""
        kind = data.get("type")
        if kind == "message_start":
            permit.adjust(input_tokens=self._used_so_far(acc).input_tokens)
        elif kind == "message_delta" and (data.get("delta") or {}).get("stop_reason"):
            permit.adjust(output_tokens=self._used_so_far(acc).output_tokens)

    def _used_so_far(self, acc: MessageAccumulator) -> Cost:
        if not acc.message:
            return Cost(1, 0, 0)
        usage = Usage.from_api(acc.usage)
        return Cost(1, usage.itpm_tokens(self._count_cache_reads), usage.output_tokens)

    # -- outcomes --------------------------------------------------------------------

    def _succeed(
        self, job: Job, permit: Permit, answer: Answer, latency: float, spent: _Spent
    ) -> None:
        """Settle and resolve a success; record what it spent in ``spent``."""
        usage = answer.usage
        pool: Pool = permit.owner
        if pool.overload.clear():
            log.info("%s answers again: the whole line goes", pool.name)
            pool.buckets.on_change()
        permit.settle(Cost(1, usage.itpm_tokens(self._count_cache_reads), usage.output_tokens))
        if self._calibrator is not None:
            self._calibrator.observe(job.model, job.estimate, usage.total_input)
        self._reservation.observe(job.model, usage.output_tokens)
        cost = self._prices.cost_usd(job.model, usage)
        self._account(usage, cost)
        self._finish(
            job,
            Result(
                message=answer.message,
                usage=usage,
                estimated_input_tokens=job.estimate,
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
            ),
        )
        if job.arm is not None:
            self._count_arm(job, usage, cost, latency)
        spent.usd = cost or 0.0
        spent.tokens = usage.total_input + usage.output_tokens

    def arm_statistics(self) -> dict[str, Mapping[str, ArmStatistics]]:
        """Each split's arms, as frozen statistics."""
        return {
            split: MappingProxyType(
                {
                    model: ArmStatistics(
                        requests=c["requests"],
                        failed=c["failed"],
                        latency_s=c["latency_us"] / 1e6,
                        input_tokens=c["input_tokens"],
                        output_tokens=c["output_tokens"],
                        cost_usd=c["cost_nusd"] / 1e9,
                    )
                    for model, c in models.items()
                }
            )
            for split, models in self.arms.items()
        }

    def _count_arm(self, job: Job, usage: Usage, cost: float | None, latency: float) -> None:
        assert job.arm is not None
        arm = self.arms.setdefault(job.arm, {}).setdefault(job.model, Counter())
        arm["requests"] += 1
        arm["latency_us"] += round(latency * 1e6)
        arm["input_tokens"] += usage.input_tokens
        arm["output_tokens"] += usage.output_tokens
        arm["cost_nusd"] += round((cost or 0.0) * 1e9)

    def _after_failure(self, job: Job, pool: Pool, error: ClaudeflowError) -> float | None:
        self._end_probe(pool)
        if isinstance(error, _KEY_REFUSED):
            # The key (or, for a 403, the key for this model class) is refused for good;
            # the request itself may be fine on another key.
            if isinstance(error, PermissionDeniedError):
                self._ring.refuse(pool, error)
            else:
                reason = f"HTTP {error.status_code} {error.type or ''}".strip()
                self._ring.retire(pool.key, reason, error)
            if self._ring.pools(job.model_class):
                self.counts["retries"] += 1
                return 0.0
        delay = self._retry.next_delay(
            error,
            attempt=job.attempts,
            waited_s=job.retry_wait_s,
            rng=self._rng,
            now_wall=wall_time(),
        )
        if delay is not None and is_overload(error):
            # One shared condition: the pool pauses and probes; this job keeps its place.
            pause = pool.overload.trip(self._clock.now(), self._rng, _retry_after(error))
            log.info("529 on %s: probing again in %.2f s", pool.name, pause)
            delay = 0.0
        if isinstance(error, RateLimitError):
            self.counts["rate_limited"] += 1
            if delay is not None:
                # Hold everyone back until the server's retry-after: no stampede.
                pool.buckets.pause(delay, reason=f"429 ({error.message[:80]})")
                log.warning(
                    "429 from the server on %s: admission paused for %.2f s (%s)",
                    pool.name, delay, error,
                )  # fmt: skip
        if delay is None and _falls_back(error) and self._reroute(job, error):
            delay = 0.0  # the next model of its fallback chain, at once
        if delay is None:
            self.fail(job, error)
            return None
        self.counts["retries"] += 1
        log.info("attempt %d failed (%s); retrying in %.2f s", job.attempts, error, delay)
        return delay

    def fail(self, job: Job, error: BaseException) -> None:
        """End ``job`` with ``error`` (no-op if it already ended)."""
        self._finish(job, error)

    def _finish(self, job: Job, outcome: Result | BaseException) -> None:
        if job.channel is not None:
            job.channel.close()
        if job.future.done():
            return
        if isinstance(outcome, BaseException):
            self.counts["failed"] += 1
            if job.arm is not None:
                self.arms.setdefault(job.arm, {}).setdefault(job.model, Counter())["failed"] += 1
            if isinstance(outcome, ClaudeflowError):
                outcome.attempts = job.attempts
            job.future.set_exception(outcome)
        else:
            self.counts["completed"] += 1
            job.future.set_result(outcome)

    # -- accounting and the server's view --------------------------------------------

    def _account(self, usage: Usage, cost: float | None) -> None:
        self.counts["input_tokens"] += usage.input_tokens
        self.counts["output_tokens"] += usage.output_tokens
        self.counts["cache_creation_input_tokens"] += usage.cache_creation_input_tokens
        self.counts["cache_read_input_tokens"] += usage.cache_read_input_tokens
        if cost is None:
            self.counts["unpriced"] += 1

    @property
    def server(self) -> ServerLimits | None:
        """The server's view from the latest response (parsed when asked for)."""
        if self._last_headers is None:
            return None
        return parse_rate_limits(self._last_headers, now_wall=self._last_wall)

    def _observe_server(self, pool: Pool, headers: Mapping[str, str], status: int) -> None:
        """Let the server's rate-limit headers correct (or teach) the pool's buckets."""
        self.statuses[status] += 1
        self._last_headers, self._last_wall = headers, wall_time()
        counts = enforced_counts(headers)  # transports lower-case
        window: float | None = None
        if self._learn_limits and any(limit is not None for _, limit, _ in counts):
            pool.window.observe(headers)
            window = pool.window.window_s(pool.buckets.limits.window_s)
        for dim, limit, remaining in counts:
            if remaining is None:
                continue
            slack = 0.0 if dim == "requests" else _TOKEN_ROUNDING
            if window is not None and limit is not None:
                pool.buckets.learn(dim, limit, remaining + slack, window_s=window)
            pool.buckets.clamp(dim, remaining + slack)
        self._end_probe(pool)

    @staticmethod
    def _end_probe(pool: Pool) -> None:
        """After the pool's first answer (or failure), lift its one-request probe."""
        if pool.probing:
            pool.probing = False
            pool.buckets.on_change()


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
        if fired and task.uncancel() == 0:
            raise APITimeoutError(f"request timed out after {seconds:g}s") from None
        raise
    finally:
        timer.cancel()


class _Spent:
    """What an attempt spent, filled in when it succeeds."""

    __slots__ = ("tokens", "usd")

    def __init__(self) -> None:
        self.usd = 0.0
        self.tokens = 0


def _falls_back(error: ClaudeflowError) -> bool:
    """An error another model may not have: overload past the retries, or no such model."""
    return is_overload(error) or isinstance(error, NotFoundError)


def _retry_after(error: ClaudeflowError) -> float | None:
    if isinstance(error, APIStatusError):
        return parse_retry_after(error.headers, now_wall=wall_time())
    return None


def _headers(job: Job, pool: Pool) -> Mapping[str, str]:
    if not job.extra_headers:
        return pool.key.headers
    return {**pool.key.headers, **job.extra_headers}


# Refusals that belong to the key, not to the request: 401, 402 (no credit), and a 403
# (which may hold for one model class only, so it refuses the key that class's pool).
_KEY_REFUSED = (AuthenticationError, BillingError, PermissionDeniedError)
