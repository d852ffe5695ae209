"""The Flow: one object a service creates once, awaits per request, and closes.

Data path (see DESIGN.md): ``create()`` validates and estimates the request and queues
a :class:`Job`; one dispatcher task admits the head of the line when every limit can
pay (no polling: it sleeps until the exact instant, or until a release wakes it); each
admitted job runs as its own task, settles its permit to the actual usage, and either
resolves the caller's future or, after the retry policy's delay, returns to its
original place in line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter, deque
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Final, Literal, Protocol

from .._clock import Clock, LoopClock, TimerHandle, wall_time
from .._config import RateLimits, Timeouts, check_positive
from .._errors import (
    APIConnectionError,
    BudgetExceededError,
    ClaudeflowError,
    ConfigError,
    DeadlineExceededError,
    FlowClosedError,
    QueueFullError,
    RateLimitError,
    status_error,
)
from .._types import Cost, Priority
from ..limiter import DIMENSIONS, Admission, Permit
from ..retry import RetryPolicy, ServerLimits, parse_rate_limits
from ..tokens import (
    Calibrator,
    OutputReservation,
    PriceTable,
    ServerTokenCounter,
    TokenEstimator,
    Usage,
)
from ..transport import AiohttpTransport, Transport
from ._attempt import MESSAGES_PATH, Answer, consumed_by_failure, send_message
from ._job import Job
from ._queue import WaitingLine
from ._request import validate_body
from ._result import FlowStats, Result
from ._stream import FlowStream, MessageAccumulator, stream_error

__all__ = ["Estimator", "Flow"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_API_VERSION: Final = "2023-06-01"
# Server token counts are rounded to the nearest thousand (api doc 2.1): only a gap
# larger than that means someone else is spending from the same key.
_TOKEN_ROUNDING = 500.0
_UNSET: Final[Any] = object()


class Estimator(Protocol):
    """Anything that estimates a request's input tokens (:class:`TokenEstimator` does)."""

    async def estimate_async(self, body: Mapping[str, Any]) -> int: ...


class Flow:
    """Throttled, prioritised, retried access to the Claude Messages API.

    >>> limits = RateLimits(rpm=50, input_tpm=30_000, output_tpm=8_000)
    >>> async with Flow(limits=limits, concurrency=16) as flow:  # doctest: +SKIP
    ...     result = await flow.create(model="claude-haiku-4-5", max_tokens=256,
    ...                                messages=[{"role": "user", "content": "Hi"}])

    :param api_key: defaults to ``$ANTHROPIC_API_KEY``; never logged or shown.
    :param base_url: defaults to ``$ANTHROPIC_BASE_URL``, else the real API.
    :param limits: the account's per-minute limits. Unset dimensions are learned from the
        server's ``anthropic-ratelimit-*`` headers when ``learn_limits`` is on (one request
        is sent alone first, as a probe).
    :param concurrency: max requests in flight (``None``: unbounded).
    :param max_queue: max requests waiting; beyond it ``create`` raises
        :class:`QueueFullError` (or waits for space with ``wait_for_space=True``).
    :param aging_s: seconds of waiting worth one priority class (``None``: strict classes).
    :param queue_timeout: default limit on how long a request may wait before it starts.
    :param token_counting: ``"local"`` (tiktoken, calibrated online against the server's
        counts) or ``"server"`` (exact counts from ``/v1/messages/count_tokens``, within
        ``count_tokens_rpm`` and cached by content; the local estimate is the fallback).
    :param output_reservation: how many output tokens to reserve per request (default:
        ``max_tokens``; ``OutputReservation(mode="adaptive")`` for accounts whose OTPM
        counts actual output only).
    :param count_cache_reads: count cache reads toward input tokens per minute (only a few
        older models do).
    :param budget_usd: refuse new work once this much has been spent.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        limits: RateLimits | None = None,
        concurrency: int | None = 16,
        max_queue: int | None = 100_000,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        aging_s: float | None = None,
        queue_timeout: float | None = None,
        learn_limits: bool = True,
        count_cache_reads: bool = False,
        output_reservation: OutputReservation | None = None,
        estimator: Estimator | None = None,
        token_counting: Literal["local", "server"] = "local",
        count_tokens_rpm: float = 5_000,
        calibrate: bool = True,
        prices: PriceTable | None = None,
        budget_usd: float | None = None,
        anthropic_version: str = DEFAULT_API_VERSION,
        default_headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_int("concurrency", concurrency)
        _check_int("max_queue", max_queue)
        check_positive("aging_s", aging_s)
        check_positive("queue_timeout", queue_timeout)
        if budget_usd is not None and budget_usd < 0:
            raise ConfigError("budget_usd", f"must be >= 0, got {budget_usd!r}")
        if token_counting not in ("local", "server"):
            raise ConfigError(
                "token_counting", f"must be 'local' or 'server', got {token_counting!r}"
            )
        check_positive("count_tokens_rpm", count_tokens_rpm, allow_none=False)
        if limits is not None and not isinstance(limits, RateLimits):
            raise ConfigError("limits", f"must be a RateLimits, got {type(limits).__name__}")
        self._api_key = _Secret(_api_key(api_key))
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.limits = limits
        self.concurrency = concurrency
        self.max_queue = max_queue
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.queue_timeout = queue_timeout
        self.learn_limits = learn_limits
        self.count_cache_reads = count_cache_reads
        self.budget_usd = budget_usd
        self._clock = clock or LoopClock()
        self._rng = rng or random.Random()
        self._estimator: Estimator = estimator or TokenEstimator()
        self._calibrator = Calibrator() if calibrate else None
        self._reservation = output_reservation or OutputReservation()
        self._prices = prices or PriceTable.default()
        self._owns_transport = transport is None
        self._transport: Transport = transport or AiohttpTransport(
            self.base_url, timeouts=self.timeouts
        )
        self._headers = {
            "anthropic-version": anthropic_version,
            "content-type": "application/json",
            **(default_headers or {}),
        }
        if token_counting == "server" and estimator is None:
            self._estimator = ServerTokenCounter(
                self._transport,
                {**self._headers, "x-api-key": self._api_key.value},
                self._clock,
                rpm=count_tokens_rpm,
                window_s=(limits or RateLimits()).window_s,
            )
        self._aging_s = aging_s
        self._state = "new"
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        """Per-run state; rebuilt on each start so a Flow binds to no loop until used."""
        self._line: WaitingLine[Job] = WaitingLine(self._aging_s)
        self._admission = Admission(self.limits, concurrency=self.concurrency, clock=self._clock)
        self._admission.on_change = self._wake
        self._probing = self.learn_limits and _has_unset(self.limits)
        if self._probing:
            self._admission.concurrency = 1  # one request learns the limits first
        self._tasks: set[asyncio.Task[None]] = set()
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._wake_future: asyncio.Future[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None
        self._counts: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()
        self._spent_usd = 0.0
        self._server: ServerLimits | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Flow:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Leaving normally drains the queue; leaving on an error cancels what is left,
        # since the callers that were waiting are most likely gone with that error.
        await self.aclose(cancel=exc_type is not None)

    async def start(self) -> None:
        """Start the dispatcher in the running loop (``async with`` does this)."""
        if self._state == "running":
            raise RuntimeError("Flow is already running")
        if self._state != "new":
            self._reset_runtime()
        self._idle = asyncio.Event()
        self._idle.set()
        self._dispatcher = asyncio.create_task(self._dispatch(), name="claudeflow-dispatcher")
        self._state = "running"

    async def aclose(self, *, cancel: bool = False) -> None:
        """Stop taking work, then drain the queue (default) or cancel it.

        Either way every submitted request ends with exactly one outcome: cancelled ones
        raise :class:`FlowClosedError` to their callers.
        """
        if self._state != "running":
            return
        self._state = "closing"
        for waiter in self._space_waiters:
            if not waiter.done():
                waiter.set_exception(FlowClosedError("Flow closed while waiting for space"))
        if cancel:
            self._cancel_all()
        assert self._idle is not None
        await self._idle.wait()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        if self._owns_transport:
            await self._transport.aclose()
        self._state = "closed"

    def _cancel_all(self) -> None:
        closed = FlowClosedError("cancelled: the Flow was closed with cancel=True")
        for job in self._line.drain():
            self._finish(job, error=closed)
        for task in list(self._tasks):
            task.cancel(closed.args[0])

    # -- submitting ------------------------------------------------------------------

    async def create(
        self,
        *,
        priority: int = Priority.NORMAL,
        queue_timeout: float | None = _UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Result:
        """Send one Messages API request when the limits allow; return its :class:`Result`.

        Takes every ``messages.create`` body parameter (model, max_tokens, messages,
        system, tools, ...); unknown ones pass through to the API unchanged.

        :param priority: :class:`Priority` or any int; lower goes first.
        :param queue_timeout: max seconds to wait before the first attempt starts.
        :raises QueueFullError: the queue is full and ``wait_for_space`` is false.
        :raises CapacityError: the request can never fit the limits.
        :raises APIStatusError: the API refused it and retrying could not help.
        """
        self._check_open()
        body = validate_body(params)
        job = await self._new_job(body, int(priority), queue_timeout, extra_headers)
        await self._enqueue(job, wait_for_space)
        try:
            result: Result = await job.future
        except asyncio.CancelledError:
            self._abandon(job)
            raise
        return result

    @contextlib.asynccontextmanager
    async def stream(
        self,
        *,
        priority: int = Priority.NORMAL,
        queue_timeout: float | None = _UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> AsyncIterator[FlowStream]:
        """Stream one request through the same admission, priority and retry path.

        >>> async with flow.stream(model=..., max_tokens=..., messages=...) as stream:
        ...     async for text in stream.text_stream():  # doctest: +SKIP
        ...         print(text, end="")
        ...     result = await stream.result()

        Retries happen only before the first content event; after it, an ``error``
        event is raised as :class:`StreamError`. Leaving the block early (or being
        cancelled) stops the request and releases everything it held.
        """
        self._check_open()
        params.pop("stream", None)
        body = validate_body(params)
        job = await self._new_job(body, int(priority), queue_timeout, extra_headers)
        job.channel = FlowStream(job.future)
        job.future.add_done_callback(_consume_outcome)
        await self._enqueue(job, wait_for_space)
        try:
            yield job.channel
        finally:
            if not job.future.done():
                self._abandon(job)

    async def _new_job(
        self,
        body: dict[str, Any],
        priority: int,
        queue_timeout: float | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Job:
        model = body["model"]
        estimate = await self._estimator.estimate_async(body)
        reserved_in = self._calibrator.adjust(model, estimate) if self._calibrator else estimate
        reserved_out = self._reservation.reserve(model, body["max_tokens"])
        cost = Cost(1, reserved_in, reserved_out)
        self._admission.check_fits(cost)
        if self.budget_usd is not None and self._spent_usd >= self.budget_usd:
            raise BudgetExceededError(
                f"budget of ${self.budget_usd:.4f} is spent (${self._spent_usd:.4f})"
            )
        now = self._clock.now()
        timeout = self.queue_timeout if queue_timeout is _UNSET else queue_timeout
        check_positive("queue_timeout", timeout)
        return Job(
            body=body,
            headers={**self._headers, **(extra_headers or {})},
            model=model,
            priority=priority,
            cost=cost,
            estimate=estimate,
            future=asyncio.get_running_loop().create_future(),
            submitted_at=now,
            deadline=None if timeout is None else now + timeout,
        )

    async def _enqueue(self, job: Job, wait_for_space: bool) -> None:
        while self.max_queue is not None and len(self._line) >= self.max_queue:
            if not wait_for_space:
                raise QueueFullError(
                    f"queue is full ({self.max_queue} waiting); retry later or pass "
                    "wait_for_space=True",
                    retry_after=self._admission.delay(job.cost) or None,
                )
            waiter = asyncio.get_running_loop().create_future()
            self._space_waiters.append(waiter)
            await waiter
            self._check_open()
        self._check_open()  # the Flow may have closed while we estimated or waited
        self._counts["submitted"] += 1
        self._queue(job)

    def _queue(self, job: Job) -> None:
        job.queued_since = self._clock.now()
        self._line.push(job, job.queued_since)
        if job.deadline is not None:
            job.timer = self._clock.call_later(
                job.deadline - job.queued_since, lambda: self._expire(job)
            )
        assert self._idle is not None
        self._idle.clear()
        self._wake()

    def _expire(self, job: Job) -> None:
        """The job's queue timeout passed before it could start."""
        if not job.queued:
            return
        self._line.discard(job)
        self._space_freed()
        waited = self._clock.now() - job.submitted_at
        self._finish(
            job,
            error=DeadlineExceededError(
                f"could not start within its queue timeout ({waited:.3g}s waited; "
                f"{len(self._line)} still queued)"
            ),
        )
        self._wake()

    def _abandon(self, job: Job) -> None:
        """The caller stopped waiting: take the job out of line or stop its attempt."""
        self._line.discard(job)
        self._space_freed()
        if job.timer is not None:
            job.timer.cancel()
        if job.task is not None and not job.task.done():
            job.task.cancel()
        if not job.future.done():
            job.future.cancel()
        if job.future.cancelled():
            self._counts["cancelled"] += 1
        self._check_idle()

    # -- dispatching -----------------------------------------------------------------

    async def _dispatch(self) -> None:
        """Admit the head of the line whenever every limit can pay for it."""
        while True:
            job = self._line.head()
            if job is None:
                await self._sleep(None)
                continue
            delay = self._admission.delay(job.cost)
            if delay <= 0:
                self._line.pop()
                self._space_freed()
                self._launch(job, self._clock.now())
                continue
            await self._sleep(delay)

    async def _sleep(self, seconds: float | None) -> None:
        """Wait ``seconds`` (``None``/``inf``: until woken); :meth:`_wake` ends it early."""
        future = asyncio.get_running_loop().create_future()
        self._wake_future = future
        timer: TimerHandle | None = None
        if seconds is not None and seconds != float("inf"):
            timer = self._clock.call_later(seconds, lambda: _resolve(future))
        try:
            await future
        finally:
            self._wake_future = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        if self._wake_future is not None:
            _resolve(self._wake_future)

    def _space_freed(self) -> None:
        while self._space_waiters:
            waiter = self._space_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _launch(self, job: Job, now: float) -> None:
        permit = self._admission.admit(job.cost)
        job.queue_wait_s += now - job.queued_since
        job.deadline = None  # it has started; the queue timeout no longer applies
        if job.timer is not None:
            job.timer.cancel()
            job.timer = None
        job.attempts += 1
        self._counts["attempts"] += 1
        task = asyncio.create_task(self._attempt(job, permit))
        job.task = task
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        if self._idle is not None and not self._tasks and not len(self._line):
            self._idle.set()

    # -- running ---------------------------------------------------------------------

    async def _attempt(self, job: Job, permit: Permit) -> None:
        if job.channel is not None:
            await self._attempt_stream(job, permit, job.channel)
            return
        started = self._clock.now()
        try:
            headers = {**job.headers, "x-api-key": self._api_key.value}
            response, outcome = await send_message(
                self._transport, job.body, headers, self.timeouts.total
            )
        except ClaudeflowError as error:
            permit.settle(consumed_by_failure(error, job.cost))
            await self._after_failure(job, error)
            return
        except asyncio.CancelledError as cancelled:
            # Interrupted in flight: the server has probably counted the request and its
            # input; no output reached us, so that reservation goes back.
            permit.settle(Cost(1, job.cost.input_tokens, 0))
            self._cancelled(job, cancelled)
            raise
        except Exception as unexpected:  # a bug, not an API outcome: still one outcome
            permit.settle(Cost(1, job.cost.input_tokens, 0))
            self._finish(job, error=unexpected)
            return
        self._observe_server(response.headers)
        self._statuses[response.status] += 1
        if isinstance(outcome, Answer):
            self._succeed(job, permit, outcome, self._clock.now() - started)
        else:
            permit.settle(consumed_by_failure(outcome, job.cost))
            await self._after_failure(job, outcome)

    async def _attempt_stream(self, job: Job, permit: Permit, channel: FlowStream) -> None:
        started = self._clock.now()
        acc = MessageAccumulator()
        headers = {**job.headers, "x-api-key": self._api_key.value}
        try:
            async with self._transport.open_stream(
                "POST",
                MESSAGES_PATH,
                headers=headers,
                json={**job.body, "stream": True},
                timeout=self.timeouts.total,
            ) as response:
                self._observe_server(response.headers)
                self._statuses[response.status] += 1
                if response.status >= 300:
                    body = await response.read()
                    raise status_error(response.status, response.headers, body)
                await self._pump(job, permit, channel, acc, response.events())
                answer_headers = response.headers
        except ClaudeflowError as error:
            if acc.content_started:
                # Content already reached the caller: no retry; settle what was used.
                permit.settle(self._used_so_far(acc))
                self._finish(job, error=error)
                return
            permit.settle(consumed_by_failure(error, job.cost))
            await self._after_failure(job, error)
            return
        except asyncio.CancelledError as cancelled:
            permit.settle(self._used_so_far(acc))
            self._cancelled(job, cancelled)
            raise
        except Exception as unexpected:
            permit.settle(self._used_so_far(acc))
            self._finish(job, error=unexpected)
            return
        answer = Answer(acc.final(), Usage.from_api(acc.usage), answer_headers)
        self._succeed(job, permit, answer, self._clock.now() - started)

    async def _pump(
        self,
        job: Job,
        permit: Permit,
        channel: FlowStream,
        acc: MessageAccumulator,
        events: AsyncIterator[Any],
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
        kind = data.get("type")
        if kind == "message_start":
            permit.adjust(
                input_tokens=Usage.from_api(acc.usage).itpm_tokens(self.count_cache_reads)
            )
        elif kind == "message_delta" and (data.get("delta") or {}).get("stop_reason"):
            permit.adjust(output_tokens=Usage.from_api(acc.usage).output_tokens)

    def _used_so_far(self, acc: MessageAccumulator) -> Cost:
        if not acc.message:
            return Cost(1, 0, 0)
        usage = Usage.from_api(acc.usage)
        return Cost(1, usage.itpm_tokens(self.count_cache_reads), usage.output_tokens)

    def _succeed(self, job: Job, permit: Permit, answer: Answer, latency: float) -> None:
        usage = answer.usage
        itpm = usage.itpm_tokens(self.count_cache_reads)
        permit.settle(Cost(1, itpm, usage.output_tokens))
        if self._calibrator is not None:
            self._calibrator.observe(job.model, job.estimate, usage.total_input)
        self._reservation.observe(job.model, usage.output_tokens)
        cost = self._prices.cost_usd(job.model, usage)
        self._account(usage, cost)
        self._finish(
            job,
            result=Result(
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
            ),
        )

    async def _after_failure(self, job: Job, error: ClaudeflowError) -> None:
        delay = self.retry.next_delay(
            error,
            attempt=job.attempts,
            waited_s=job.retry_wait_s,
            rng=self._rng,
            now_wall=wall_time(),
        )
        if isinstance(error, RateLimitError):
            self._counts["rate_limited"] += 1
            if delay is not None:
                # Hold everyone back until the server's retry-after: no stampede.
                self._admission.pause(delay, reason=f"429 ({error.message[:80]})")
        self._end_probe()
        if delay is None:
            self._finish(job, error=error)
            return
        self._counts["retries"] += 1
        try:
            await self._clock.sleep(delay)
        except asyncio.CancelledError as cancelled:
            self._cancelled(job, cancelled)
            raise
        job.retry_wait_s += delay
        self._queue(job)

    def _cancelled(self, job: Job, cancelled: asyncio.CancelledError) -> None:
        if not job.future.done():
            reason = cancelled.args[0] if cancelled.args else "cancelled"
            self._finish(job, error=FlowClosedError(str(reason)))

    def _finish(
        self, job: Job, *, result: Result | None = None, error: BaseException | None = None
    ) -> None:
        if job.channel is not None:
            job.channel.close()
        if job.future.done():
            return
        if error is not None:
            self._counts["failed"] += 1
            job.future.set_exception(error)
        else:
            self._counts["completed"] += 1
            job.future.set_result(result)
        self._check_idle()

    # -- accounting and the server's view --------------------------------------------

    def _account(self, usage: Usage, cost: float | None) -> None:
        self._counts["input_tokens"] += usage.input_tokens
        self._counts["output_tokens"] += usage.output_tokens
        self._counts["cache_creation_input_tokens"] += usage.cache_creation_input_tokens
        self._counts["cache_read_input_tokens"] += usage.cache_read_input_tokens
        if cost is None:
            self._counts["unpriced"] += 1
        else:
            self._spent_usd += cost

    def _observe_server(self, headers: Mapping[str, str]) -> None:
        view = parse_rate_limits(headers, now_wall=wall_time())
        self._server = view
        for dim in DIMENSIONS:
            seen = getattr(view, dim)
            if seen.remaining is None:
                continue
            slack = 0.0 if dim == "requests" else _TOKEN_ROUNDING
            if self.learn_limits and seen.limit is not None:
                self._admission.learn(dim, seen.limit, seen.remaining + slack)
            self._admission.clamp(dim, seen.remaining + slack)
        self._end_probe()

    def _end_probe(self) -> None:
        """After the first answer (or failure), lift the one-request probe."""
        if self._probing:
            self._probing = False
            self._admission.concurrency = self.concurrency
            self._wake()

    def stats(self) -> FlowStats:
        """Counters, queue depth per priority, bucket levels and the server's last view."""
        c = self._counts
        return FlowStats(
            submitted=c["submitted"],
            completed=c["completed"],
            failed=c["failed"],
            cancelled=c["cancelled"],
            queued=len(self._line),
            in_flight=self._admission.in_flight,
            attempts=c["attempts"],
            retries=c["retries"],
            rate_limited=c["rate_limited"],
            statuses=dict(self._statuses),
            input_tokens=c["input_tokens"],
            output_tokens=c["output_tokens"],
            cache_creation_input_tokens=c["cache_creation_input_tokens"],
            cache_read_input_tokens=c["cache_read_input_tokens"],
            cost_usd=self._spent_usd,
            unpriced_requests=c["unpriced"],
            queue_by_priority=self._line.depth_by_class(),
            buckets=self._admission.buckets(),
            paused_for_s=max(0.0, self._admission.paused_until - self._clock.now()),
            server=self._server,
            calibration=self._calibrator.stats() if self._calibrator else {},
        )

    def _check_open(self) -> None:
        if self._state != "running":
            hint = "use `async with Flow(...)` or `await flow.start()`"
            raise FlowClosedError(f"Flow is {self._state}; {hint}")

    def __repr__(self) -> str:
        return (
            f"Flow(base_url={self.base_url!r}, limits={self.limits!r}, "
            f"concurrency={self.concurrency!r}, state={self._state!r})"
        )


class _Secret:
    """Holds the API key; its repr never shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "_Secret('***')"


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a stream job's error as seen; the caller meets it through the FlowStream."""
    if not future.cancelled():
        future.exception()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _api_key(given: str | None) -> str:
    key = given if given is not None else os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise ConfigError("api_key", "not given and ANTHROPIC_API_KEY is not set")
    return key


def _check_int(argument: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(argument, f"must be an int >= 1 or None, got {value!r}")


def _has_unset(limits: RateLimits | None) -> bool:
    return limits is None or None in (limits.rpm, limits.input_tpm, limits.output_tpm)
