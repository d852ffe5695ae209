"""Shared pieces for the cache tests: a counting fake API behind MockTransport."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from claudeflow import Flow, TokenCounting
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

API_KEY = "sk-ant-test-SECRET-cache-0123456789"
MODEL = "claude-haiku-4-5"


class FixedEstimator:
    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        return 10


def body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def answer(request: MockRequest, *, output_tokens: int = 5) -> ApiResponse:
    """A 200 whose text echoes the prompt and counts how many calls were made."""
    prompt = request.json["messages"][0]["content"]
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": request.json["model"],
        "content": [{"type": "text", "text": f"echo {prompt}"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1_000, "output_tokens": output_tokens},
    }
    return ApiResponse(200, {"request-id": "req_1"}, json.dumps(message).encode())


def mock_flow(clock: FakeClock, handler: Any, **kwargs: Any) -> tuple[Flow, MockTransport]:
    transport = MockTransport(handler)
    flow = Flow(
        api_key=API_KEY,
        transport=transport,
        clock=clock,
        tokens=TokenCounting(estimator=FixedEstimator(), calibrate=False),
        learn_limits=False,
        rng=random.Random(1),
        **kwargs,
    )
    return flow, transport
