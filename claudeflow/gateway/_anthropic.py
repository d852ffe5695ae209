"""The Anthropic-compatible endpoints: ``/v1/messages`` (JSON and SSE), ``count_tokens``.

The official ``anthropic`` SDK pointed at the gateway works unchanged: bodies, events,
error shapes and the ``request-id`` header are the API's own.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from .._errors import (
    APIConnectionError,
    ClaudeflowError,
    InvalidRequestError,
    StreamError,
    status_error,
)
from ._gateway import Call, Gateway
from ._replies import anthropic_error, error_reply
from ._wire import GATEWAY, exchange, identified, read_json

__all__ = ["count_tokens", "error_response", "messages", "sse_event", "stream_headers"]

SSE_HEADERS: Final = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    # For nginx in front: it would otherwise hold events back until its buffer fills.
    "X-Accel-Buffering": "no",
}
# Events the FlowStream adds for Python callers; the wire never had them.
_LOCAL_EVENTS: Final = frozenset({"text"})


def stream_headers(call: Call) -> dict[str, str]:
    return {**SSE_HEADERS, **call.quota.headers(), "request-id": exchange().request_id}


def sse_event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def error_response(error: BaseException) -> web.Response:
    reply = error_reply(error)
    return web.json_response(
        anthropic_error(reply, exchange().request_id),
        status=reply.status,
        headers=reply.all_headers(),
    )


async def messages(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    try:
        call, body = await identified(request, "anthropic")
        gateway.admit(call, body.get("model"), request.headers)
        if body.get("stream"):
            return await _stream(request, gateway, call, body)
        result = await gateway.create(call, body)
    except ClaudeflowError as exc:
        return error_response(exc)
    return web.json_response(result.message.model_dump(), headers=call.quota.headers())


async def _stream(
    request: web.Request, gateway: Gateway, call: Call, body: dict[str, Any]
) -> web.StreamResponse:
    async with gateway.stream(call, body) as stream:
        events = aiter(stream)
        # Wait for the first event before answering: a failure before any content then
        # gets a real HTTP status, as the API gives it, instead of a 200 and an error event.
        first = await anext(events, None)
        if first is None:
            raise APIConnectionError("the upstream stream ended before any event")
        response = web.StreamResponse(headers=stream_headers(call))
        await response.prepare(request)
        await _write(response, first.to_dict())
        # The API sends a ping right after message_start; clients built against it see the same.
        if first.get("type") == "message_start":
            await response.write(sse_event("ping", {"type": "ping"}))
        try:
            async for event in events:
                await _write(response, event.to_dict())
        except StreamError as exc:
            # The 200 is sent already: a failure mid-stream can only be an error event.
            await response.write(sse_event("error", _stream_error(exc)))
        await response.write_eof()
    return response


async def _write(response: web.StreamResponse, event: dict[str, Any]) -> None:
    kind = str(event.get("type"))
    if kind not in _LOCAL_EVENTS:
        await response.write(sse_event(kind, event))


def _stream_error(error: StreamError) -> dict[str, Any]:
    reply = error_reply(error)
    return anthropic_error(reply, exchange().request_id)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    try:
        body = await read_json(request)
        # Refused here, with the API's wording, instead of after a round trip upstream.
        if not isinstance(body.get("messages"), list):
            raise InvalidRequestError("messages: Field required")
        answer = await gateway.count_tokens(request.headers, body)
        # Reworded like any upstream refusal (_replies): its text may describe our account.
        if answer.status >= 400:
            raise status_error(answer.status, answer.headers, answer.body)
    except ClaudeflowError as exc:
        return error_response(exc)
    return web.json_response({"input_tokens": answer.json()["input_tokens"]})
