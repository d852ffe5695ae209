"""Usage: parsing the API's usage object, ITPM charging, sums."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import Usage as SDKUsage

from claudeflow.tokens import Usage

FULL = {
    "input_tokens": 15,
    "cache_creation_input_tokens": 200,
    "cache_read_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 150, "ephemeral_1h_input_tokens": 50},
    "output_tokens": 35,
    "service_tier": "standard",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(FULL, Usage(15, 35, 200, 3000, 150, 50), id="full-2026-shape"),
        pytest.param({"input_tokens": 7, "output_tokens": 2}, Usage(7, 2), id="no-cache-fields"),
        pytest.param(
            {
                "input_tokens": 7,
                "output_tokens": None,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": None,
                "cache_creation": None,
            },
            Usage(7, 0),
            id="nulls",
        ),
        pytest.param(
            {"input_tokens": "12", "output_tokens": 3.0, "cache_read_input_tokens": "x"},
            Usage(12, 3),
            id="loose-numbers",
        ),
        pytest.param(
            {"input_tokens": -5, "output_tokens": True, "cache_creation": "oops"},
            Usage(0, 0),
            id="junk",
        ),
        pytest.param({}, Usage(0, 0), id="empty"),
        pytest.param(None, Usage(0, 0), id="none"),
        pytest.param(SDKUsage(input_tokens=3, output_tokens=4), Usage(3, 4), id="sdk-model"),
    ],
)
def test_from_api(raw: Any, expected: Usage) -> None:
    assert Usage.from_api(raw) == expected


@pytest.mark.parametrize(
    ("count_cache_reads", "expected"),
    [
        pytest.param(False, 15 + 200, id="cache-reads-free"),
        pytest.param(True, 15 + 200 + 3000, id="cache-reads-count"),
    ],
)
def test_itpm_tokens(count_cache_reads: bool, expected: int) -> None:
    assert Usage.from_api(FULL).itpm_tokens(count_cache_reads) == expected


def test_total_input_is_whole_prompt() -> None:
    assert Usage.from_api(FULL).total_input == 3215


def test_add_and_sum() -> None:
    a = Usage(1, 2, 3, 4, 5, 6)
    b = Usage(10, 20, 30, 40, 50, 60)
    assert a + b == Usage(11, 22, 33, 44, 55, 66)
    assert sum([a, b, a]) == Usage(12, 24, 36, 48, 60, 72)


def test_add_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        Usage(1, 1) + 5  # type: ignore[operator]
    with pytest.raises(TypeError):
        3 + Usage(1, 1)
