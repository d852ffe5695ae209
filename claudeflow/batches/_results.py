"""Reading a batch's results file (api doc §7.3) into per-request outcomes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .._errors import BatchError, ClaudeflowError, status_error
from .._message import Message
from .._types import Cost
from ..tokens import PriceTable, Usage

__all__ = ["PricedAnswer", "error_of", "parse_results", "price_result"]

R = TypeVar("R")

# The error types of §3.2, to give an errored entry the same typed error as Messages.
_STATUS_OF: Final = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def parse_results(body: bytes) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(custom_id, result)`` per line; blank lines are skipped."""
    for line in body.splitlines():
        if line.strip():
            data = json.loads(line)
            yield str(data["custom_id"]), data["result"]


def error_of(result: Mapping[str, Any], batch_id: str) -> ClaudeflowError:
    """The typed error for a result that is not ``succeeded``."""
    kind = result.get("type")
    if kind == "errored":
        body = result.get("error") or {}
        inner = body.get("error") or {}
        # An unknown type reads as a server error (500), the least specific claim.
        status = _STATUS_OF.get(str(inner.get("type")), 500)
        return status_error(status, {}, json.dumps(body))
    reason = "canceled" if kind == "canceled" else "expired" if kind == "expired" else "missing"
    return BatchError(
        f"batched request {reason} (batch {batch_id})", outcome=reason, batch_id=batch_id
    )


@dataclass(frozen=True, slots=True)
class PricedAnswer:
    """A ``succeeded`` entry's message, usage and batch price."""

    message: Message
    usage: Usage
    cost_usd: float | None  # at the batch rate; ``None`` if the model is unpriced
    saved_usd: float  # the standard price minus the batch price

    def result(
        self, make: Callable[..., R], *, priority: int, queue_wait_s: float, latency_s: float
    ) -> R:
        """The Flow's result type for this answer (``batched=True``)."""
        return make(
            message=self.message,
            usage=self.usage,
            estimated_input_tokens=0,
            reserved=Cost(0, 0, 0),  # the per-minute limits were never touched
            attempts=1,
            queue_wait_s=queue_wait_s,
            retry_wait_s=0.0,
            latency_s=latency_s,
            cost_usd=self.cost_usd,
            request_id=None,
            priority=priority,
            batched=True,
        )


def price_result(result: Mapping[str, Any], prices: PriceTable, *, model: str) -> PricedAnswer:
    """Read a ``succeeded`` entry and price it at the batch rate (api doc §7.4)."""
    message = Message(result["message"])
    usage = Usage.from_api(message.get("usage"))
    # The model that answered, if it says: the price is that model's.
    model = str(message.get("model") or model)
    cost = prices.cost_usd(model, usage, batch=True)
    standard = prices.cost_usd(model, usage)
    # An unpriced model saved nothing we can state.
    saved = standard - cost if cost is not None and standard is not None else 0.0
    return PricedAnswer(message, usage, cost, saved)
