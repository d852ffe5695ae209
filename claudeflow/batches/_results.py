"""Reading a batch's results file (api doc §7.3) into per-request outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from .._errors import ClaudeflowError, status_error
from ._errors import BatchError

__all__ = ["error_of", "parse_results"]

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
        status = _STATUS_OF.get(str(inner.get("type")), 500)
        return status_error(status, {}, json.dumps(body))
    reason = "canceled" if kind == "canceled" else "expired" if kind == "expired" else "missing"
    return BatchError(
        f"batched request {reason} (batch {batch_id})", outcome=reason, batch_id=batch_id
    )
