"""Every refusal as HTTP: status, error type, a sanitized message, back-pressure headers.

======================================  ======  =========================================
error                                   status  why
======================================  ======  =========================================
NotAuthenticated                        401     no or unknown gateway key
ModelNotAllowed                         403     the key may not use that model
UnknownModel                            404     no such model listed here
QuotaExceeded                           429     this client is over its own quota
InvalidRequestError                     400     not a valid request
CapacityError                           413     can never fit the account's limits
QueueFullError, DeadlineExceededError,  503     the gateway is saturated or closing
FlowClosedError, BudgetExceededError
upstream APIStatusError                 same    the API's status, a message we wrote
APITimeoutError / TransportError        504/502 the API did not answer
======================================  ======  =========================================

Upstream messages are replaced, not passed on: they may describe the gateway's own
account (its key, its limits, its organization), which is none of the client's business.
Only 400-class messages about the request body itself go through, scrubbed of keys.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .._clock import wall_time
from .._error_reply import ErrorReply
from .._errors import (
    APIStatusError,
    APITimeoutError,
    BudgetExceededError,
    CapacityError,
    DeadlineExceededError,
    FlowClosedError,
    InvalidRequestError,
    QueueFullError,
    StreamError,
    TransportError,
)
from ..retry import parse_retry_after
from ._clients import ModelNotAllowed, NotAuthenticated, UnknownModel
from ._quota import QuotaExceeded

__all__ = ["ErrorReply", "anthropic_error", "error_reply", "openai_error", "scrub"]

# Any sk- key, not only Anthropic's: a client's message may quote a key of any provider.
_KEY: Final = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")
_BUSY: Final = "the gateway is at capacity; retry after the Retry-After delay"
# Upstream statuses whose message is about the request itself (safe to show).
_ABOUT_REQUEST: Final = frozenset({400, 404, 413})
_UPSTREAM_MESSAGES: Final = {
    401: "the gateway's upstream credentials were refused; tell the gateway operator",
    402: "the gateway's upstream account has a billing problem; tell the gateway operator",
    403: "the gateway's upstream account may not do this",
    429: "the upstream API is rate limiting the gateway; retry after the Retry-After delay",
    529: "the upstream API is overloaded; retry after the Retry-After delay",
}


def scrub(text: str) -> str:
    """Remove anything shaped like an API key."""
    return _KEY.sub("sk-***", text)


def error_reply(error: BaseException, *, busy_retry_s: float = 1.0) -> ErrorReply:
    """Map any exception a handler meets to its :class:`ErrorReply`."""
    if isinstance(error, NotAuthenticated):
        return ErrorReply(401, "authentication_error", str(error))
    if isinstance(error, ModelNotAllowed):
        return ErrorReply(403, "permission_error", str(error))
    if isinstance(error, UnknownModel):
        return ErrorReply(404, "not_found_error", str(error))
    if isinstance(error, QuotaExceeded):
        headers = tuple(error.headers.items())
        return ErrorReply(429, "rate_limit_error", str(error), error.retry_after, headers)
    if isinstance(error, InvalidRequestError):
        return ErrorReply(400, "invalid_request_error", scrub(str(error)))
    if isinstance(error, CapacityError):
        return ErrorReply(413, "request_too_large", scrub(str(error)))
    if isinstance(error, QueueFullError):
        # 503, not 429: the client did nothing wrong; the gateway as a whole is saturated.
        return ErrorReply(503, "overloaded_error", _BUSY, error.retry_after or busy_retry_s)
    if isinstance(error, DeadlineExceededError | FlowClosedError):
        return ErrorReply(503, "overloaded_error", _BUSY, busy_retry_s)
    if isinstance(error, BudgetExceededError):
        return ErrorReply(503, "overloaded_error", "the gateway's budget is spent", busy_retry_s)
    if isinstance(error, APIStatusError):
        return _upstream(error, busy_retry_s)
    if isinstance(error, StreamError):
        return ErrorReply(529, "overloaded_error", _UPSTREAM_MESSAGES[529], busy_retry_s)
    if isinstance(error, APITimeoutError):
        return ErrorReply(504, "timeout_error", "the upstream API did not answer in time")
    if isinstance(error, TransportError):
        return ErrorReply(502, "api_error", "the upstream API could not be reached")
    return ErrorReply(500, "api_error", "internal error in the gateway")


def _upstream(error: APIStatusError, busy_retry_s: float) -> ErrorReply:
    status = error.status_code
    # The API's own error type when it gave one, so SDKs raise the class they would.
    kind = error.type or ("api_error" if status >= 500 else "invalid_request_error")
    if status in _ABOUT_REQUEST:
        message = scrub(error.message)
    else:
        message = _UPSTREAM_MESSAGES.get(status, "the upstream API failed; retry later")
    retry_after = None
    # Only where waiting can help: a 400 stays a 400 however long one waits.
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(error.headers, now_wall=wall_time()) or busy_retry_s
    return ErrorReply(status, kind, message, retry_after)


def anthropic_error(reply: ErrorReply, request_id: str) -> dict[str, Any]:
    detail = {"type": reply.type, "message": reply.message}
    return {"type": "error", "error": detail, "request_id": request_id}


# OpenAI error types and codes, by the status they come with.
_OPENAI_TYPES: Final = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "model_not_allowed"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "context_length_exceeded"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}


def openai_error(reply: ErrorReply, param: str | None = None) -> dict[str, Any]:
    kind, code = _OPENAI_TYPES.get(reply.status, ("server_error", None))
    return {"error": {"message": reply.message, "type": kind, "param": param, "code": code}}
