"""A plausible ``input`` for a forced tool call, derived from the tool's JSON Schema.

The simulated model fills every required property (every property when the schema
lists none) with the first value the schema allows: ``const``, the first ``enum``
value, ``default``, else a value of the declared type that meets its bounds. Nesting is
bounded, so a recursive schema still ends.
"""

from __future__ import annotations

from typing import Any

__all__ = ["example_input"]

_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def example_input(schema: Any) -> dict[str, Any]:
    """An object that fits ``schema`` (an ``input_schema``; anything else gives ``{}``)."""
    value = _value(schema, 0) if isinstance(schema, dict) else None
    return value if isinstance(value, dict) else {}


def _value(schema: Any, depth: int) -> Any:
    # The depth cap makes a recursive or very deep schema end, with a null.
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    for key in ("enum", "examples"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema[key][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _value(schema[key][0], depth + 1)
    return _typed(_type(schema), schema, depth)


def _type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _typed(kind: str, schema: dict[str, Any], depth: int) -> Any:
    if kind == "object":
        return _object(schema, depth)
    if kind == "array":
        count = max(1, _int(schema.get("minItems"), 0))
        return [_value(schema.get("items", {}), depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = 1 if low is None else low + (1 if "exclusiveMinimum" in schema else 0)
        high = schema.get("maximum")
        value = min(value, high) if isinstance(high, int | float) else value
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema)


def _object(schema: dict[str, Any], depth: int) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    required = schema.get("required")
    names = required if isinstance(required, list) and required else list(properties)
    return {name: _value(properties.get(name, {}), depth + 1) for name in names}


def _string(schema: dict[str, Any]) -> str:
    text = _FORMATS.get(schema.get("format", ""), "example")
    low = _int(schema.get("minLength"), 0)
    if len(text) < low:
        text += "x" * (low - len(text))
    high = schema.get("maxLength")
    return text[:high] if isinstance(high, int) else text


def _int(value: Any, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback
