"""Ready-made API answers for :class:`~claudeflow.transport.MockTransport` handlers.

>>> from claudeflow.transport import MockTransport
>>> transport = MockTransport(lambda request: message_response("hi", output_tokens=2))
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..simulator._wire import error_body
from ..transport import ApiResponse

__all__ = ["error_response", "message_response"]


def message_response(
    text: str = "hello",
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    model: str = "claude-haiku-4-5",
    stop_reason: str = "end_turn",
    headers: Mapping[str, str] | None = None,
) -> ApiResponse:
    """A 200 answer carrying one text block and the given usage."""
    message = {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    return _answer(200, message, {"request-id": "req_test", **(headers or {})})


def error_response(
    status: int,
    error_type: str,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    error_code: str | None = None,
) -> ApiResponse:
    """An error answer in the API's shape, e.g. ``error_response(429, "rate_limit_error",
    "slow down", headers={"retry-after": "3"})``."""
    body = error_body(error_type, message, "req_test", error_code)
    return _answer(status, body, {"request-id": "req_test", **(headers or {})})


def _answer(status: int, payload: object, headers: Mapping[str, str]) -> ApiResponse:
    lowered = {k.lower(): v for k, v in headers.items()}
    return ApiResponse(status, lowered, json.dumps(payload).encode())
