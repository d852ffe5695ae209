"""The input a forced tool call carries fits the tool's JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from claudeflow.simulator._tool_input import example_input

SCHEMAS: list[Any] = [
    {"type": "object", "properties": {"q": {"type": "string", "minLength": 12}}},
    {"type": "object", "properties": {"q": {"type": "string", "maxLength": 3}}},
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 9}}},
    {"type": "object", "properties": {"n": {"type": "integer", "maximum": 0}}},
    {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 2}}},
    {"type": "object", "properties": {"k": {"const": "fixed"}, "d": {"default": 3}}},
    {"type": "object", "properties": {"v": {"type": ["null", "boolean"]}}},
    {"type": "object", "properties": {"u": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}},
    {"type": "object", "properties": {"e": {"type": "string", "format": "email"}}},
    {"type": "object", "properties": {"l": {"type": "array", "items": {"enum": [3, 4]}}}},
    {
        "type": "object",
        "properties": {"deep": {"properties": {"deeper": {"type": "array", "minItems": 3}}}},
        "required": ["deep"],
    },
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
def test_the_input_fits_the_schema(schema: dict[str, Any]) -> None:
    value = example_input(schema)
    jsonschema.validate(value, schema)
    assert set(value) == set(schema.get("required") or schema["properties"])


@pytest.mark.parametrize("schema", [None, "x", [], {"type": "string"}, {"type": "object"}])
def test_anything_else_gives_an_empty_object(schema: Any) -> None:
    assert example_input(schema) == {}


def test_a_self_similar_schema_still_ends() -> None:
    node: dict[str, Any] = {"type": "object", "properties": {}, "required": ["child"]}
    schema = node
    for _ in range(50):  # deeper than the bound
        child: dict[str, Any] = {"type": "object", "properties": {}, "required": ["child"]}
        node["properties"]["child"] = child
        node = child
    value = example_input(schema)
    depth = 0
    while isinstance(value, dict) and "child" in value:
        value, depth = value["child"], depth + 1
    assert 1 <= depth <= 10
