"""A scripted Message Batches API behind MockTransport, for virtual-time tests."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from claudeflow import Flow, TokenCounting
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

API_KEY = "sk-ant-test-SECRET-batches-0123456789"
MODEL = "claude-haiku-4-5"
PATH = "/v1/messages/batches"


class FixedEstimator:
    async def estimate_async(self, body: Any) -> int:
        return 10


def body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def _json(status: int, data: Any) -> ApiResponse:
    return ApiResponse(status, {}, json.dumps(data).encode())


@dataclass
class FakeBatches:
    """Ends each batch after ``polls_to_end`` retrieves; ``outcome`` per prompt text."""

    clock: FakeClock
    polls_to_end: int = 2
    outcome: dict[str, str] = field(default_factory=dict)
    batches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    polls: dict[str, list[float]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)
    messages_calls: int = 0

    def __call__(self, request: MockRequest) -> ApiResponse:
        path = request.path
        if path == "/v1/messages":
            self.messages_calls += 1
            return _json(200, _message(request.json, 5))
        if request.method == "POST" and path == PATH:
            batch_id = f"msgbatch_{len(self.batches) + 1}"
            self.batches[batch_id] = request.json["requests"]
            self.polls[batch_id] = []
            return _json(200, self._batch(batch_id))
        batch_id = path.removeprefix(PATH + "/").split("/")[0]
        if path.endswith("/cancel"):
            self.cancelled.append(batch_id)
            return _json(200, self._batch(batch_id))
        if path.endswith("/results"):
            lines = [json.dumps(self._result(r)) for r in self.batches[batch_id]]
            return ApiResponse(200, {}, "\n".join(lines).encode())
        self.polls[batch_id].append(self.clock.now())
        return _json(200, self._batch(batch_id))

    def _batch(self, batch_id: str) -> dict[str, Any]:
        ended = len(self.polls[batch_id]) >= self.polls_to_end
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "results_url": f"https://api.example/v1/messages/batches/{batch_id}/results",
        }

    def _result(self, request: dict[str, Any]) -> dict[str, Any]:
        text = request["params"]["messages"][0]["content"]
        kind = self.outcome.get(text, "succeeded")
        result: dict[str, Any] = {"type": kind}
        if kind == "succeeded":
            result["message"] = _message(request["params"], 500)
        elif kind == "errored":
            inner = {"type": "invalid_request_error", "message": "bad request"}
            result["error"] = {"type": "error", "error": inner}
        return {"custom_id": request["custom_id"], "result": result}


def _message(params: dict[str, Any], output_tokens: int) -> dict[str, Any]:
    return {
        "id": "msg_b",
        "type": "message",
        "role": "assistant",
        "model": params["model"],
        "content": [{"type": "text", "text": "re: " + params["messages"][0]["content"]}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1_000, "output_tokens": output_tokens, "service_tier": "batch"},
    }


def mock_flow(clock: FakeClock, api: FakeBatches, **kwargs: Any) -> tuple[Flow, MockTransport]:
    transport = MockTransport(api)
    flow = Flow(
        api_key=API_KEY,
        transport=transport,
        clock=clock,
        tokens=TokenCounting(estimator=FixedEstimator(), calibrate=False),
        learn_limits=False,
        rng=random.Random(3),
        **kwargs,
    )
    return flow, transport
