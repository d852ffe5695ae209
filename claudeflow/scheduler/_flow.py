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
import logging
import math
import os
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal, Protocol

from .._clock import Clock, LoopClock
from .._config import Timeouts, check_positive
from .._errors import CapacityError, ConfigError, FlowClosedError, InvalidRequestError
from .._types import Cost, Priority
from ..limiter import Backend, MemoryBackend, MemoryPool, ModelClasses, PoolStatistics, Slots
from ..limiter._quota import Quota, QuotaBook
from ..retry import RetryPolicy
from ..routing import (
    ApiKey,
    ArmStatistics,
    KeyRing,
    LimitsSpec,
    PoolFactory,
    PoolLimits,
    Router,
    Routes,
    max_output_tokens,
)
from ..tokens import (
    Calibrator,
    OutputReservation,
    PriceTable,
    ServerTokenCounter,
    TokenEstimator,
    Usage,
)
from ..transport import AiohttpTransport, Transport
from ..transport._base import CREDENTIAL_HEADERS, lower_names, masked
from ._budget import Budget, Spending
from ._dispatcher import Dispatcher
from ._job import Job
from ._request import parse_priority, validate_body
from ._result import FlowStats, Result
from ._runner import Runner
from ._stream import FlowStream

__all__ = ["Estimator", "Flow"]

log = logging.getLogger("claudeflow")

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
        anthropic_version: str = DEFAULT_API_VERSION,
        default_headers: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_arguments(locals())
        self._keys = _api_keys(api_key)
        self.base_url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        self._pool_limits = PoolLimits(limits, ModelClasses(pools))
        self._router = Router(routes)
        self._quotas = QuotaBook(quotas, quota_file)
        self.limits = limits
        self.backend: Backend = backend or MemoryBackend()
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
            **lower_names(default_headers or {}),
        }
        self._estimator: Estimator = estimator or TokenEstimator()
        if token_counting == "server" and estimator is None:
            self._estimator = ServerTokenCounter(
                self._transport,
                _Headers({**self._headers, "x-api-key": self._keys[0].key}),
                self._clock,
                rpm=count_tokens_rpm,
                window_s=self._pool_limits.window_s,
            )
        self._aging_s = aging_s
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
            reroute=self._reroute,
        )
        self._dispatcher = Dispatcher(
            self._ring,
            self._slots,
            self._clock,
            aging_s=self._aging_s,
            attempt=self._runner.attempt,
            fail=self._runner.fail,
            budget_ok=self._spending.delay,
            on_launch=self._runner.launched,
            reroute=self._reroute,
        )
        self._submitted = 0

    def _transport_for(self, base_url: str | None) -> Transport:
        """The Flow's transport, or (for a key with its own endpoint) one made for it."""
        if base_url is None or base_url == self.base_url:
            return self._transport
        found = self._key_transports.get(base_url)
        if found is None:
            found = AiohttpTransport(base_url, timeouts=self.timeouts)
            self._key_transports[base_url] = found
        return found

    # -- keys --------------------------------------------------------------------------

    def add_key(self, api_key: str | ApiKey) -> str:
        """Put another key in rotation while the Flow runs; return its name."""
        key = _as_api_key(api_key)
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
            await self._dispatcher.wait_idle()
        except asyncio.CancelledError:
            self._dispatcher.cancel_all(
                FlowClosedError("cancelled: aclose() was cancelled while draining")
            )
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
        queue_timeout: float | None = _UNSET,
        wait_for_space: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | None = _UNSET,
        task: str | None = None,
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
        :raises APIStatusError: the API refused it and retrying could not help.
        """
        self._check_open()
        job = await self._new_job(
            params, task, parse_priority(priority), queue_timeout, extra_headers, timeout
        )
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
        cancelled) stops the request and releases everything it held.
        """
        self._check_open()
        params.pop("stream", None)
        job = await self._new_job(
            params, task, parse_priority(priority), queue_timeout, extra_headers, timeout
        )
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
        params: dict[str, Any],
        task: str | None,
        priority: int,
        queue_timeout: float | None,
        extra_headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> Job:
        routed, arm = self._router.resolve(params.get("model"), task=task, draw=self._rng.random)
        body = validate_body({**params, "model": routed} if routed is not None else params)
        model = body["model"]
        model_class = self._pool_limits.classes(model)
        estimate = await self._estimator.estimate_async(body)
        reserved_in = self._calibrator.adjust(model, estimate) if self._calibrator else estimate
        reserved_out = self._reservation.reserve(model, body["max_tokens"])
        cost = Cost(1, reserved_in, reserved_out)
        self._check_fits(model_class, cost)
        now = self._clock.now()
        if queue_timeout is _UNSET:
            queue_timeout = self.queue_timeout
        check_positive("queue_timeout", queue_timeout)
        job = Job(
            body=body,
            extra_headers=_extra_headers(extra_headers),
            model=model,
            model_class=model_class,
            priority=priority,
            cost=cost,
            estimate=estimate,
            worst_usd=self._worst_usd(model, reserved_in, body["max_tokens"]),
            future=asyncio.get_running_loop().create_future(),
            submitted_at=now,
            deadline=None if queue_timeout is None else now + queue_timeout,
            timeout=self._attempt_timeout(timeout),
            queue_timeout=queue_timeout,
            fallbacks=self._router.chain(model),
            tried=[model],
            arm=arm,
        )
        self._spending.check_open(job)
        return job

    def _reroute(self, job: Job, error: BaseException) -> bool:
        """Move ``job`` to the next model of its fallback chain that can take it."""
        while job.fallbacks:
            model = job.fallbacks.pop(0)
            body = {**job.body, "model": model}
            cap = max_output_tokens(model)
            if cap is not None and body["max_tokens"] > cap:
                body["max_tokens"] = cap  # the same request, within what this model allows
            out = self._reservation.reserve(model, body["max_tokens"])
            cost = Cost(1, job.cost.input_tokens, out)
            model_class = self._pool_limits.classes(model)
            try:
                self._check_fits(model_class, cost)
            except CapacityError:
                continue
            log.warning("falling back from %s to %s (%s)", job.model, model, error)
            job.body, job.model, job.model_class, job.cost = body, model, model_class, cost
            job.worst_usd = self._worst_usd(model, cost.input_tokens, body["max_tokens"])
            job.tried.append(model)
            return True
        return False

    def _check_fits(self, model_class: str, cost: Cost) -> None:
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
        if self.budget_usd is None and not any(q.usd for q in self._quotas.quotas):
            return 0.0
        return self._prices.cost_usd(model, Usage(input_tokens, max_tokens)) or 0.0

    def _attempt_timeout(self, timeout: float | None) -> float:
        if timeout is _UNSET:
            return self.timeouts.total
        if timeout is None:
            return math.inf  # as in the SDK: no limit at all
        check_positive("timeout", timeout)
        return timeout

    async def _enqueue(self, job: Job, wait_for_space: bool) -> None:
        await self._dispatcher.make_room(self.max_queue, wait_for_space)
        self._check_open()  # the Flow may have closed while we estimated or waited
        self._submitted += 1
        self._dispatcher.queue(job)

    def stats(self) -> FlowStats:
        """Counters, queue depth per priority, each pool's buckets and the server's last view."""
        c = self._runner.counts
        pools = {pool.name: pool.buckets.statistics() for pool in self._ring.all_pools()}
        first = next(iter(pools.values()), None) or self._template_pool()
        return FlowStats(
            submitted=self._submitted,
            completed=c["completed"],
            failed=c["failed"],
            cancelled=self._dispatcher.cancelled,
            queued=len(self._dispatcher),
            in_flight=self._slots.in_flight,
            attempts=self._dispatcher.attempts,
            retries=c["retries"],
            rate_limited=c["rate_limited"],
            statuses=MappingProxyType(dict(self._runner.statuses)),
            input_tokens=c["input_tokens"],
            output_tokens=c["output_tokens"],
            cache_creation_input_tokens=c["cache_creation_input_tokens"],
            cache_read_input_tokens=c["cache_read_input_tokens"],
            cost_usd=self._budget.spent_usd,
            unpriced_requests=c["unpriced"],
            queue_by_priority=MappingProxyType(self._dispatcher.depth_by_class()),
            buckets=MappingProxyType(first.buckets),
            paused_for_s=max((p.paused_for_s for p in pools.values()), default=0.0),
            server=self._runner.server,
            calibration=MappingProxyType(self._calibrator.stats() if self._calibrator else {}),
            pools=MappingProxyType(pools),
            keys=MappingProxyType({k.name: k.statistics() for k in self._ring}),
            budget_reserved_usd=self._budget.reserved_usd,
            arms=MappingProxyType(_arm_statistics(self._runner.arms)),
            quotas=MappingProxyType(self._quotas.usage()),
        )

    def _template_pool(self) -> PoolStatistics:
        """What a new pool starts with, shown before the first request makes one."""
        template = MemoryPool("", self._pool_limits.default, clock=self._clock)
        return template.statistics()

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


class _Headers(dict[str, str]):
    """Request headers (lower-case names); the repr masks credentials."""

    def __repr__(self) -> str:
        return repr(masked(self))


# Credentials come from api_key only: each key's limits are its own pools'.
_ONE_KEY = "may not set the API key; pass keys as api_key (a list makes a key pool)"


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a stream job's error as seen; the caller meets it through the FlowStream."""
    if not future.cancelled():
        future.exception()


def _arm_statistics(
    arms: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> dict[str, Mapping[str, ArmStatistics]]:
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
        for split, models in arms.items()
    }


def _api_keys(given: str | ApiKey | Sequence[str | ApiKey] | None) -> list[ApiKey]:
    """One key (``$ANTHROPIC_API_KEY`` by default) or a key pool; never an empty one."""
    if given is None:
        given = os.environ.get("ANTHROPIC_API_KEY")
        if not given:
            raise ConfigError("api_key", "not given and ANTHROPIC_API_KEY is not set")
    if isinstance(given, str | ApiKey):
        return [_as_api_key(given)]
    if not isinstance(given, Sequence) or not given:
        raise ConfigError("api_key", "must be a str, an ApiKey or a non-empty list of them")
    keys = [_as_api_key(key) for key in given]
    labels = [key.label for key in keys]
    if len(set(labels)) != len(labels):
        raise ConfigError("api_key", f"key names must be unique, got {labels}")
    return keys


def _as_api_key(key: object) -> ApiKey:
    if isinstance(key, ApiKey):
        return key
    if isinstance(key, str) and key:
        return ApiKey(key)
    raise ConfigError("api_key", f"must be a non-empty str or an ApiKey, got {type(key).__name__}")


def _extra_headers(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    if not extra:
        return None
    lowered = lower_names(extra)
    if CREDENTIAL_HEADERS & lowered.keys():
        raise InvalidRequestError(f"extra_headers: {_ONE_KEY}")
    return lowered


def _check_arguments(given: Mapping[str, Any]) -> None:
    """Validate the Flow's arguments, naming the first one that is wrong."""
    _check_int("concurrency", given["concurrency"])
    _check_int("max_queue", given["max_queue"])
    check_positive("aging_s", given["aging_s"])
    check_positive("queue_timeout", given["queue_timeout"])
    check_positive("count_tokens_rpm", given["count_tokens_rpm"], allow_none=False)
    budget = given["budget_usd"]
    if budget is not None and budget < 0:
        raise ConfigError("budget_usd", f"must be >= 0, got {budget!r}")
    if given["token_counting"] not in ("local", "server"):
        raise ConfigError(
            "token_counting", f"must be 'local' or 'server', got {given['token_counting']!r}"
        )
    for argument, kind in _KINDS:
        value = given[argument]
        if value is not None and not isinstance(value, kind):
            raise ConfigError(argument, f"must be a {kind.__name__}, got {type(value).__name__}")
    pools = given["pools"]
    if pools is not None and not (
        isinstance(pools, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) and v for k, v in pools.items())
    ):
        raise ConfigError("pools", "must map model ids to pool names (non-empty str)")
    if CREDENTIAL_HEADERS & lower_names(given["default_headers"] or {}).keys():
        raise ConfigError("default_headers", _ONE_KEY)


_KINDS: Final = (
    ("base_url", str),
    ("retry", RetryPolicy),
    ("timeouts", Timeouts),
    ("output_reservation", OutputReservation),
    ("prices", PriceTable),
    ("routes", Routes),
)


def _check_int(argument: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(argument, f"must be an int >= 1 or None, got {value!r}")
