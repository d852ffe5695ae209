"""The aiohttp application: routes, request ids and access logs, start and stop.

Starting the app starts the Flow and the once-a-second sampler; cleaning it up (after
aiohttp has stopped accepting and let running handlers finish) drains the Flow, then
closes the transport and any alert webhooks in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from ._anthropic import count_tokens, messages
from ._dashboard import SAMPLER, Sampler, dashboard_data, dashboard_page
from ._gateway import Gateway
from ._models import get_model, list_models
from ._openai import chat_completions
from ._wire import GATEWAY, Exchange, begin_exchange, end_exchange

__all__ = ["create_app"]

access_log = logging.getLogger("claudeflow.gateway.access")

_MAX_BODY: Final = 32 * 1024 * 1024  # the API's own limit for /v1/messages
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(gateway: Gateway, *, sample_every_s: float = 1.0) -> web.Application:
    """The gateway as an aiohttp application (start it with any aiohttp runner)."""
    app = web.Application(client_max_size=_MAX_BODY, middlewares=[_observe])
    app[GATEWAY] = gateway
    app[SAMPLER] = Sampler(gateway)
    router = app.router
    router.add_post("/v1/messages", messages)
    router.add_post("/v1/messages/count_tokens", count_tokens)
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_get("/v1/models", list_models)
    router.add_get("/v1/models/{model_id}", get_model)
    router.add_get("/metrics", _metrics)
    router.add_get("/healthz", _healthz)
    router.add_get("/readyz", _readyz)
    router.add_get("/dashboard", dashboard_page)
    router.add_get("/dashboard/data", dashboard_data)
    app.cleanup_ctx.append(_lifecycle(sample_every_s))
    return app


def _lifecycle(
    every_s: float,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        gateway = app[GATEWAY]
        await gateway.flow.start()
        sampler = asyncio.create_task(_sample(gateway, app[SAMPLER], every_s))
        # Only once the Flow runs: /readyz must not send traffic to a gateway that cannot serve it.
        gateway.accepting = True
        try:
            yield
        finally:
            # First: load balancers stop sending while what is running finishes.
            gateway.accepting = False
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            # aiohttp has let the handlers finish (or cancelled them after the shutdown
            # timeout): nobody waits on what might be left, so nothing is drained for no one.
            await gateway.flow.aclose(cancel=True)
            await gateway.engine.aclose()
            await gateway.alerts.aclose()

    return lifecycle


async def _sample(gateway: Gateway, sampler: Sampler, every_s: float) -> None:
    while True:
        # Sampled before the first sleep, so the dashboard has a point the moment it opens.
        sampler.sample()
        await gateway.clock.sleep(every_s)


@web.middleware
async def _observe(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Give the request an id; count, time and log it (never a key, never a body)."""
    gateway = request.app[GATEWAY]
    request_id = f"req_gw_{uuid.uuid4().hex[:24]}"
    current, token = begin_exchange(request_id)
    started = gateway.clock.now()
    # What the access log says when the handler raises something unexpected.
    status = 500
    try:
        response = await handler(request)
        status = response.status
        # A stream's headers are already on the wire; only a whole response can still take one.
        if not response.prepared:
            response.headers["request-id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        end_exchange(token)
        _record(request, current, gateway, status, gateway.clock.now() - started)


def _record(
    request: web.Request, current: Exchange, gateway: Gateway, status: int, elapsed: float
) -> None:
    call = current.call
    api = call.api if call else "other"
    if call is not None:
        gateway.metrics.requests.labels(call.client.name, call.served_model, str(status), api).inc()
        gateway.metrics.latency.labels(api).observe(elapsed)
    # Checked first: building and encoding the line costs more than the check.
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(json.dumps(_access_line(request, current, status, elapsed)))


def _access_line(
    request: web.Request, current: Exchange, status: int, elapsed: float
) -> dict[str, Any]:
    call = current.call
    line: dict[str, Any] = {
        "request_id": current.request_id,
        "method": request.method,
        "path": request.path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "pid": os.getpid(),  # which worker, under --workers N
    }
    if call is not None:
        line.update(client=call.client.name, model=call.served_model)
        if call.result is not None:
            usage = call.result.usage
            line.update(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=call.result.cost_usd,
                queue_wait_ms=round(call.result.queue_wait_s * 1000, 2),
                attempts=call.result.attempts,
                upstream_key=call.result.key,
                pool=call.result.pool,
                cache_hit=call.result.cache_hit,
            )
    return line


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[GATEWAY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    """Ready while the Flow takes work; 503 once shutdown has begun."""
    state = request.app[GATEWAY].flow.stats()
    ready = request.app[GATEWAY].accepting
    body = {"status": "ready" if ready else "draining", "queued": state.queued}
    return web.json_response(body, status=200 if ready else 503)
