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
import functools
import math
import os
import random
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Final, Literal, Protocol

from .._clock import Clock, LoopClock
from .._config import RateLimits, Timeouts, check_positive
from .._errors import BudgetExceededError, ConfigError, FlowClosedError, InvalidRequestError
from .._types import Cost, Priority
from ..batches import BatchApi, BatchOffload, BatchRunner
from ..cache import ResponseCache, SavingLayer, prompt_cache_share
from ..limiter import Admission
from ..retry import RetryPolicy
from ..tokens import (
    Calibrator,
    OutputReservation,
    PriceTable,
    ServerTokenCounter,
    TokenEstimator,
)
from ..transport import AiohttpTransport, Transport
from ..transport._base import CREDENTIAL_HEADERS, lower_names, masked
from ._dispatcher import Dispatcher
from ._job import Job
from ._request import parse_priority, validate_body
from ._result import FlowStats, Result
from ._runner import Runner
from ._stream import FlowStream

__all__ = ["Estimator", "Flow"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_API_VERSION: Final = "2023-06-01"
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
    :param cache: a :class:`ResponseCache`: identical requests are answered from it,
        without an API call or any rate-limit capacity (off by default).
    :param coalesce: identical requests in flight share one call: ``None`` (default)
        only when the cache is on or ``temperature=0``; ``True`` always; ``False`` never.
    :param batches: a :class:`BatchOffload`: requests that can wait go through the
        Message Batches API at half price, outside the per-minute limits.
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
        cache: ResponseCache | None = None,
        coalesce: bool | None = None,
        batches: BatchOffload | None = None,
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
        for argument, value, kind in (
            ("api_key", api_key, str),
            ("base_url", base_url, str),
            ("limits", limits, RateLimits),
            ("retry", retry, RetryPolicy),
            ("timeouts", timeouts, Timeouts),
            ("output_reservation", output_reservation, OutputReservation),
            ("prices", prices, PriceTable),
            ("cache", cache, ResponseCache),
            ("batches", batches, BatchOffload),
        ):
            _check_instance(argument, value, kind)
        defaults = lower_names(default_headers or {})
        if CREDENTIAL_HEADERS & defaults.keys():
            raise ConfigError("default_headers", _ONE_KEY)
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
        # Every request's headers, key included; shared by all jobs without extra headers.
        self._headers = _Headers(
            {
                "anthropic-version": anthropic_version,
                "content-type": "application/json",
                **defaults,
                "x-api-key": self._api_key.value,
            }
        )
        if token_counting == "server" and estimator is None:
            self._estimator = ServerTokenCounter(
                self._transport,
                self._headers,
                self._clock,
                rpm=count_tokens_rpm,
                window_s=(limits or RateLimits()).window_s,
            )
        self._aging_s = aging_s
        # -- cheaper paths (claudeflow.cache, claudeflow.batches) --
        if coalesce is not None and not isinstance(coalesce, bool):
            raise ConfigError("coalesce", f"must be True, False or None, got {coalesce!r}")
        if cache is not None:
            cache.use_clock(self._clock)
        self.cache, self.coalesce, self.batches = cache, coalesce, batches
        # -- end of cheaper paths --
        self._state = "new"
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        """Per-run state; rebuilt on each start so a Flow binds to no loop until used."""
        self._admission = Admission(self.limits, concurrency=self.concurrency, clock=self._clock)
        self._runner = Runner(
            transport=self._transport,
            retry=self.retry,
            rng=self._rng,
            clock=self._clock,
            admission=self._admission,
            calibrator=self._calibrator,
            reservation=self._reservation,
            prices=self._prices,
            count_cache_reads=self.count_cache_reads,
            learn_limits=self.learn_limits,
            concurrency=self.concurrency,
            probe=self.learn_limits and _has_unset(self.limits),
        )
        self._dispatcher = Dispatcher(
            self._admission,
            self._clock,
            aging_s=self._aging_s,
            attempt=self._runner.attempt,
            fail=self._runner.fail,
        )
        self._submitted = 0
        # -- cheaper paths (claudeflow.cache, claudeflow.batches) --
        self._saving: SavingLayer[Result] | None = None
        if self.cache is not None or self.coalesce is not False:
            self._saving = SavingLayer(cache=self.cache, coalesce=self.coalesce, make_result=Result)
        self._batching: BatchRunner[Result] | None = None
        if self.batches is not None:
            api = BatchApi(self._transport, retry=self.retry, clock=self._clock, rng=self._rng)
            self._batching = BatchRunner(
                self.batches, api=api, clock=self._clock, prices=self._prices, make_result=Result
            )
        # -- end of cheaper paths --

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
        self._dispatcher.start()
        self._state = "running"

    async def aclose(self, *, cancel: bool = False) -> None:
        """Stop taking work, then drain the queue (default) or cancel it.

        Either way every submitted request ends with exactly one outcome: cancelled ones
        raise :class:`FlowClosedError` to their callers.
        """
        if self._state != "running":
            return
        self._state = "closing"
        self._dispatcher.refuse_waiters(FlowClosedError("Flow closed while waiting for space"))
        if cancel:
            self._dispatcher.cancel_all(
                FlowClosedError("cancelled: the Flow was closed with cancel=True")
            )
        if self._batching is not None:  # cheaper paths: batches end before the transport
            await self._batching.aclose(cancel=cancel)
        await self._dispatcher.wait_idle()
        await self._dispatcher.stop()
        if self._owns_transport:
            await self._transport.aclose()
        self._state = "closed"

    # -- submitting ------------------------------------------------------------------

    async def create(
        self,
        *,
        priority: int = Priority.NORMAL,
        queue_timeout: float | None = _UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = _UNSET,
        batch: bool | None = None,
        **params: Any,
    ) -> Result:
        """Send one Messages API request when the limits allow; return its :class:`Result`.

        Takes every ``messages.create`` body parameter (model, max_tokens, messages,
        system, tools, ...); unknown ones pass through to the API unchanged. The SDK's
        ``extra_headers``, ``extra_body`` and ``timeout`` options work as they do there.

        :param priority: :class:`Priority`, its name (``"high"``) or any int; lower goes
            first.
        :param queue_timeout: max seconds to wait before the first attempt starts.
        :param timeout: seconds allowed for each attempt, or for each read of a stream
            (default: the Flow's ``timeouts.total``; ``None``: no limit).
        :raises QueueFullError: the queue is full and ``wait_for_space`` is false.
        :raises CapacityError: the request can never fit the limits.
        :param batch: send through the Message Batches API (``True``), the Messages API
            (``False``), or as the Flow's :class:`BatchOffload` rule says (``None``).
        :raises APIStatusError: the API refused it and retrying could not help.
        """
        self._check_open()
        body = validate_body(params)
        level = parse_priority(priority)
        # -- cheaper paths (all their logic is in claudeflow.cache, claudeflow.batches) --
        send = functools.partial(
            self._create_queued, body, level, queue_timeout, wait_for_space, extra_headers, timeout
        )
        waits = self.queue_timeout if queue_timeout is _UNSET else queue_timeout
        if self._batching is not None and self._batching.wants(batch, level, waits):
            send = functools.partial(
                self._batching.submit, body, self._headers_with(extra_headers), level
            )
        elif batch:
            raise InvalidRequestError("batch=True needs Flow(batches=BatchOffload(...))")
        if self._saving is not None:
            return await self._saving.create(body, self._headers_with(extra_headers), level, send)
        # -- end of cheaper paths --
        return await send()

    async def _create_queued(
        self,
        body: dict[str, Any],
        priority: int,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra_headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Result:
        """The ordinary path: queue, admission, the Messages API."""
        job = await self._new_job(body, priority, queue_timeout, extra_headers, timeout)
        await self._enqueue(job, wait_for_space)
        try:
            result: Result = await job.future
        except asyncio.CancelledError:
            self._dispatcher.abandon(job)
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
        timeout: float | None = _UNSET,
        **params: Any,
    ) -> AsyncIterator[FlowStream]:
        """Stream one request through the same admission, priority and retry path.

        >>> async with flow.stream(model=..., max_tokens=..., messages=...) as stream:
        ...     async for text in stream.text_stream:  # doctest: +SKIP
        ...         print(text, end="")
        ...     result = await stream.result()

        Retries happen only before the first content event; after it, an ``error``
        event is raised as :class:`StreamError`. Leaving the block early (or being
        cancelled) stops the request and releases everything it held.
        """
        self._check_open()
        params.pop("stream", None)
        body = validate_body(params)
        # -- cheaper paths (all their logic is in claudeflow.cache) --
        if self.cache is not None and self._saving is not None:
            level = parse_priority(priority)
            opened = functools.partial(
                self._stream_queued,
                body,
                level,
                queue_timeout,
                wait_for_space,
                extra_headers,
                timeout,
            )
            headers = self._headers_with(extra_headers)
            async with self._saving.stream(body, headers, level, opened, FlowStream) as stream:
                yield stream
            return
        # -- end of cheaper paths --
        async with self._stream_queued(
            body, parse_priority(priority), queue_timeout, wait_for_space, extra_headers, timeout
        ) as stream:
            yield stream

    @contextlib.asynccontextmanager
    async def _stream_queued(
        self,
        body: dict[str, Any],
        priority: int,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra_headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> AsyncIterator[FlowStream]:
        """The ordinary streaming path: queue, admission, the Messages API."""
        job = await self._new_job(body, priority, queue_timeout, extra_headers, timeout)
        job.channel = FlowStream(job.future)
        job.future.add_done_callback(_consume_outcome)
        await self._enqueue(job, wait_for_space)
        try:
            yield job.channel
        finally:
            if not job.future.done():
                self._dispatcher.abandon(job)

    async def _new_job(
        self,
        body: dict[str, Any],
        priority: int,
        queue_timeout: float | None,
        extra_headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Job:
        model = body["model"]
        estimate = await self._estimator.estimate_async(body)
        reserved_in = self._calibrator.adjust(model, estimate) if self._calibrator else estimate
        reserved_out = self._reservation.reserve(model, body["max_tokens"])
        cost = Cost(1, reserved_in, reserved_out)
        self._admission.check_fits(cost)
        spent = self._runner.spent_usd
        if self.budget_usd is not None and spent >= self.budget_usd:
            raise BudgetExceededError(f"budget of ${self.budget_usd:.4f} is spent (${spent:.4f})")
        now = self._clock.now()
        if queue_timeout is _UNSET:
            queue_timeout = self.queue_timeout
        check_positive("queue_timeout", queue_timeout)
        if timeout is _UNSET:
            timeout = self.timeouts.total
        elif timeout is None:
            timeout = math.inf  # as in the SDK: no limit at all
        else:
            check_positive("timeout", timeout)
        return Job(
            body=body,
            headers=self._headers_with(extra_headers),
            model=model,
            priority=priority,
            cost=cost,
            estimate=estimate,
            future=asyncio.get_running_loop().create_future(),
            submitted_at=now,
            deadline=None if queue_timeout is None else now + queue_timeout,
            timeout=timeout,
        )

    async def _enqueue(self, job: Job, wait_for_space: bool) -> None:
        await self._dispatcher.make_room(job, self.max_queue, wait_for_space)
        self._check_open()  # the Flow may have closed while we estimated or waited
        self._submitted += 1
        self._dispatcher.queue(job)

    def stats(self) -> FlowStats:
        """Counters, queue depth per priority, bucket levels and the server's last view."""
        c = self._runner.counts
        return FlowStats(
            submitted=self._submitted,
            completed=c["completed"],
            failed=c["failed"],
            cancelled=self._dispatcher.cancelled,
            queued=len(self._dispatcher),
            in_flight=self._admission.in_flight,
            attempts=self._dispatcher.attempts,
            retries=c["retries"],
            rate_limited=c["rate_limited"],
            statuses=dict(self._runner.statuses),
            input_tokens=c["input_tokens"],
            output_tokens=c["output_tokens"],
            cache_creation_input_tokens=c["cache_creation_input_tokens"],
            cache_read_input_tokens=c["cache_read_input_tokens"],
            cost_usd=self._runner.spent_usd,
            unpriced_requests=c["unpriced"],
            queue_by_priority=self._dispatcher.depth_by_class(),
            buckets=self._admission.buckets(),
            paused_for_s=max(0.0, self._admission.paused_until - self._clock.now()),
            server=self._runner.server,
            calibration=self._calibrator.stats() if self._calibrator else {},
            # -- cheaper paths and the prompt-caching report (claudeflow.cache/.batches) --
            prompt_cache_read_share=prompt_cache_share(
                c["input_tokens"], c["cache_creation_input_tokens"], c["cache_read_input_tokens"]
            ),
            cache=self._saving.stats() if self._saving is not None else None,
            batches=self._batching.stats() if self._batching is not None else None,
        )

    def _headers_with(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        if not extra:
            return self._headers
        lowered = lower_names(extra)
        if CREDENTIAL_HEADERS & lowered.keys():
            raise InvalidRequestError(f"extra_headers: {_ONE_KEY}")
        return _Headers({**self._headers, **lowered})

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


class _Headers(dict[str, str]):
    """Request headers (lower-case names); the repr masks credentials."""

    def __repr__(self) -> str:
        return repr(masked(self))


# Credentials come from api_key only: a Flow's limits are its key's.
_ONE_KEY = "may not set the API key; use one Flow per key (its limits are the key's)"


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a stream job's error as seen; the caller meets it through the FlowStream."""
    if not future.cancelled():
        future.exception()


def _api_key(given: str | None) -> str:
    key = given if given is not None else os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        raise ConfigError("api_key", "not given and ANTHROPIC_API_KEY is not set")
    return key


def _check_instance(argument: str, value: object, kind: type) -> None:
    if value is not None and not isinstance(value, kind):
        raise ConfigError(argument, f"must be a {kind.__name__}, got {type(value).__name__}")


def _check_int(argument: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(argument, f"must be an int >= 1 or None, got {value!r}")


def _has_unset(limits: RateLimits | None) -> bool:
    return limits is None or None in (limits.rpm, limits.input_tpm, limits.output_tpm)
