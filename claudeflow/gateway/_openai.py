"""The OpenAI-compatible endpoint: ``POST /v1/chat/completions`` (JSON and streaming).

The official ``openai`` SDK pointed at the gateway works unchanged. Translation lives
in :mod:`._openai_wire`; this module only moves bytes and shapes errors as OpenAI does.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from .._clock import wall_time
from .._errors import ClaudeflowError, StreamError
from ._anthropic import stream_headers
from ._gateway import Call, Gateway
from ._openai_wire import (
    ChunkTranslator,
    OpenAIRequest,
    UnsupportedFields,
    to_anthropic,
    to_completion,
)
from ._replies import error_reply, openai_error
from ._wire import GATEWAY, identified

__all__ = ["chat_completions"]


def error_response(error: BaseException) -> web.Response:
    reply = error_reply(error)
    param = error.param if isinstance(error, UnsupportedFields) else None
    return web.json_response(
        openai_error(reply, param), status=reply.status, headers=reply.all_headers()
    )


async def chat_completions(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    try:
        call, raw = await identified(request, "openai")
        translated = to_anthropic(raw, default_max_tokens=gateway.config.default_max_tokens)
        gateway.admit(call, raw.get("model"), request.headers)
        if translated.stream:
            return await _stream(request, gateway, call, translated)
        result = await gateway.create(call, translated.body)
    except ClaudeflowError as exc:
        return error_response(exc)
    completion = to_completion(result.message.model_dump(), created=math.floor(wall_time()))
    return web.json_response(completion, headers=call.quota.headers())


async def _stream(
    request: web.Request, gateway: Gateway, call: Call, translated: OpenAIRequest
) -> web.StreamResponse:
    chunks = ChunkTranslator(
        created=math.floor(wall_time()), include_usage=translated.include_usage
    )
    async with gateway.stream(call, translated.body) as stream:
        events = aiter(stream)
        first = await anext(events, None)  # an early failure keeps its HTTP status
        response = web.StreamResponse(headers=stream_headers(call))
        await response.prepare(request)
        try:
            if first is not None:
                await _write(response, chunks, first.to_dict())
            async for event in events:
                await _write(response, chunks, event.to_dict())
        except StreamError as exc:
            # Mid-stream, as OpenAI does: an error object in a data chunk, since the status is sent.
            error = openai_error(error_reply(exc))
            await response.write(_data(error))
        # OpenAI's end-of-stream marker, after an error chunk too: SDKs read until it.
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    return response


async def _write(response: web.StreamResponse, chunks: ChunkTranslator, event: Any) -> None:
    for chunk in chunks.translate(event):
        await response.write(_data(chunk))


def _data(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()
