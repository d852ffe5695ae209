"""The gateway's core, shared by both wire formats: admit, run through the Flow, account.

One request: authenticate the key, check the model, take from the client's quota, then
``flow.create`` / ``flow.stream`` at the client's priority. When it ends, the client's
tokens and dollars are settled and the metrics recorded. A request refused before it
reached the API gives its quota back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._clock import Clock, LoopClock
from .._errors import ClaudeflowError, InvalidRequestError, RequestRejected
from ..scheduler import Flow, FlowStream, Result
from ..transport import ApiResponse
from ._alerts import Alerts
from ._clients import Clients, ModelNotAllowed
from ._config import ClientConfig, GatewayConfig
from ._engine import Engine
from ._metrics import GatewayMetrics
from ._quota import ClientQuota, QuotaExceeded, seconds_to_midnight, utc_day

__all__ = ["Call", "Gateway"]

# Client headers that go on to the API (everything else, credentials first, stays here).
_FORWARDED = ("anthropic-beta",)
# Keyword options of Flow.create, not API fields: a body must not smuggle them in (a
# client setting wait_for_space or its own timeouts would escape back-pressure).
_FLOW_OPTIONS = frozenset(
    {"priority", "queue_timeout", "wait_for_space", "extra_headers", "timeout", "extra_body",
     "extra_query"}
)  # fmt: skip


@dataclass(slots=True)
class Call:
    """One request on its way through the gateway."""

    quota: ClientQuota
    model: str
    api: str
    headers: dict[str, str] = field(default_factory=dict)
    result: Result | None = None

    @property
    def client(self) -> ClientConfig:
        return self.quota.client

    @property
    def served_model(self) -> str:
        """The model that answered (after routes), else the one asked for."""
        return self.result.model if self.result is not None else self.model


class Gateway:
    """Clients, quotas, the engine and the bookkeeping around it."""

    def __init__(
        self, config: GatewayConfig, engine: Engine, *, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock or LoopClock()
        self.clients = Clients(config, self.clock)
        self.metrics = GatewayMetrics(self.flow.stats)
        self.alerts = Alerts(config.alerts)
        self._spent_day = utc_day()
        self._spent_usd = 0.0
        # False until the app has started and again once shutdown begins (/readyz).
        self.accepting = False

    @property
    def flow(self) -> Flow:
        return self.engine.flow

    def reload(self, config: GatewayConfig) -> None:
        """Take new clients, quotas and alert rules; the engine (and its queue) stays."""
        self.clients.reload(config)
        self.alerts.reconfigure(config.alerts)
        self.config = config

    @property
    def spent_today_usd(self) -> float:
        if utc_day() != self._spent_day:
            self._spent_day, self._spent_usd = utc_day(), 0.0
        return self._spent_usd

    # -- one request ----------------------------------------------------------------

    def identify(self, headers: Mapping[str, str], api: str) -> Call:
        """Who is calling (401 if nobody we know); nothing is charged yet."""
        return Call(self.clients.authenticate(headers), "", api)

    def admit(self, call: Call, model: Any, headers: Mapping[str, str]) -> None:
        """Resolve the model (403 if not allowed) and take from the quotas (429), no wait."""
        call.model = model if isinstance(model, str) else ""  # the label if refused
        call.model = self.check_model(call.client, model)
        budget = self.config.budget_usd_per_day
        if budget is not None and self.spent_today_usd >= budget:
            raise QuotaExceeded(
                f"the gateway has spent its ${budget:g} budget for today",
                retry_after=seconds_to_midnight(),
                headers={},
            )
        # After the gateway's budget: a request either refuses takes nothing from the client.
        call.quota.admit()
        # An allow-list, not a deny-list: a client's credentials must never reach the API.
        call.headers = {k: v for k in _FORWARDED if (v := headers.get(k))}

    def check_model(self, client: ClientConfig, model: Any) -> str:
        if not isinstance(model, str) or not model:
            return model  # the Flow's validation says why
        if not self.config.allows(client, model):
            raise ModelNotAllowed(f"this key may not use model {model!r}")
        return model  # routes (aliases, splits) are the Flow's to resolve

    async def create(self, call: Call, body: dict[str, Any]) -> Result:
        body = _api_body(call, body)
        with self._refund_if_refused(call):
            call.result = await self.flow.create(
                **body, priority=call.client.priority, extra_headers=call.headers or None
            )
        self._settle(call, call.result)
        return call.result

    @contextlib.asynccontextmanager
    async def stream(self, call: Call, body: dict[str, Any]) -> AsyncIterator[FlowStream]:
        body = _api_body(call, body)
        # flow.stream sets stream itself; the client's flag must not reach it as a keyword.
        body.pop("stream", None)
        with self._refund_if_refused(call):
            async with self.flow.stream(
                **body, priority=call.client.priority, extra_headers=call.headers or None
            ) as stream:
                yield stream
                # An error here was raised to the handler already, inside the block.
                with contextlib.suppress(ClaudeflowError):
                    call.result = await stream.result()
        # After the block: a stream's usage is known only once it has been read to the end.
        self._settle(call, call.result)

    async def count_tokens(self, headers: Mapping[str, str], body: dict[str, Any]) -> ApiResponse:
        """Forward ``count_tokens`` with the gateway's credentials (no quota is taken)."""
        # Authenticated like any request, but no quota: count_tokens is free and has its own limit.
        quota = self.clients.authenticate(headers)
        model = self.check_model(quota.client, body.get("model"))
        if isinstance(model, str) and model:
            model = self.config.upstream.targets(model)[0]  # count_tokens knows no routes
        body = {**body, "model": model}
        forwarded = {k: v for k in _FORWARDED if (v := headers.get(k))}
        response = await self.engine.transport.send(
            "POST",
            "/v1/messages/count_tokens",
            headers={**self.engine.headers, **forwarded, "content-type": "application/json"},
            json=body,
        )
        return ApiResponse(response.status, response.headers, await response.read())

    @contextlib.contextmanager
    def _refund_if_refused(self, call: Call) -> Any:
        try:
            yield
        # Refused before the API saw it (queue full, deadline): the client gets its request back.
        except RequestRejected:
            call.quota.refund()
            raise

    def _settle(self, call: Call, result: Result | None) -> None:
        if result is None:
            return
        usage = result.usage
        call.quota.settle(usage.input_tokens + usage.output_tokens, result.cost_usd)
        name, model = call.client.name, result.model
        self.metrics.tokens.labels(name, model, "input").inc(usage.input_tokens)
        self.metrics.tokens.labels(name, model, "output").inc(usage.output_tokens)
        self.metrics.queue_wait.labels(str(result.priority)).observe(result.queue_wait_s)
        if result.cost_usd:
            self._spent_usd = self.spent_today_usd + result.cost_usd
            self.metrics.cost.labels(name, model).inc(result.cost_usd)
            self.alerts.check_budget(
                f"client {name}", call.quota.spent_today_usd, call.client.budget_usd_per_day
            )
            self.alerts.check_budget("gateway", self._spent_usd, self.config.budget_usd_per_day)


def _api_body(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    """The body with the resolved model; refused (and refunded) if it names Flow options."""
    smuggled = sorted(_FLOW_OPTIONS & body.keys())
    if smuggled:
        # admit() has already taken the request; refusing without a refund would leak it.
        call.quota.refund()
        raise InvalidRequestError(f"{smuggled[0]}: Extra inputs are not permitted")
    return {**body, "model": call.model}
