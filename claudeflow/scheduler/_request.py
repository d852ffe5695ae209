"""Checks on a Messages request body before it is queued (fail fast, principle 9)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidRequestError
from .._types import Priority

__all__ = ["parse_priority", "validate_body"]

_ROLES = frozenset({"user", "assistant"})


def validate_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` if it is a plausible Messages request, else raise.

    Only what claudeflow itself relies on is checked (model, max_tokens, messages);
    everything else passes through for the API to judge.
    """
    body = dict(params)
    _merge_sdk_options(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: a non-empty model id string is required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise InvalidRequestError(f"max_tokens: an int >= 0 is required, got {max_tokens!r}")
    _check_messages(body.get("messages"))
    if body.get("stream"):
        raise InvalidRequestError("stream: use flow.stream(...) for streaming responses")
    body.pop("stream", None)
    return body


def _merge_sdk_options(body: dict[str, Any]) -> None:
    """Apply the SDK's request options that are not body fields, as the SDK does."""
    if body.pop("extra_query", None):
        raise InvalidRequestError("extra_query: the Messages API takes no query parameters")
    extra = body.pop("extra_body", None)
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise InvalidRequestError(f"extra_body: must be a mapping, got {extra!r:.60}")
        body.update(extra)


def parse_priority(value: Any) -> int:
    """An int, a :class:`Priority`, or a class name such as ``"high"``."""
    if isinstance(value, str):
        try:
            return int(Priority[value.upper()])
        except KeyError:
            names = ", ".join(p.name.lower() for p in Priority)
            raise InvalidRequestError(
                f"priority: expected an int or one of {names}, got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"priority: expected an int or Priority, got {value!r:.60}")
    return int(value)


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages: a non-empty list of messages is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(f"messages.{i}: must be an object, got {message!r:.60}")
        if message.get("role") not in _ROLES:
            raise InvalidRequestError(
                f"messages.{i}.role: must be 'user' or 'assistant', got {message.get('role')!r}"
            )
        if "content" not in message:
            raise InvalidRequestError(f"messages.{i}.content: Field required")
