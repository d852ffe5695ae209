"""The one error tree of claudeflow.

::

    ClaudeflowError
    ├── ConfigError (ValueError)          invalid configuration; names the argument
    ├── BackendUnavailableError            the shared limits' store (Redis) is unreachable
    ├── BatchError                         a batched request ended unanswered (``outcome``)
    ├── RequestRejected                    refused before any HTTP call
    │   ├── InvalidRequestError (ValueError)  the body is not a valid Messages request
    │   ├── CapacityError (ValueError)     can never fit the configured limits
    │   ├── QueueFullError                 bounded queue is full (back-pressure)
    │   ├── DeadlineExceededError          could not start before its deadline
    │   ├── BudgetExceededError            the Flow's spending budget is used up
    │   ├── QuotaExceededError             a daily or monthly quota is used up
    │   └── FlowClosedError                the Flow is closed or closing
    ├── TransportError                     no HTTP response (aiohttp errors end here)
    │   └── APIConnectionError             connect/reset/protocol failures (``kind``)
    │       └── APITimeoutError            the request timed out
    └── APIError                           the API answered with an error
        ├── APIStatusError                 non-2xx status (status_code, type, request_id)
        │   ├── BadRequestError            400
        │   ├── AuthenticationError        401
        │   ├── BillingError               402
        │   ├── PermissionDeniedError      403
        │   ├── NotFoundError              404
        │   ├── RequestTooLargeError       413
        │   ├── RateLimitError             429 (also spend caps, see ``error_code``)
        │   └── InternalServerError        >= 500
        │       └── OverloadedError        529
        └── StreamError                    an ``error`` event after the stream began

Every error carries a readable message. None carries the API key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BackendUnavailableError",
    "BadRequestError",
    "BatchError",
    "BillingError",
    "BudgetExceededError",
    "CapacityError",
    "ClaudeflowError",
    "ConfigError",
    "ConnectionFailure",
    "DeadlineExceededError",
    "FlowClosedError",
    "InternalServerError",
    "InvalidRequestError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "QueueFullError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestRejected",
    "RequestTooLargeError",
    "StreamError",
    "TransportError",
    "status_error",
]


class ClaudeflowError(Exception):
    """Root of every error claudeflow raises.

    :ivar attempts: HTTP attempts made for the request before it failed (0: never sent)
    """

    attempts: int = 0

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments would be lost by the default (args only):
        # rebuild from the instance's own state, so pickle and copy keep every field.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(kind: type[ClaudeflowError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = kind.__new__(kind)
    error.args = args
    error.__dict__.update(state)
    return error


class BatchError(ClaudeflowError):
    """A batched request ended without an answer.

    :ivar outcome: ``"canceled"`` or ``"expired"`` (api doc §7.3; neither is billed),
        or ``"missing"`` if the results file did not mention the request
    :ivar batch_id: the batch it was in
    """

    def __init__(self, message: str, *, outcome: str, batch_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.batch_id = batch_id


class ConfigError(ClaudeflowError, ValueError):
    """Invalid configuration, raised at construction; the message names the argument."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument}: {problem}")
        self.argument = argument


class BackendUnavailableError(ClaudeflowError):
    """The shared limits' store is unreachable and the backend was told not to go on alone."""


class RequestRejected(ClaudeflowError):
    """The request was refused locally and never sent."""


class InvalidRequestError(RequestRejected, ValueError):
    """The request body is not a valid Messages API request (checked before sending)."""


class CapacityError(RequestRejected, ValueError):
    """The request can never fit the limits (e.g. estimate above the bucket's capacity)."""


class QueueFullError(RequestRejected):
    """The Flow's queue is full; ``retry_after`` is a hint in seconds, when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceededError(RequestRejected):
    """The request could not start before its deadline."""


class BudgetExceededError(RequestRejected):
    """The Flow's spending budget is used up."""


class QuotaExceededError(RequestRejected):
    """A daily or monthly quota cannot pay for the request; ``resets_at`` says when it resets
    (seconds since the epoch, UTC)."""

    def __init__(self, message: str, *, resets_at: float) -> None:
        super().__init__(message)
        self.resets_at = resets_at


class FlowClosedError(RequestRejected):
    """The Flow is closed or closing and takes no new work (or cancelled this job)."""


class TransportError(ClaudeflowError):
    """No usable HTTP response: the connection failed or timed out."""


ConnectionFailure = Literal["refused", "dns", "reset", "timeout", "other"]


class APIConnectionError(TransportError):
    """Connecting, sending or reading failed (aiohttp's errors are mapped to this).

    :ivar kind: what failed: ``"refused"`` (nothing listens at the address), ``"dns"``
        (the host name does not resolve), ``"reset"`` (the connection broke),
        ``"timeout"`` or ``"other"``; the original exception is ``__cause__``
    """

    def __init__(self, message: str, *, kind: ConnectionFailure = "other") -> None:
        super().__init__(message)
        self.kind: ConnectionFailure = kind


class APITimeoutError(APIConnectionError):
    """The request timed out."""

    def __init__(self, message: str, *, kind: ConnectionFailure = "timeout") -> None:
        super().__init__(message, kind=kind)


class APIError(ClaudeflowError):
    """The API answered with an error.

    :ivar type: the API's ``error.type`` (e.g. ``rate_limit_error``), or ``None``
    :ivar request_id: the ``request-id`` of the response, when known
    :ivar error_code: ``error.details.error_code`` (e.g. ``enforced_spend_limit_reached``)
    """

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        request_id: str | None = None,
        error_code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.request_id = request_id
        self.error_code = error_code
        self.body = body


class APIStatusError(APIError):
    """A non-2xx HTTP status. ``headers`` holds the response headers (lower-case keys)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str] | None = None,
        type: str | None = None,
        request_id: str | None = None,
        error_code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(
            message, type=type, request_id=request_id, error_code=error_code, body=body
        )
        self.status_code = status_code
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}

    def __str__(self) -> str:
        rid = f", request_id={self.request_id}" if self.request_id else ""
        kind = f" {self.type}" if self.type else ""
        return f"HTTP {self.status_code}{kind}: {self.message}{rid}"


class BadRequestError(APIStatusError):
    """400 ``invalid_request_error``."""


class AuthenticationError(APIStatusError):
    """401 ``authentication_error``."""


class BillingError(APIStatusError):
    """402 ``billing_error``."""


class PermissionDeniedError(APIStatusError):
    """403 ``permission_error``."""


class NotFoundError(APIStatusError):
    """404 ``not_found_error``."""


class RequestTooLargeError(APIStatusError):
    """413 ``request_too_large``."""


class RateLimitError(APIStatusError):
    """429 ``rate_limit_error``; ``error_code`` tells spend caps and ramp limits apart."""


class InternalServerError(APIStatusError):
    """A 5xx status other than 529."""


class OverloadedError(InternalServerError):
    """529 ``overloaded_error``: the API is busy for everyone; not a quota signal."""


class StreamError(APIError):
    """An ``error`` event arrived after the stream had started (HTTP status was 200)."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BillingError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    429: RateLimitError,
    529: OverloadedError,
}


def status_error(status: int, headers: Mapping[str, str], body: bytes | str) -> APIStatusError:
    """Build the typed error for an error response from its status, headers and raw body."""
    parsed = _parse_body(body)
    err = _dict(parsed.get("error"))
    details = _dict(err.get("details"))
    message = err.get("message") or _short(body) or _NO_BODY
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    error = cls(
        str(message),
        status_code=status,
        headers=headers,  # lower-cased once, by APIStatusError
        type=err.get("type"),
        error_code=details.get("error_code"),
        body=parsed or None,
    )
    error.request_id = error.headers.get("request-id") or parsed.get("request_id")
    return error


_NO_BODY = "the response had no error body (is base_url an Anthropic API endpoint?)"


def _parse_body(body: bytes | str) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _short(body: bytes | str, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text.strip()[:limit]
