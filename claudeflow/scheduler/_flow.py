"""The Flow: one object a service creates once, awaits per request, and closes.

Data path (see DESIGN.md): ``create()`` routes and validates the request (:mod:`._jobs`)
and, unless a cheaper path answers it (cache, coalescing, Message Batches), queues a
:class:`Job` in its model class's line. Each line's loop counts its head's input tokens
(so a backlog submitted at once is not counted before anything can go) and admits it
when one of the class's pools (one per key) can pay in full (no polling: it sleeps
until the exact instant, or until a release wakes it); each admitted job runs as its own
task, settles its permit to the actual usage, and either resolves the caller's future
or, after the retry policy's delay, returns to its original place in line.

The Flow itself only composes: its arguments are checked (:mod:`._arguments`, and the
grouped settings of :mod:`._policies`) and built once into :class:`Parts` (:mod:`._parts`);
each start makes a :class:`Runtime` (:mod:`._runtime`) of jobs (:mod:`._jobs`), lines
and tasks (:mod:`._dispatcher`), attempts and outcomes (:mod:`._runner`), money
(:mod:`._budget`), keys and pools (:mod:`claudeflow.routing`) and the cheaper paths
(:mod:`._cheaper`); :mod:`._flow_stats` reads it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from .._clock import Clock
from .._config import Timeouts
from .._errors import FlowClosedError
from .._types import Priority
from ..batches import BatchOffload
from ..cache import ResponseCache
from ..limiter import Backend
from ..retry import RetryPolicy
from ..routing import ApiKey, LimitsSpec, Routes
from ..transport import Transport
from ._arguments import as_api_key, check_arguments
from ._flow_stats import flow_stats
from ._job import Job
from ._jobs import UNSET, Estimator
from ._parts import DEFAULT_API_VERSION, DEFAULT_BASE_URL, Parts, build_parts
from ._policies import QueuePolicy, SpendPolicy, TokenCounting
from ._request import parse_priority
from ._result import FlowStats, Result
from ._runtime import Runtime
from ._stream import FlowStream

# The defaults stay importable from here, where the Flow that uses them lives.
__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "Estimator", "Flow"]

T = TypeVar("T")


class _Setting(Generic[T]):
    """A read-only attribute of the Flow: the field of the same name of its parts.

    Read-only because the parts were built from it: a value set afterwards would show
    but change nothing.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, flow: None, owner: type) -> _Setting[T]: ...
    @overload
    def __get__(self, flow: Flow, owner: type) -> T: ...
    def __get__(self, flow: Flow | None, owner: type) -> _Setting[T] | T:
        if flow is None:
            return self
        value: T = getattr(flow._parts, self._name)
        return value

    def __set__(self, flow: Flow, value: T) -> None:
        raise AttributeError(f"Flow.{self._name} is fixed at construction")


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
    :param backend: where the pools' buckets live: this process (default) or Redis,
        shared by every process of the account.
    :param concurrency: max requests in flight (``None``: unbounded).
    :param queue: how requests wait: :class:`QueuePolicy` (size, aging, timeout).
    :param tokens: how requests are counted: :class:`TokenCounting` (local or server
        counts, calibration, output reservation).
    :param spend: what may be spent: :class:`SpendPolicy` (budget, quotas, prices).
    :param cache: a :class:`ResponseCache`: identical requests are answered from it.
    :param coalesce: share one call among identical requests in flight (``None``: only
        when the cache is on or ``temperature`` is 0).
    :param batches: a :class:`BatchOffload`: requests it selects go through Message Batches.
    """

    base_url = _Setting[str]()
    limits = _Setting[LimitsSpec]()
    backend = _Setting[Backend]()
    concurrency = _Setting[int | None]()
    queue = _Setting[QueuePolicy]()
    retry = _Setting[RetryPolicy]()
    timeouts = _Setting[Timeouts]()
    learn_limits = _Setting[bool]()
    tokens = _Setting[TokenCounting]()
    spend = _Setting[SpendPolicy]()
    cache = _Setting[ResponseCache | None]()
    coalesce = _Setting[bool | None]()
    batches = _Setting[BatchOffload | None]()

    def __init__(
        self,
        *,
        api_key: str | ApiKey | Sequence[str | ApiKey] | None = None,
        base_url: str | None = None,
        limits: LimitsSpec = None,
        pools: Mapping[str, str] | None = None,
        routes: Routes | None = None,
        backend: Backend | None = None,
        concurrency: int | None = 16,
        queue: QueuePolicy | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        learn_limits: bool = True,
        tokens: TokenCounting | None = None,
        spend: SpendPolicy | None = None,
        cache: ResponseCache | None = None,
        coalesce: bool | None = None,
        batches: BatchOffload | None = None,
        anthropic_version: str = DEFAULT_API_VERSION,
        default_headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        given = {name: value for name, value in locals().items() if name != "self"}
        check_arguments(given)
        self._parts: Parts = build_parts(given)
        self._state = "new"
        self._run = Runtime(self._parts)

    # -- keys --------------------------------------------------------------------------

    def add_key(self, api_key: str | ApiKey) -> str:
        """Put another key in rotation while the Flow runs; return its name."""
        key = as_api_key(api_key)
        self._run.ring.add(key)
        self._parts.keys.append(key)
        return key.label

    def remove_key(self, name: str) -> None:
        """Take key ``name`` out of rotation; requests in flight on it finish."""
        self._run.ring.remove(name)
        self._parts.keys[:] = [k for k in self._parts.keys if k.label != name]

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
            self._run = Runtime(self._parts)  # fresh counters, bound to this loop
        await self.backend.start()
        await self._run.dispatcher.start()
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
        dispatcher = self._run.dispatcher
        dispatcher.refuse_waiters(FlowClosedError("Flow closed while waiting for space"))
        if cancel:
            dispatcher.cancel_all(
                FlowClosedError("cancelled: the Flow was closed with cancel=True")
            )
        try:
            await self._run.cheaper.aclose(cancel=cancel)  # batches end before the transport
            await dispatcher.wait_idle()
        except asyncio.CancelledError:
            dispatcher.cancel_all(
                FlowClosedError("cancelled: aclose() was cancelled while draining")
            )
            await self._run.cheaper.aclose(cancel=True)
            await self._finish_close()
            raise
        await self._finish_close()

    async def _finish_close(self) -> None:
        """Stop every task, then close connections (each step runs even if one fails)."""
        try:
            await self._run.dispatcher.stop()
        finally:
            self._state = "closed"
            self._parts.quotas.flush()
            closing = (self._parts.transports.aclose(), self.backend.aclose())
            await asyncio.gather(*closing, return_exceptions=True)

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
        :param queue_timeout: max seconds to wait before the first attempt starts
            (default: the Flow's ``queue.timeout``).
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
        run = self._run
        body, arm = run.jobs.route(params, task)
        level = parse_priority(priority)
        waits = self.queue.timeout if queue_timeout is UNSET else queue_timeout
        batching = run.cheaper.batches(batch, level, waits)
        if batching or run.cheaper.saves(body):
            queued = functools.partial(
                self._create_queued, body, arm, level, queue_timeout, wait_for_space,
                extra_headers, timeout,
            )  # fmt: skip
            return await run.cheaper.create(body, level, extra_headers, batching, queued)
        # The common path, inline: one coroutine frame per waiting request, no more.
        job = await run.jobs.make(body, arm, level, queue_timeout, extra_headers, timeout)
        await self._enqueue(job, wait_for_space)
        try:
            result: Result = await job.future
        except asyncio.CancelledError:
            run.dispatcher.abandon(job)
            raise
        return result

    async def _create_queued(
        self,
        body: dict[str, Any],
        arm: str | None,
        priority: int,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Result:
        """The ordinary path under a cheaper one: queue, admission, the Messages API."""
        job = await self._run.jobs.make(body, arm, priority, queue_timeout, extra, timeout)
        await self._enqueue(job, wait_for_space)
        try:
            result: Result = await job.future
        except asyncio.CancelledError:
            self._run.dispatcher.abandon(job)
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
        cheaper = self._run.cheaper
        body, arm = self._run.jobs.route(params, task)
        level = parse_priority(priority)
        opened = functools.partial(
            self._stream_queued, body, arm, level, queue_timeout, wait_for_space,
            extra_headers, timeout,
        )  # fmt: skip
        streams = cheaper.stream(body, level, extra_headers, opened) if cheaper.caches else opened()
        async with streams as stream:
            yield stream

    @contextlib.asynccontextmanager
    async def _stream_queued(
        self,
        body: dict[str, Any],
        arm: str | None,
        priority: int,
        queue_timeout: float | None,
        wait_for_space: bool,
        extra: Mapping[str, str] | None,
        timeout: float | None,
    ) -> AsyncIterator[FlowStream]:
        """The ordinary streaming path: queue, admission, the Messages API."""
        job = await self._run.jobs.make(body, arm, priority, queue_timeout, extra, timeout)
        job.channel = FlowStream(job.future)
        job.future.add_done_callback(_consume_outcome)
        await self._enqueue(job, wait_for_space)
        try:
            yield job.channel
        finally:
            if not job.future.done():
                self._run.dispatcher.abandon(job)

    async def _enqueue(self, job: Job, wait_for_space: bool) -> None:
        await self._run.dispatcher.make_room(self.queue.max_size, wait_for_space)
        self._check_open()  # the Flow may have closed while we estimated or waited
        self._run.submitted += 1
        self._run.dispatcher.queue(job)

    # -- looking -----------------------------------------------------------------------

    def stats(self) -> FlowStats:
        """Counters, queue depth per priority, each pool's buckets and the server's last view."""
        return flow_stats(self._run)

    def _check_open(self) -> None:
        if self._run.dispatcher.crashed is not None:
            crashed = self._run.dispatcher.crashed
            raise FlowClosedError(f"the Flow's dispatcher crashed: {crashed!r}")
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
