"""The pure core of the simulated Anthropic API.

:class:`SimulatedAPI` turns (headers, body) into a :class:`Reply` synchronously:
authentication, validation, fault injection, prompt caching, admission against the
token buckets, and the response itself. Time comes from an injected :class:`Clock`;
timestamps shown to clients are ``clock.now() + wall_offset``. Waiting (latency) and
settling happen in :meth:`SimulatedAPI.deliver` / :meth:`SimulatedAPI.stream`, which
only sleep on that clock, so the whole core runs in virtual time under a FakeClock.
The aiohttp layer (:mod:`._app`) is a thin adapter over these methods. The Message
Batches endpoints are in :mod:`._batch_api`, the steps every endpoint shares in
:mod:`._api_state`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from .._clock import Clock, LoopClock, wall_time
from .._errors import ConfigError
from ..limiter._classes import ModelClasses
from ._admission import Admission
from ._batch_api import BatchEndpoints
from ._batches import BatchService
from ._cache import PromptCache
from ._config import SimulatorConfig
from ._faults import Fault, FaultInjector, fault_error
from ._limits import LimitSet
from ._models import ModelCatalog
from ._output import Plan, plan_output
from ._rate_limits_api import authorize_admin, rate_limits
from ._reply import Reply, Settlement, deliver_json, json_delay, json_steps, stream_body
from ._sse import StreamTiming, stream_chunks
from ._stats import Stats
from ._validate import (
    api_version,
    authenticate,
    parse_body,
    validate_count_tokens,
    validate_messages,
)
from ._wire import IdFactory, SimError, dumps

__all__ = ["SimulatedAPI"]

_SSE = "text/event-stream; charset=utf-8"


class SimulatedAPI(BatchEndpoints):
    """The simulated Messages, Token Counting, Message Batches, Models and Rate Limits APIs.

    :param config: what to simulate (default: :class:`SimulatorConfig` defaults)
    :param clock: source of time (default :class:`~claudeflow.LoopClock`)
    :param wall_offset: ``clock.now() + wall_offset`` is Unix time in headers and
        bodies; by default it matches the real wall clock at construction

    >>> api = SimulatedAPI(SimulatorConfig(rpm=50))
    >>> api.stats()["received"]
    0
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        *,
        wall_offset: float | None = None,
    ) -> None:
        if config is not None and not isinstance(config, SimulatorConfig):
            raise ConfigError("config", f"must be a SimulatorConfig, got {type(config).__name__}")
        self.config = config if config is not None else SimulatorConfig()
        self.clock: Clock = clock if clock is not None else LoopClock()
        self.wall_offset = wall_time() - self.clock.now() if wall_offset is None else wall_offset
        cfg = self.config
        self._ids = IdFactory(cfg.seed)  # kept across reset(): ids never repeat
        self._classes = ModelClasses(cfg.model_classes)
        self._reserve = cfg.otpm_mode == "reserve_max_tokens"
        self._timing = StreamTiming(
            cfg.ttft_s, cfg.per_token_s, cfg.stream_chunk_tokens, cfg.ping_interval_s
        )
        self.models = ModelCatalog(
            cfg.models,
            cfg.extra_models,
            max_tokens=cfg.max_output_tokens,
            context_window=cfg.context_window,
        )
        self._build_state()

    def _build_state(self) -> None:
        cfg, scale = self.config, self.config.minute_seconds
        self._cache = PromptCache(
            min_tokens=cfg.cache_min_tokens, minute_seconds=scale, ttl_minutes=cfg.cache_ttl_minutes
        )
        self._faults = FaultInjector(cfg.faults, cfg.seed)
        self._stats = Stats()
        self._admission = Admission(
            cfg,
            clock=self.clock,
            wall_offset=self.wall_offset,
            org_id=self._ids.org_id,
            stats=self._stats,
            classes=self._classes,
        )
        self._batches = BatchService(
            cfg.batch,
            clock=self.clock,
            ids=self._ids,
            wall=self.wall,
            minute_seconds=scale,
            prepare=self._prepare_batch_request,
        )
        self._started = self.clock.now()

    # -- public surface ----------------------------------------------------------------

    def wall(self) -> float:
        """Unix time as the simulator shows it."""
        return self.clock.now() + self.wall_offset

    def messages(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """``POST /v1/messages``. ``headers`` must be case-insensitive or lower-case."""
        return self._answer("messages", lambda rid: self._messages(headers, body, rid))

    def count_tokens(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """``POST /v1/messages/count_tokens`` (its own RPM bucket, no rate-limit headers)."""

        def work(rid: str) -> Reply:
            key = authenticate(headers, self.config.api_keys)
            version = api_version(headers)
            parsed = parse_body(body)
            spec = validate_count_tokens(parsed, version, self.models)
            self._admission.admit_requests(
                self._admission.count_tokens, key, "count_tokens", "token counting"
            )
            return self._ok(rid, {"input_tokens": self._measure(parsed, spec.context_window).total})

        return self._answer("count_tokens", work)

    def list_models(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Reply:
        """``GET /v1/models``: the served models, newest first, paginated."""
        return self._plain_call(headers, "models.list", lambda: self.models.page(query))

    def retrieve_model(self, headers: Mapping[str, str], model_id: str) -> Reply:
        """``GET /v1/models/{model_id}`` (an id or alias; 404 for a model not served)."""
        return self._plain_call(headers, "models.retrieve", lambda: self.models.retrieve(model_id))

    def rate_limits(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Reply:
        """``GET /v1/organizations/rate_limits`` (Admin key only), from the configuration."""

        def work(rid: str) -> Reply:
            # Rate limits come from configuration: the key still has to authenticate first.
            authorize_admin(authenticate(headers, None))  # an API key gets a 401, as from the API
            api_version(headers)
            result = rate_limits(self.config, self.models, self._classes, self._ids.org_id, query)
            return self._ok(rid, result)

        return self._answer("rate_limits", work)

    def client_gone(self) -> None:
        """A client closed its connection before its reply was complete."""
        self._stats.client_disconnects += 1

    def unknown_route(self, method: str, path: str) -> Reply:
        return self._answer("unknown", _not_found)

    async def deliver(self, reply: Reply) -> None:
        """Wait out a JSON reply's latency and settle it (raises ConnectionDropped)."""
        await deliver_json(reply, self.clock)

    def stream(self, reply: Reply) -> AsyncGenerator[bytes, None]:
        """The timed SSE body of a streamed reply (raises ConnectionDropped)."""
        return stream_body(reply, self.clock)

    def stats(self) -> dict[str, Any]:
        """Counters, token totals and bucket levels (the ``GET /_stats`` body)."""
        now = self.clock.now()
        data = self._stats.snapshot()
        data["uptime_s"] = round(now - self._started, 6)
        data["buckets"] = self._admission.messages.levels(now)
        data["cache_entries"] = len(self._cache)
        data["batches"] = self._batches.stats()
        return data

    def reset(self) -> None:
        """Forget all state: buckets full, caches, counters, batches, fault RNGs."""
        self._batches.clear()
        self._build_state()

    async def aclose(self) -> None:
        """Stop background batch processing."""
        await self._batches.aclose()

    # -- messages ----------------------------------------------------------------------

    def _messages(self, headers: Mapping[str, str], raw: bytes, rid: str) -> Reply:
        cfg = self.config
        key = authenticate(headers, cfg.api_keys)
        version = api_version(headers)
        body = parse_body(raw)
        spec = validate_messages(body, version, self.models)
        prompt = self._measure(body, spec.context_window)
        model: str = body["model"]
        streaming = body.get("stream") is True
        # Drawn after validation: the API rejects a malformed body before anything can go wrong.
        fault = self._draw_fault(streaming)
        if fault is not None and fault.before_admission:
            return self._fault_reply(fault, key, model, rid)
        now = self.clock.now()
        # Cached prefixes belong to one key and one model (\x00 occurs in neither).
        plan = self._cache.plan(prompt, f"{key}\x00{model}", now)
        max_tokens: int = body["max_tokens"]
        # Admission after the cache plan: cache reads are free in ITPM (api doc §1.3).
        limits = self._admission.admit_message(key, model, plan, max_tokens, now)
        if plan.entries:  # written only once admitted: a 429 leaves the cache as it was
            self._cache.commit(plan, now)
        self._stats.admitted += 1
        self._stats.in_flight += 1
        self._stats.record_input(plan.input_tokens, plan.cache_creation, plan.cache_read)
        output = plan_output(
            body, seed=cfg.seed, low=cfg.output_tokens_min, high=cfg.output_tokens_max
        )
        message = self._message(model, plan, output, "standard")
        if fault is not None:
            self._stats.faults[fault.value] += 1
        if streaming:
            return self._stream_reply(message, output, limits, max_tokens, fault, rid)
        return self._json_reply(message, limits, max_tokens, fault, rid)

    def _json_reply(
        self,
        message: dict[str, Any],
        limits: LimitSet | None,
        max_tokens: int,
        fault: Fault | None,
        rid: str,
    ) -> Reply:
        cfg = self.config
        tokens: int = message["usage"]["output_tokens"]
        reply = Reply(200, self._headers(rid), dumps(message), admitted_at=self.clock.now())
        reply.drop = fault is Fault.CONNECTION_DROP
        if cfg.has_latency:
            reply.delay = json_delay(tokens, cfg)
        if limits is None and not reply.pending:
            self._stats.finish(tokens)  # the hot path: nothing to wait for, nothing to settle
            return reply
        reply.settlement = self._settlement(limits, tokens, max_tokens)
        if limits is not None:
            reply.refresh = lambda: self._admission.headers(limits)
            if cfg.otpm_mode == "actual" and reply.delay > 0:
                reply.steps = json_steps(tokens, cfg)
        if reply.delay == 0 and not reply.drop:
            # Nothing to wait for: settle now, so the headers sent count this request.
            reply.settlement.produced(tokens)
            reply.settlement.finish()
            reply.settlement = None
            if reply.refresh is not None:
                reply.headers.update(reply.refresh())
                reply.refresh = None
        return reply

    def _stream_reply(
        self,
        message: dict[str, Any],
        output: Plan,
        limits: LimitSet | None,
        max_tokens: int,
        fault: Fault | None,
        rid: str,
    ) -> Reply:
        # Rate-limit headers go out once, with the HTTP headers, never inside events (api doc §2.3).
        headers = self._headers(rid, _SSE)
        headers["cache-control"] = "no-cache"
        if limits is not None:
            headers.update(self._admission.headers(limits))
        failing = fault is Fault.STREAM_ERROR
        chunks = stream_chunks(message, output, self._timing, fail_half_way=failing)
        reply = Reply(200, headers, chunks=chunks, admitted_at=self.clock.now())
        if fault is Fault.CONNECTION_DROP:
            # The client sees half a stream, then the connection break.
            reply.chunks = chunks[: max(1, len(chunks) // 2)]
            reply.drop = True
        reply.settlement = self._settlement(limits, message["usage"]["output_tokens"], max_tokens)
        return reply

    # -- faults ------------------------------------------------------------------------

    def _draw_fault(self, streaming: bool) -> Fault | None:
        if not self._faults.enabled:
            return None
        elapsed = self.clock.now() - self._started
        return self._faults.draw(
            elapsed=elapsed, admitted=self._stats.admitted, streaming=streaming
        )

    def _fault_reply(self, fault: Fault, key: str, model: str, rid: str) -> Reply:
        self._stats.faults[fault.value] += 1
        if fault is Fault.ERROR_504:
            reply = self._error(SimError(504, "timeout_error", "Request timed out"), rid)
            # A 504 is retryable (api doc §3.2); it comes late, as a real timeout does.
            reply.headers["x-should-retry"] = "true"
            reply.delay = self.config.ttft_s
            return reply
        # Fault 429s/529s carry the scope's rate-limit headers as a real 429 does (api doc §2.3).
        headers = self._admission.scope_headers(key, model)
        faults = self.config.faults
        if fault is Fault.RAMP_429:
            headers.update(self._admission.retry_after(faults.ramp_retry_after_s))
        elif fault is not Fault.ERROR_500 and faults.overload_retry_after_s is not None:
            headers.update(self._admission.retry_after(faults.overload_retry_after_s))
        raise fault_error(fault, headers, self.wall())

    # -- helpers -----------------------------------------------------------------------

    def _settlement(self, limits: LimitSet | None, tokens: int, max_tokens: int) -> Settlement:
        return Settlement(
            limits,
            total=tokens,
            reserved=max_tokens if self._reserve and limits is not None else 0,
            actual=not self._reserve,
            clock=self.clock,
            on_done=self._stats.finish,  # bound now: a reset() mid-request cannot skew counts
        )

    def _plain_call(
        self, headers: Mapping[str, str], endpoint: str, call: Callable[[], dict[str, Any]]
    ) -> Reply:
        """An authenticated, unlimited GET answered with ``call()``'s JSON."""

        def work(rid: str) -> Reply:
            authenticate(headers, self.config.api_keys)
            api_version(headers)
            return self._ok(rid, call())

        return self._answer(endpoint, work)


def _not_found(rid: str) -> Reply:
    raise SimError(404, "not_found_error", "Not found")
