"""The claudeflow error tree as HTTP responses.

Every refusal a handler can meet becomes a response the client can act on, never a
hung request or a bare 500:

=============================  ======  ===========================================
error                          status  why
=============================  ======  ===========================================
TenantQuotaExceeded            429     this client (tenant) sent too much; with
                                       ``Retry-After`` and IETF RateLimit headers
QueueFullError                 503     the service as a whole is saturated
DeadlineExceededError          503     could not start within its queue timeout
FlowClosedError                503     shutting down
BudgetExceededError            503     spending budget used up (no Retry-After)
RateLimitError / Overloaded    503     Claude still said 429/529 after retries
CapacityError                  413     can never fit the account's limits
InvalidRequestError            400     not a valid Messages request
ClientDisconnectedError        499     the client left (nobody reads this one)
APITimeoutError                504     Claude did not answer in time
other APIStatusError, ...      502     Claude refused; its message is passed on
=============================  ======  ===========================================

The body mirrors the API's own error shape: ``{"type": "error", "error": {"type",
"message"}}``. Messages are scrubbed of anything that looks like an Anthropic key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..._clock import wall_time
from ..._errors import (
    APIStatusError,
    APITimeoutError,
    BudgetExceededError,
    CapacityError,
    ClaudeflowError,
    DeadlineExceededError,
    FlowClosedError,
    InvalidRequestError,
    OverloadedError,
    QueueFullError,
    RateLimitError,
    StreamError,
    TransportError,
)
from ...retry import parse_retry_after
from ._disconnect import ClientDisconnectedError
from ._tenants import TenantQuotaExceeded

__all__ = ["ErrorReply", "error_reply", "error_response", "install_error_handlers"]

_KEY_PATTERN: Final = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")
_SPEND_CAPS: Final = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What a claudeflow error means over HTTP (before it becomes a response object)."""

    status: int
    type: str
    message: str
    retry_after: float | None = None
    headers: tuple[tuple[str, str], ...] = ()


def error_reply(error: ClaudeflowError, *, retry_after_s: float = 1.0) -> ErrorReply:
    """Map ``error`` to its :class:`ErrorReply`; ``retry_after_s`` fills unknown hints."""
    message = _scrub(str(error))
    if isinstance(error, TenantQuotaExceeded):
        headers = tuple(error.headers.items())
        return ErrorReply(429, "rate_limit_error", message, error.retry_after, headers)
    if isinstance(error, QueueFullError):
        # The library's advice (wait_for_space=True) means nothing to an HTTP client.
        busy = "the service is at capacity; retry after the Retry-After delay"
        return ErrorReply(503, "overloaded_error", busy, error.retry_after or retry_after_s)
    if isinstance(error, DeadlineExceededError | FlowClosedError):
        return ErrorReply(503, "overloaded_error", message, retry_after_s)
    if isinstance(error, BudgetExceededError):
        return ErrorReply(503, "budget_exceeded", message)
    if isinstance(error, CapacityError):
        return ErrorReply(413, "request_too_large", message)
    if isinstance(error, InvalidRequestError):
        return ErrorReply(400, "invalid_request_error", message)
    if isinstance(error, ClientDisconnectedError):
        return ErrorReply(499, "client_closed_request", message)
    return _upstream_reply(error, message, retry_after_s)


def _upstream_reply(error: ClaudeflowError, message: str, retry_after_s: float) -> ErrorReply:
    """Claude's own refusals (after claudeflow's retries) and transport failures."""
    if isinstance(error, RateLimitError) and error.error_code not in _SPEND_CAPS:
        hint = parse_retry_after(error.headers, now_wall=wall_time())
        return ErrorReply(503, "overloaded_error", message, hint or retry_after_s)
    if isinstance(error, OverloadedError):
        return ErrorReply(503, "overloaded_error", message, retry_after_s)
    if isinstance(error, APIStatusError | StreamError):
        return ErrorReply(502, "upstream_error", message)
    if isinstance(error, APITimeoutError):
        return ErrorReply(504, "upstream_timeout", message)
    if isinstance(error, TransportError):
        return ErrorReply(502, "upstream_unreachable", message)
    # Anything else (e.g. a ConfigError) is the service's own fault: say so, not what.
    return ErrorReply(500, "api_error", "internal error while calling Claude")


def error_response(error: ClaudeflowError, *, retry_after_s: float = 1.0) -> JSONResponse:
    """The JSON response for ``error``, with ``Retry-After`` when a retry can succeed."""
    reply = error_reply(error, retry_after_s=retry_after_s)
    detail: dict[str, Any] = {"type": reply.type, "message": reply.message}
    body: dict[str, Any] = {"type": "error", "error": detail}
    headers = dict(reply.headers)
    if reply.retry_after is not None:
        # Retry-After is whole seconds (RFC 9110 10.2.3); round up so a client that
        # obeys it never comes back early.
        seconds = max(1, math.ceil(reply.retry_after))
        headers["Retry-After"] = str(seconds)
        detail["retry_after"] = seconds
    if isinstance(error, APIStatusError):
        detail["upstream_status"] = error.status_code
        if error.request_id:
            detail["upstream_request_id"] = error.request_id
    return JSONResponse(body, status_code=reply.status, headers=headers)


def install_error_handlers(app: FastAPI, *, retry_after_s: float = 1.0) -> None:
    """Answer every :class:`~claudeflow.ClaudeflowError` a handler raises as above.

    :param retry_after_s: ``Retry-After`` used when the error carries no better hint
    """

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ClaudeflowError):  # pragma: no cover - registered for it
            raise exc
        return error_response(exc, retry_after_s=retry_after_s)

    # Starlette picks the handler by walking the exception's MRO, so the root covers all.
    app.add_exception_handler(ClaudeflowError, handle)


def _scrub(message: str) -> str:
    return _KEY_PATTERN.sub("sk-ant-***", message)
