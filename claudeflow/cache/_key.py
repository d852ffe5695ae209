"""The cache key: one canonical form of a request, hashed.

Two requests share a key exactly when the API would be asked the same question: the
same model and every body field that can change the answer (messages, system, tools,
tool_choice, temperature, top_p, top_k, stop_sequences, max_tokens, thinking, and any
field claudeflow does not know, to stay on the safe side), plus the two headers that
change what the API does (``anthropic-version``, ``anthropic-beta``). Left out:
``stream`` (a cached answer can be replayed either way), ``metadata`` (it identifies the
end user for abuse tracking; it does not change the answer) and ``service_tier``
(capacity, not content). Priority, timeouts and other headers are not in the body.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from .._errors import InvalidRequestError

__all__ = ["KEY_HEADERS", "NOT_IN_KEY", "canonical_request", "request_key"]

NOT_IN_KEY: Final = frozenset({"stream", "metadata", "service_tier"})
KEY_HEADERS: Final = ("anthropic-version", "anthropic-beta")


def canonical_request(body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> str:
    """The request as canonical JSON: sorted keys, no spaces, answer-changing parts only."""
    fields = {name: value for name, value in body.items() if name not in NOT_IN_KEY}
    wanted = {h: headers[h] for h in KEY_HEADERS if headers and h in headers}
    try:
        return json.dumps(
            {"body": fields, "headers": wanted},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            # NaN is not JSON; the API would refuse it, so the key refuses it first.
            allow_nan=False,
        )
    except (TypeError, ValueError) as exc:
        # A request JSON cannot encode could not be sent either: an InvalidRequestError, now.
        raise InvalidRequestError(f"request is not plain JSON, cannot be cached: {exc}") from None


def request_key(body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> str:
    """sha256 (hex) of :func:`canonical_request`.

    >>> body = {"model": "m", "max_tokens": 1, "messages": []}
    >>> request_key({**body, "metadata": {"user_id": "u"}}) == request_key(body)
    True
    """
    return hashlib.sha256(canonical_request(body, headers).encode()).hexdigest()
