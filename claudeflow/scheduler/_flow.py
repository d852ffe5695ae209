"""The Flow: one object a service creates once, awaits per request, and closes.

Data path (see DESIGN.md): ``create()`` routes, validates and estimates the request
(:mod:`._jobs`) and, unless a cheaper path answers it (cache, coalescing, Message
Batches), queues a :class:`Job` in its model class's line. Each line's loop admits its
head when one of the class's pools (one per key) can pay in full (no polling: it sleeps
until the exact instant, or until a release wakes it); each admitted job runs as its own
task, settles its permit to the actual usage, and either resolves the caller's future
or, after the retry policy's delay, returns to its original place in line.

The Flow itself only composes: arguments (:mod:`._arguments`), jobs (:mod:`._jobs`),
lines and tasks (:mod:`._dispatcher`), attempts and outcomes (:mod:`._runner`), money
(:mod:`._budget`), keys and pools (:mod:`claudeflow.routing`), buckets
(:mod:`claudeflow.limiter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal

from .._clock import Clock, LoopClock
from .._config import Timeouts
from .._errors import FlowClosedError, InvalidRequestError
from .._types import Priority
from ..batches import BatchApi, BatchOffload, BatchRunner
from ..cache import ResponseCache, SavingLayer, prompt_cache_share
from ..limiter import Backend, MemoryBackend, MemoryPool, ModelClasses, PoolStatistics, Slots
from ..limiter._quota import Quota, QuotaBook
from ..retry import RetryPolicy
from ..routing import ApiKey, KeyRing, LimitsSpec, PoolFactory, PoolLimits, Router, Routes
from ..tokens import (
    Calibrator,
    OutputReservation,
    PriceTable,
    ServerTokenCounter,
    TokenEstimator,
)
from ..transport import AiohttpTransport, Transport
from ..transport._base import check_headers
from ._arguments import Headers, api_keys, as_api_key, check_arguments, extra_headers
from ._budget import Budget, Spending
from ._dispatcher import Dispatcher
from ._job import Job
from ._jobs import UNSET, Estimator, JobMaker
from ._request import parse_priority
from ._result import FlowStats, Result
from ._runner import Runner
from ._stream import FlowStream

__all__ = ["Estimator", "Flow"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_API_VERSION: Final = "2023-06-01"


class Flow:
    """Throttled, prioritised, retried access to the Claude Messages API.

    >>> limits = RateLimits(rpm=50, input_tpm=30_000, output_tpm=8_000)
    >>> async with Flow(limits=limits, concurrency=16) as flow:  # doctest: +SKIP
    ...     result = await flow.create(model="claude-haiku-4-5", max_tokens=256,
    ...                                messages=[{"role": "user", "content": "Hi"}])

    :param api_key: a key (default ``$ANTHROPIC_API_KEY``), an :class:`ApiKey`, or a list
        of them (a key pool: each key has its own pools); never logged or shown.
    :param base_url: defaults to ``$ANTHROPIC_BASE_URL``, else the real API.
    :param limits: per-minute limits: one :class:`RateLimits` for every pool, or a mapping
        from pool names (model classes such as ``"claude-haiku-4"``) or model ids to
        limits, ``"*"`` for the rest. Unset dimensions are learned from the server's
        ``anthropic-ratelimit-*`` headers when ``learn_limits`` is on.
    :param pools: model id -> pool name, for models that should share one set of buckets.
    :param routes: aliases, task rules, weighted splits and fallback chains.
    :param quotas: daily or monthly caps (:class:`Quota`), kept in ``quota_file``.
    :param backend: where the pools' buckets live: this process (default) or Redis,
        shared by every process of the account.
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
    :param budget_usd: a spending cap; each request is charged its worst case at start.
    :param cache: a :class:`ResponseCache`: identical requests are answered from it.
    :param coalesce: share one call among identical requests in flight (``None``: only
        when the cache is on or ``temperature`` is 0).
    :param batches: a :class:`BatchOffload`: requests it selects go through Message Batches.
    """

    def __init__(
        self,
        *,
        api_key: str | ApiKey | Sequence[str | ApiKey] | None = None,
        base_url: str | None = None,
        limits: LimitsSpec = None,
        pools: Mapping[str, str] | None = None,
        routes: Routes | None = None,
        quotas: Sequence[Quota] = (),
        quota_file: str | os.PathLike[str] | None = None,
        backend: Backend | None = None,
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
        cache: ResponseCache | None = None,
        coalesce: bool | None = None,
        batches: BatchOffload | None = None,
        anthropic_version: str = DEFAULT_API_VERSION,
        default_headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        check_arguments(locals())
        self._keys = api_keys(api_key)
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self.limits = limits
        self._pool_limits = PoolLimits(limits, ModelClasses(pools))
        self._router = Router(routes)
        self._quotas = QuotaBook(quotas, quota_file)
        self.backend: Backend = backend or MemoryBackend()
        self.concurrency = concurrency
        self.max_queue = max_queue
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.queue_timeout = queue_timeout
        self.learn_limits = learn_limits
        self.count_cache_reads = count_cache_reads
        self.budget_usd = budget_usd
        self.cache, self.coalesce, self.batches = cache, coalesce, batches
        self._aging_s = aging_s
        self._clock = clock or LoopClock()
        self._rng = rng or random.Random()
        self._calibrator = Calibrator() if calibrate else None
        self._reservation = output_reservation or OutputReservation()
        self._prices = prices or PriceTable.default()
        self._owns_transport = transport is None
        self._transport: Transport = transport or AiohttpTransport(
            self.base_url, timeouts=self.timeouts
        )
        self._key_transports: dict[str, Transport] = {}
        # Every request's headers but the key, which each key's entry adds.
        self._headers = {
            "anthropic-version": anthropic_version,
            "content-type": "application/json",
            **check_headers("default_headers", default_headers, config=True),
        }
        self._estimator: Estimator = estimator or TokenEstimator()
        if token_counting == "server" and estimator is None:
            self._estimator = ServerTokenCounter(
                self._transport,
                Headers({**self._headers, "x-api-key": self._keys[0].key}),
                self._clock,
                rpm=count_tokens_rpm,
                window_s=self._pool_limits.window_s,
            )
        if cache is not None:
            cache.use_clock(self._clock)  # TTLs run on the Flow's (possibly virtual) time
        self._state = "new"
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        """Per-run state; rebuilt on each start so a Flow binds to no loop until used."""
        self._budget = Budget(self.budget_usd)
        self._spending = Spending(self._budget, self._quotas)
        self._slots = Slots(self.concurrency)
        factory = PoolFactory(
            self.backend,
            self._pool_limits,
            self._clock,
            learn=self.learn_limits,
            on_change=lambda model_class: self._dispatcher.wake(model_class),
        )
        self._ring = KeyRing(self._headers, factory, self._transport_for)
        for key in self._keys:
            self._ring.add(key)
        self._jobs = self._job_maker()
        self._runner = Runner(
            retry=self.retry,
            rng=self._rng,
            clock=self._clock,
            ring=self._ring,
            spending=self._spending,
            calibrator=self._calibrator,
            reservation=self._reservation,
            prices=self._prices,
            count_cache_reads=self.count_cache_reads,
            learn_limits=self.learn_limits,
            reroute=self._jobs.reroute,
        )
        self._dispatcher = Dispatcher(
            self._ring,
            self._slots,
            self._clock,
            aging_s=self._aging_s,
            attempt=self._runner.attempt,
            fail=self._runner.fail,
            budget_ok=self._spending.delay,
            estimate=self._jobs.estimate,
            on_launch=self._runner.launched,
            reroute=self._jobs.reroute,
        )
        self._submitted = 0
        self._saving, self._batching = self._cheaper_paths()

    def _job_maker(self) -> JobMaker:
        return JobMaker(
            router=self._router,
            pool_limits=self._pool_limits,
            ring=self._ring,
            spending=self._spending,
            estimator=self._estimator,
            calibrator=self._calibrator,
            reservation=self._reservation,
            prices=self._prices,
            clock=self._clock,
            draw=self._rng.random,
            timeouts=self.timeouts,
            queue_timeout=self.queue_timeout,
            priced=self.budget_usd is not None or any(q.usd for q in self._quotas.quotas),
        )

    def _cheaper_paths(self) -> tuple[SavingLayer[Result] | None, BatchRunner[Result] | None]:
        """The cache and coalescing layer, and the Batches runner, when configured."""
        saving = None
        if self.cache is not None or self.coalesce is not False:
            saving = SavingLayer(cache=self.cache, coalesce=self.coalesce, make_result=Result)
        batching = None
        if self.batches is not None:
            api = BatchApi(self._transport, retry=self.retry, clock=self._clock, rng=self._rng)
            batching = BatchRunner(
                self.batches, api=api, clock=self._clock, prices=self._prices, make_result=Result
            )
        return saving, batching

    def _transport_for(self, base_url: str | None) -> Transport:
        """The Flow's transport, or (for a key with its own endpoint) one made for it."""
        if base_url is None or base_url == self.base_url:
            return self._transport
        found = self._key_transports.get(base_url)
        if found is None:
            found = AiohttpTransport(base_url, timeouts=self.timeouts)
            self._key_transports[base_url] = found
        return found

    def _first_key_headers(self, extra: Mapping[str, str] | None = None) -> Headers:
        """Headers with the first active key, for calls outside the pools (batches)."""
        key = next((e.api_key for e in self._ring if e.active), self._keys[0])
        return Headers({**self._headers, **(extra_headers(extra) or {}), "x-api-key": key.key})

    # -- keys --------------------------------------------------------------------------

    def add_key(self, api_key: str | ApiKey) -> str:
        """Put another key in rotation while the Flow runs; return its name."""
        key = as_api_key(api_key)
        self._ring.add(key)
        self._keys.append(key)
        return key.label

    def remove_key(self, name: str) -> None:
        """Take key ``name`` out of rotation; requests in flight on it finish."""
        self._ring.remove(name)
        self._keys = [k for k in self._keys if k.label != name]

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
        if self._state in ("running", "closing"):
            raise RuntimeError(f"Flow is already {self._state}")
        if self._state != "new":
            self._reset_runtime()
        await self.backend.start()
        await self._dispatcher.start()
        self._state = "running"

    async def aclose(self, *, cancel: bool = False) -> None:
        """Stop taking work, then drain the queue (default) or cancel it.

        Either way every submitted request ends with exactly one outcome: cancelled ones
        raise :class:`FlowClosedError` to their callers. Safe to repeat, and safe to
        cancel: a cancelled drain cancels what is left and still closes everything.
        """
        if self._state not in ("running", "closing"):
            return
        self._state = "closing"
        self._dispatcher.refuse_waiters(FlowClosedError("Flow closed while waiting for space"))
        if cancel:
            self._dispatcher.cancel_all(
                FlowClosedError("cancelled: the Flow was closed with cancel=True")
            )
        try:
            if self._batching is not None:  # batches end before the transport closes
                await self._batching.aclose(cancel=cancel)
            await self._dispatcher.wait_idle()
        except asyncio.CancelledError:
            self._dispatcher.cancel_all(
                FlowClosedError("cancelled: aclose() was cancelled while draining")
            )
            if self._batching is not None:
                await self._batching.aclose(cancel=True)
            await self._finish_close()
            raise
        await self._finish_close()

    async def _finish_close(self) -> None:
        """Stop every task, then close connections (each step runs even if one fails)."""
        try:
            await self._dispatcher.stop()
        finally:
            self._state = "closed"
            closing = [t.aclose() for t in self._key_transports.values()]
            if self._owns_transport:
                closing.append(self._transport.aclose())
            closing.append(self.backend.aclose())
            self._quotas.flush()
            await asyncio.gather(*closing, return_exceptions=True)
            self._key_transports.clear()

    # -- submitting ------------------------------------------------------------------

    async def create(
        self,
        *,
        priority: int = Priority.NORMAL,
        queue_timeout: float | None = UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = UNSET,
        task: str | None = None,
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
        :param task: a label that ``routes`` map to a model (when ``model`` is not given).
        :param batch: send through the Message Batches API (``True``), the Messages API
            (``False``), or as the Flow's :class:`BatchOffload` rule says (``None``).
        :raises QueueFullError: the queue is full and ``wait_for_space`` is false.
        :raises CapacityError: the request can never fit the limits.
        :raises APIStatusError: the API refused it and retrying could not help.
        """
        self._check_open()
        body, arm = self._jobs.route(params, task)
        level = parse_priority(priority)
        waits = self.queue_timeout if queue_timeout is UNSET else queue_timeout
        batching = self._batching is not None and self._batching.wants(batch, level, waits)
        if batch and self._batching is None:
            raise InvalidRequestError("batch=True needs Flow(batches=BatchOffload(...))")
        saving = self._saving is not None and self._saving.saves(body)
        if batching or saving:
            return await self._cheaper(
                body, arm, level, batching, extra_headers,
                queue_timeout=queue_timeout, wait_for_space=wait_for_space, timeout=timeout,
            )  # fmt: skip
        # The common path, inline: one coroutine frame per waiting request, no more.
        job = await self._jobs.make(body, arm, level, queue_timeout, extra_headers, timeout)
        await self._enqueue(job, wait_for_space)
        try:
            result: Result = await job.future
        except asyncio.CancelledError:
            self._dispatcher.abandon(job)
            raise
        return result

    async def _cheaper(
        self,
        body: dict[str, Any],
        arm: str | None,
        level: int,
        batching: bool,
        extra_headers: Mapping[str, str] | None,
        **queued: Any,
    ) -> Result:
        """The cheaper paths: Message Batches, and the cache with coalescing around either."""
        headers = self._first_key_headers(extra_headers)
        send: Callable[[], Awaitable[Result]]
        if batching:
            assert self._batching is not None
            send = functools.partial(self._batching.submit, body, headers, level)
        else:
            send = functools.partial(
                self._create_queued, body, arm, level, extra=extra_headers, **queued
            )
        if self._saving is not None and self._saving.saves(body):
            return await self._saving.create(body, headers, level, send)
        return await send()

    async def _create_queued(
        self,
        body: dict[str, Any],
        arm: str | None,
        priority: int,
        *,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Result:
        """The ordinary path: queue, admission, the Messages API."""
        job = await self._jobs.make(body, arm, priority, queue_timeout, extra, timeout)
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
        queue_timeout: float | None = UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = UNSET,
        task: str | None = None,
        **params: Any,
    ) -> AsyncIterator[FlowStream]:
        """Stream one request through the same admission, priority and retry path.

        >>> async with flow.stream(model=..., max_tokens=..., messages=...) as stream:
        ...     async for text in stream.text_stream:  # doctest: +SKIP
        ...         print(text, end="")
        ...     result = await stream.result()

        Retries happen only before the first content event; after it, an ``error``
        event is raised as :class:`StreamError`. Leaving the block early (or being
        cancelled) stops the request and releases everything it held. With a cache, a
        hit is replayed as the same events.
        """
        self._check_open()
        params.pop("stream", None)
        body, arm = self._jobs.route(params, task)
        level = parse_priority(priority)
        opened = functools.partial(
            self._stream_queued,
            body,
            arm,
            level,
            queue_timeout=queue_timeout,
            wait_for_space=wait_for_space,
            extra=extra_headers,
            timeout=timeout,
        )
        if self.cache is not None and self._saving is not None:
            headers = self._first_key_headers(extra_headers)
            async with self._saving.stream(body, headers, level, opened, FlowStream) as stream:
                yield stream
            return
        async with opened() as stream:
            yield stream

    @contextlib.asynccontextmanager
    async def _stream_queued(
        self,
        body: dict[str, Any],
        arm: str | None,
        priority: int,
        *,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra: Mapping[str, str] | None,
        timeout: float | None,
    ) -> AsyncIterator[FlowStream]:
        """The ordinary streaming path: queue, admission, the Messages API."""
        job = await self._jobs.make(body, arm, priority, queue_timeout, extra, timeout)
        job.channel = FlowStream(job.future)
        job.future.add_done_callback(_consume_outcome)
        await self._enqueue(job, wait_for_space)
        try:
            yield job.channel
        finally:
            if not job.future.done():
                self._dispatcher.abandon(job)

    async def _enqueue(self, job: Job, wait_for_space: bool) -> None:
        await self._dispatcher.make_room(self.max_queue, wait_for_space)
        self._check_open()  # the Flow may have closed while we estimated or waited
        self._submitted += 1
        self._dispatcher.queue(job)

    # -- looking -----------------------------------------------------------------------

    def stats(self) -> FlowStats:
        """Counters, queue depth per priority, each pool's buckets and the server's last view."""
        r = self._runner.statistics()  # one snapshot: the flat fields below are its copies
        pools = {
            pool.name: dataclasses.replace(
                pool.buckets.statistics(),
                learning=pool.probing,
                overloaded=pool.overload.tripped,
            )
            for pool in self._ring.all_pools()
        }
        first = next(iter(pools.values()), None) or self._template_pool()
        return FlowStats(
            submitted=self._submitted,
            completed=r.completed,
            failed=r.failed,
            cancelled=self._dispatcher.cancelled,
            queued=len(self._dispatcher),
            in_flight=self._slots.in_flight,
            attempts=self._dispatcher.attempts,
            retries=r.retries,
            rate_limited=r.rate_limited,
            statuses=r.statuses,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
            cache_creation_input_tokens=r.cache_creation_input_tokens,
            cache_read_input_tokens=r.cache_read_input_tokens,
            cost_usd=self._budget.spent_usd,
            unpriced_requests=r.unpriced_requests,
            queue_by_priority=MappingProxyType(self._dispatcher.depth_by_class()),
            buckets=MappingProxyType(first.buckets),
            paused_for_s=max((p.paused_for_s for p in pools.values()), default=0.0),
            server=r.server,
            calibration=MappingProxyType(self._calibrator.stats() if self._calibrator else {}),
            pools=MappingProxyType(pools),
            keys=MappingProxyType({k.name: k.statistics() for k in self._ring}),
            budget_reserved_usd=self._budget.reserved_usd,
            arms=r.arms,
            quotas=MappingProxyType(self._quotas.usage()),
            prompt_cache_read_share=prompt_cache_share(
                r.input_tokens, r.cache_creation_input_tokens, r.cache_read_input_tokens
            ),
            cache=self._saving.stats() if self._saving is not None else None,
            batches=self._batching.stats() if self._batching is not None else None,
            runner=r,
        )

    def _template_pool(self) -> PoolStatistics:
        """What a new pool starts with, shown before the first request makes one."""
        return MemoryPool("", self._pool_limits.default, clock=self._clock).statistics()

    def _check_open(self) -> None:
        if self._dispatcher.crashed is not None:
            raise FlowClosedError(f"the Flow's dispatcher crashed: {self._dispatcher.crashed!r}")
        if self._state != "running":
            hint = "use `async with Flow(...)` or `await flow.start()`"
            raise FlowClosedError(f"Flow is {self._state}; {hint}")

    def __repr__(self) -> str:
        return (
            f"Flow(base_url={self.base_url!r}, limits={self.limits!r}, "
            f"concurrency={self.concurrency!r}, state={self._state!r})"
        )


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a stream job's error as seen; the caller meets it through the FlowStream."""
    if not future.cancelled():
        future.exception()
