"""The thin aiohttp adapter over :class:`SimulatedAPI`.

Handlers read the request, call one core method, and write the :class:`Reply` back:
a JSON body after its latency, or an SSE body chunk by chunk. A reply marked ``drop``
ends by aborting the connection, which is what a client sees when the API's
connection breaks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from aiohttp import web

from ._core import SimulatedAPI
from ._reply import ConnectionDropped, Reply
from ._wire import dumps

__all__ = ["API_KEY", "create_app"]

API_KEY = web.AppKey("claudeflow_simulated_api", SimulatedAPI)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# How a route asks the core for its reply (with the request body, for a BodyCall).
Call = Callable[[SimulatedAPI, web.Request], Reply]
BodyCall = Callable[[SimulatedAPI, web.Request, bytes], Reply]

# Batches may be up to 256 MB (api doc §3.2); every other endpoint allows 32 MB.
_MAX_BODY = 256 * 1024 * 1024


def create_app(api: SimulatedAPI) -> web.Application:
    """An aiohttp application serving ``api`` (stored under :data:`API_KEY`)."""
    app = web.Application(client_max_size=_MAX_BODY)
    app[API_KEY] = api
    router = app.router
    router.add_post("/v1/messages", _messages)
    router.add_post("/v1/messages/count_tokens", _with_body(_count_tokens))
    router.add_post("/v1/messages/batches", _with_body(_create_batch))
    router.add_get("/v1/messages/batches", _answering(_list_batches))
    router.add_get("/v1/messages/batches/{batch_id}", _answering(_retrieve_batch))
    router.add_delete("/v1/messages/batches/{batch_id}", _answering(_delete_batch))
    router.add_post("/v1/messages/batches/{batch_id}/cancel", _answering(_cancel_batch))
    router.add_get("/v1/messages/batches/{batch_id}/results", _answering(_batch_results))
    router.add_get("/v1/models", _answering(_list_models))
    router.add_get("/v1/models/{model_id}", _answering(_retrieve_model))
    router.add_get("/v1/organizations/rate_limits", _answering(_rate_limits))
    router.add_get("/_stats", _stats)
    router.add_post("/_reset", _reset)
    router.add_route("*", "/{tail:.*}", _answering(_unknown))
    app.on_cleanup.append(_close)
    return app


async def _close(app: web.Application) -> None:
    await app[API_KEY].aclose()


def _answering(call: Call) -> Handler:
    """A handler that sends the reply of ``call(api, request)``."""

    async def handle(request: web.Request) -> web.StreamResponse:
        api = request.app[API_KEY]
        return await _send(request, api, call(api, request))

    return handle


def _with_body(call: BodyCall) -> Handler:
    """A handler that reads the body first and sends ``call(api, request, body)``'s reply."""

    async def handle(request: web.Request) -> web.StreamResponse:
        api = request.app[API_KEY]
        return await _send(request, api, call(api, request, await request.read()))

    return handle


async def _messages(request: web.Request) -> web.StreamResponse:
    api = request.app[API_KEY]
    reply = api.messages(request.headers, await request.read())
    if reply.chunks is not None:
        return await _send_stream(request, api, reply)
    return await _send(request, api, reply)


def _count_tokens(api: SimulatedAPI, request: web.Request, body: bytes) -> Reply:
    return api.count_tokens(request.headers, body)


def _create_batch(api: SimulatedAPI, request: web.Request, body: bytes) -> Reply:
    return api.create_batch(request.headers, body, base_url=_base(request))


def _list_batches(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.list_batches(request.headers, request.query, base_url=_base(request))


def _retrieve_batch(api: SimulatedAPI, request: web.Request) -> Reply:
    batch_id = request.match_info["batch_id"]
    return api.retrieve_batch(request.headers, batch_id, base_url=_base(request))


def _cancel_batch(api: SimulatedAPI, request: web.Request) -> Reply:
    batch_id = request.match_info["batch_id"]
    return api.cancel_batch(request.headers, batch_id, base_url=_base(request))


def _delete_batch(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.delete_batch(request.headers, request.match_info["batch_id"])


def _batch_results(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.batch_results(request.headers, request.match_info["batch_id"])


def _list_models(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.list_models(request.headers, request.query)


def _retrieve_model(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.retrieve_model(request.headers, request.match_info["model_id"])


def _rate_limits(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.rate_limits(request.headers, request.query)


def _unknown(api: SimulatedAPI, request: web.Request) -> Reply:
    return api.unknown_route(request.method, request.path)


async def _stats(request: web.Request) -> web.StreamResponse:
    return _json(request.app[API_KEY].stats())


async def _reset(request: web.Request) -> web.StreamResponse:
    request.app[API_KEY].reset()
    return _json({"reset": True})


def _json(data: dict[str, Any]) -> web.Response:
    return web.Response(body=dumps(data), content_type="application/json")


def _base(request: web.Request) -> str:
    """The simulator's own base URL as the client reached it (for ``results_url``)."""
    return f"{request.scheme}://{request.host}"


async def _send(request: web.Request, api: SimulatedAPI, reply: Reply) -> web.StreamResponse:
    response = web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    if reply.pending:
        try:
            await api.deliver(reply)
        except ConnectionDropped:
            _abort(request)
            return response  # aiohttp finds the transport closed and gives up quietly
        if _gone(request):
            api.client_gone()  # the client left while the reply was being "generated"
        response.headers.update(reply.headers)  # rate-limit headers refreshed at send time
    return response


async def _send_stream(request: web.Request, api: SimulatedAPI, reply: Reply) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    # Headers (rate limits included) go out before the first event, as the API sends them.
    await response.prepare(request)
    async with aclosing(api.stream(reply)) as pieces:
        try:
            async for piece in pieces:
                await response.write(piece)
            await response.write_eof()
        except ConnectionDropped:
            _abort(request)
        except ConnectionResetError:
            # The client hung up mid-stream: end quietly (aclosing settles what was
            # produced) instead of letting aiohttp log a "closing transport" traceback.
            api.client_gone()
            _abort(request)
    return response


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
