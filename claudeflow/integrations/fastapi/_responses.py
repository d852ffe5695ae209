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
other APIStatusError, ...      502     Claude refused (status class only, see below)
=============================  ======  ===========================================

The body mirrors the API's own error shape: ``{"type": "error", "error": {"type",
"message"}}``. Messages are scrubbed of anything that looks like an Anthropic key.

What Claude (or the network) said is never forwarded: upstream text may describe the
service's own credentials ("invalid x-api-key"), organisation or network. Replies to
upstream failures say only the status class (``4xx``/``5xx``) and a ``request_id`` of
our own (``cf_...``); the full upstream error, with its ``request-id``, is logged at
WARNING on ``claudeflow.integrations.fastapi`` under that id.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ... import _error_reply
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
_logger = logging.getLogger("claudeflow.integrations.fastapi")


@dataclass(frozen=True, slots=True)
class ErrorReply(_error_reply.ErrorReply):
    """What a claudeflow error means over HTTP (before it becomes a response object)."""

    # Our own id for an upstream failure, the key to its logged detail.
    request_id: str | None = None
    upstream_status: str | None = None


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
    if not isinstance(error, APIStatusError | StreamError | TransportError):
        # Anything else (e.g. a ConfigError) is the service's own fault: say so, not what.
        return ErrorReply(500, "api_error", "internal error while calling Claude")
    request_id = f"cf_{secrets.token_hex(8)}"
    upstream = _status_class(error)
    _logger.warning(
        "upstream failure %s (%s, upstream request-id %s): %s",
        request_id,
        type(error).__name__,
        getattr(error, "request_id", None),
        message,
    )
    reply = _upstream_kind(error, retry_after_s)
    status, kind, what, retry_after = reply
    text = f"{what} (request_id {request_id})"
    return ErrorReply(
        status, kind, text, retry_after, request_id=request_id, upstream_status=upstream
    )


def _upstream_kind(
    error: APIStatusError | StreamError | TransportError, retry_after_s: float
) -> tuple[int, str, str, float | None]:
    """Status, type, our own wording and retry hint for an upstream failure."""
    if isinstance(error, RateLimitError) and error.error_code not in _SPEND_CAPS:
        hint = parse_retry_after(error.headers, now_wall=wall_time())
        return 503, "overloaded_error", "Claude is rate limited", hint or retry_after_s
    if isinstance(error, OverloadedError):
        return 503, "overloaded_error", "Claude is overloaded", retry_after_s
    if isinstance(error, APIStatusError):
        what = f"Claude refused the request (HTTP {_status_class(error)})"
        return 502, "upstream_error", what, None
    if isinstance(error, StreamError):
        return 502, "upstream_error", "Claude's stream failed", None
    if isinstance(error, APITimeoutError):
        return 504, "upstream_timeout", "Claude did not answer in time", None
    return 502, "upstream_unreachable", "Claude could not be reached", None


def _status_class(error: ClaudeflowError) -> str | None:
    if isinstance(error, APIStatusError):
        return f"{error.status_code // 100}xx"
    return None


def error_response(error: ClaudeflowError, *, retry_after_s: float = 1.0) -> JSONResponse:
    """The JSON response for ``error``, with ``Retry-After`` when a retry can succeed."""
    reply = error_reply(error, retry_after_s=retry_after_s)
    detail: dict[str, Any] = {"type": reply.type, "message": reply.message}
    body: dict[str, Any] = {"type": "error", "error": detail}
    if reply.retry_after_header is not None:
        detail["retry_after"] = reply.retry_after_header
    if reply.upstream_status is not None:
        detail["upstream_status"] = reply.upstream_status
    if reply.request_id is not None:
        detail["request_id"] = reply.request_id
    return JSONResponse(body, status_code=reply.status, headers=reply.all_headers())


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
