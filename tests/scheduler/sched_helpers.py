"""Shared pieces for Flow tests: a scripted fake API behind MockTransport, in virtual time."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from claudeflow import Flow, TokenCounting
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockHandler, MockRequest, MockTransport, SseEvent

API_KEY = "sk-ant-test-SECRET-0123456789"


class FixedEstimator:
    """Estimates ``metadata.tokens`` if given, else 10: exact numbers for exact tests."""

    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        return int(body.get("metadata", {}).get("tokens", 10))


def ok(
    request: MockRequest,
    *,
    input_tokens: int | None = None,
    output_tokens: int = 5,
    headers: Mapping[str, str] | None = None,
    text: str = "hello",
) -> ApiResponse:
    body = request.json or {}
    usage = {
        "input_tokens": input_tokens
        if input_tokens is not None
        else int(body.get("metadata", {}).get("tokens", 10)),
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-haiku-4-5"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    return ApiResponse(
        200, {"request-id": "req_abc", **(headers or {})}, json.dumps(message).encode()
    )


def error(
    status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
) -> ApiResponse:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_err"}
    return ApiResponse(status, dict(headers or {}), json.dumps(body).encode())


def body(name: str = "x", tokens: int = 10, max_tokens: int = 5, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": name}],
        "metadata": {"tokens": tokens},
        **extra,
    }


def name_of(request: MockRequest) -> str:
    return str(request.json["messages"][0]["content"])


Handler = Callable[[MockRequest], Awaitable[ApiResponse]]


def make_flow(
    clock: FakeClock, handler: MockHandler, *, seed: int = 7, **kwargs: Any
) -> tuple[Flow, MockTransport]:
    """A Flow on a scripted API in virtual time: exact estimates, no calibration or learning
    (unless asked), a seeded jitter RNG."""
    transport = MockTransport(handler)
    kwargs.setdefault("learn_limits", False)
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("tokens", TokenCounting(estimator=FixedEstimator(), calibrate=False))
    flow = Flow(
        transport=transport,
        clock=clock,
        rng=random.Random(seed),
        **kwargs,
    )
    return flow, transport


def sse(kind: str, **data: Any) -> SseEvent:
    """A stream event of ``kind`` whose JSON carries ``data``."""
    return SseEvent(kind, json.dumps({"type": kind, **data}))


def start_message(input_tokens: int = 10) -> dict[str, Any]:
    """The ``message`` of a stream's ``message_start`` (one output token so far)."""
    return {
        "id": "msg_s",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
