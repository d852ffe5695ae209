"""Checks on a Messages request body before it is queued (fail fast, principle 9).

Everything here runs before admission, so a request refused here costs no capacity and
is never counted as submitted. Error messages describe a refused value with
:func:`~claudeflow._checks.brief`, never with its whole ``repr``: a body may be megabytes
long, nested thousands of levels deep, or circular.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._checks import brief
from .._errors import InvalidRequestError
from .._types import Priority

__all__ = ["MAX_PRIORITY", "MAX_TOKENS_LIMIT", "encode_body", "parse_priority", "validate_body"]

_ROLES = frozenset({"user", "assistant"})
# Priorities are compared in a heap; any sane scheme fits in 32 bits, and refusing the
# rest keeps absurd ints (10**400) from reaching float arithmetic in the queue.
MAX_PRIORITY = 2**31
# Far above any model's output limit (the API answers 400 above it); below it, the
# reservation arithmetic stays in float range.
MAX_TOKENS_LIMIT = 2**31


def validate_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` if it is a plausible Messages request, else raise.

    Only what claudeflow itself relies on is checked (model, max_tokens, messages, and
    that the whole body is JSON); everything else passes through for the API to judge.
    Mappings that are not dicts and SDK model objects (``model_dump()``) in the body are
    turned into plain JSON values, as they will be sent.

    :raises InvalidRequestError: naming the field, e.g. ``max_tokens: ...``
    """
    body = dict(params)
    _merge_sdk_options(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: a non-empty model id string is required")
    _check_max_tokens(body.get("max_tokens"))
    _check_messages(body.get("messages"))
    if body.get("stream") is not None and body.get("stream") is not False:
        raise InvalidRequestError("stream: use flow.stream(...) for streaming responses")
    body.pop("stream", None)
    encoded, plain = encode_body(body)
    if plain:
        return body
    converted: dict[str, Any] = json.loads(encoded)
    return converted


def encode_body(body: Mapping[str, Any]) -> tuple[bytes, bool]:
    """The JSON bytes of ``body``, and whether it was plain JSON data already.

    The bytes are what aiohttp's ``json=`` sends (``json.dumps`` defaults, ASCII), so a
    transport may send them as they are. ``False`` means some value needed converting
    (a non-dict mapping, an SDK model).

    :raises InvalidRequestError: the body cannot be sent as JSON: an object of an unknown
        type, a set, bytes, NaN or infinity, a circular reference, or nesting too deep
    """
    converted = False

    def plain(value: object) -> object:
        nonlocal converted
        converted = True
        return _plain(value)

    try:
        text = json.dumps(body, allow_nan=False, default=plain)
    except RecursionError:
        raise InvalidRequestError("body: nested too deeply to be sent as JSON") from None
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"body: cannot be sent as JSON: {_reason(exc)}") from None
    return text.encode("ascii"), not converted


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except Exception as exc:  # a foreign model_dump may fail any way: report its type
            raise TypeError(f"{type(value).__name__}.model_dump() failed") from exc
    raise TypeError(f"a value of type {type(value).__name__} is not JSON")


def _reason(exc: Exception) -> str:
    # json's own messages are short and name the type ("Object of type set is not JSON
    # serializable", "Circular reference detected", "Out of range float values ...").
    return str(exc)[:120]


def _merge_sdk_options(body: dict[str, Any]) -> None:
    """Apply the SDK's request options that are not body fields, as the SDK does."""
    if body.pop("extra_query", None) is not None:
        raise InvalidRequestError("extra_query: the Messages API takes no query parameters")
    extra = body.pop("extra_body", None)
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise InvalidRequestError(f"extra_body: must be a mapping, got {brief(extra)}")
        body.update(extra)


def parse_priority(value: Any) -> int:
    """An int, a :class:`Priority`, or a class name such as ``"high"``.

    :raises InvalidRequestError: naming ``priority``; ints beyond ``±MAX_PRIORITY`` too
    """
    if isinstance(value, str):
        try:
            return int(Priority[value.upper()])
        except KeyError:
            names = ", ".join(p.name.lower() for p in Priority)
            raise InvalidRequestError(
                f"priority: expected an int or one of {names}, got {brief(value)}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"priority: expected an int or Priority, got {brief(value)}")
    if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
        raise InvalidRequestError(
            f"priority: must be within ±2**31 (lower goes first), got {brief(value)}"
        )
    return int(value)


def _check_max_tokens(value: Any) -> None:
    # The API requires max_tokens >= 1; 0 would only come back as a 400 after admission.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < MAX_TOKENS_LIMIT:
        raise InvalidRequestError(
            f"max_tokens: an int in [1, 2**31) is required, got {brief(value)}"
        )


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages: a non-empty list of messages is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidRequestError(f"messages.{i}: must be an object, got {brief(message)}")
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequestError(
                f"messages.{i}.role: must be 'user' or 'assistant', got {brief(role)}"
            )
        if "content" not in message:
            raise InvalidRequestError(f"messages.{i}.content: Field required")
