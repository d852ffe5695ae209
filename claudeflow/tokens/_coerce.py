"""Read loosely typed API payloads: plain dicts, SDK model objects, or odd values.

Request bodies and usage objects reach us as JSON-like dicts, or as ``anthropic`` SDK
pydantic models (a common pattern is appending ``response.content`` to the next request's
messages). Everything here turns them into plain data without ever raising.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["as_mapping", "to_int", "to_json"]


def as_mapping(value: object) -> Mapping[str, Any] | None:
    """``value`` as a mapping: itself, an SDK model's ``model_dump()``, or ``None``."""
    # A plain dict (nearly every call) skips the ABC check, which costs several times more.
    if type(value) is dict or isinstance(value, Mapping):
        return value
    if value is None:  # an absent field: no ABC check, no attribute lookup
        return None
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            dumped = dump()
        except Exception:  # a foreign object's model_dump may fail any way; treat as opaque
            return None
        return dumped if isinstance(dumped, Mapping) else None
    return None


def to_json(value: object) -> str:
    """``value`` as JSON text (unicode kept, unknown types via ``str``); never raises."""
    try:
        return json.dumps(value, ensure_ascii=False, default=_plain)
    except (TypeError, ValueError, RecursionError):
        # Circular or absurdly deep structures: their size is unknowable, count nothing.
        return ""


def to_int(value: object) -> int:
    """A non-negative int from an API number; ``None``, junk and negatives become 0."""
    if type(value) is int:  # what JSON gives: the checks and the conversion below are moot
        return value if value > 0 else 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        number = int(value)
    except (ValueError, OverflowError):  # "abc", NaN, infinity
        return 0
    return max(0, number)


def _plain(value: object) -> object:
    mapping = as_mapping(value)
    return dict(mapping) if mapping is not None else str(value)
