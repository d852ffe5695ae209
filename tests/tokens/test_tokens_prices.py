"""ModelPrice and PriceTable: the default table, id resolution, cost arithmetic, overrides."""

from __future__ import annotations

from typing import Any

import pytest

from claudeflow import ConfigError
from claudeflow.tokens import ModelPrice, PriceTable, Usage, normalize_model_id

TABLE = PriceTable.default()


def price(input: float, w5: float, w1h: float, read: float, output: float) -> ModelPrice:
    """Arguments in the api doc's column order."""
    return ModelPrice(input, output, w5, w1h, read)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param("claude-haiku-4-5", price(1, 1.25, 2, 0.10, 5), id="haiku-4-5"),
        pytest.param("claude-haiku-4-5-20251001", price(1, 1.25, 2, 0.10, 5), id="haiku-dated"),
        pytest.param("claude-3-5-haiku-20241022", price(0.80, 1, 1.6, 0.08, 4), id="haiku-3-5"),
        pytest.param("claude-3-5-haiku-latest", price(0.80, 1, 1.6, 0.08, 4), id="haiku-latest"),
        pytest.param("claude-3-haiku-20240307", price(0.25, 0.30, 0.50, 0.03, 1.25), id="haiku-3"),
        pytest.param("claude-sonnet-5-5", price(2, 2.50, 4, 0.10, 10), id="sonnet-5-5"),
        pytest.param("claude-sonnet-5", price(2, 2.50, 4, 0.20, 10), id="sonnet-5"),
        pytest.param("claude-sonnet-4-6", price(3, 3.75, 6, 0.30, 15), id="sonnet-4-6"),
        pytest.param("claude-sonnet-4-5-20250929", price(3, 3.75, 6, 0.30, 15), id="sonnet-4-5"),
        pytest.param("claude-opus-5-5", price(4, 5, 8, 0.20, 20), id="opus-5-5"),
        pytest.param("claude-opus-5", price(5, 6.25, 10, 0.50, 25), id="opus-5"),
        pytest.param("claude-opus-4-8", price(5, 6.25, 10, 0.50, 25), id="opus-4-8"),
        pytest.param("claude-opus-4-7", price(5, 6.25, 10, 0.50, 25), id="opus-4-7"),
        pytest.param("claude-opus-4-6", price(5, 6.25, 10, 0.50, 25), id="opus-4-6"),
        pytest.param("claude-opus-4-5-20251101", price(5, 6.25, 10, 0.50, 25), id="opus-4-5"),
        pytest.param("claude-opus-4-1-20250805", price(15, 18.75, 30, 1.50, 75), id="opus-4-1"),
        pytest.param("claude-opus-4-20250514", price(15, 18.75, 30, 1.50, 75), id="opus-4"),
        pytest.param("claude-opus-4-0", price(15, 18.75, 30, 1.50, 75), id="opus-4-0"),
        pytest.param("claude-fable-5-1", price(10, 12.50, 20, 0.25, 50), id="fable-5-1"),
        pytest.param("claude-mythos-5-1", price(10, 12.50, 20, 0.25, 50), id="mythos-5-1"),
        pytest.param("claude-fable-5", price(10, 12.50, 20, 1, 50), id="fable-5"),
        pytest.param("claude-mythos-5", price(10, 12.50, 20, 1, 50), id="mythos-5"),
        pytest.param("  Claude-Haiku-4-5 ", price(1, 1.25, 2, 0.10, 5), id="case-and-space"),
    ],
)
def test_default_prices(model: str, expected: ModelPrice) -> None:
    assert TABLE.price(model) == expected


@pytest.mark.parametrize(
    ("model", "base", "long_above", "long"),
    [
        pytest.param("claude-haiku-5-5", price(0.10, 0.125, 0.20, 0.01, 0.50), 100_000,
                     price(0.50, 0.625, 1.00, 0.05, 2.50), id="haiku-5-5"),
        pytest.param("claude-sonnet-4-20250514", price(3, 3.75, 6, 0.30, 15), 200_000,
                     price(6, 7.50, 12, 0.60, 22.50), id="sonnet-4-1m-beta"),
        pytest.param("claude-3-7-sonnet-20250219", price(3, 3.75, 6, 0.30, 15), 200_000,
                     price(6, 7.50, 12, 0.60, 22.50), id="sonnet-3-7"),
    ],
)  # fmt: skip
def test_long_context_tiers(
    model: str, base: ModelPrice, long_above: int, long: ModelPrice
) -> None:
    found = TABLE.price(model)
    assert found is not None
    assert (found.input, found.output, found.cache_write_5m, found.cache_write_1h,
            found.cache_read) == (base.input, base.output, base.cache_write_5m,
                                  base.cache_write_1h, base.cache_read)  # fmt: skip
    assert (found.long_context_above, found.long_context) == (long_above, long)


@pytest.mark.parametrize(
    "model",
    [
        pytest.param("claude-fable-5-2", id="unconfirmed-fable-5-2"),
        pytest.param("claude-mythos-5-2", id="unconfirmed-mythos-5-2"),
        pytest.param("claude-mythos-preview", id="no-price-in-doc"),
        pytest.param("claude-3-5-sonnet-20241022", id="not-in-doc"),
        pytest.param("claude-sonnet", id="family-only"),
        pytest.param("gpt-4o", id="foreign"),
        pytest.param("", id="empty"),
    ],
)
def test_unpriced_models_are_never_guessed(model: str) -> None:
    assert TABLE.price(model) is None
    assert TABLE.cost_usd(model, Usage(1000, 1000)) is None
    assert model not in TABLE


@pytest.mark.parametrize(
    ("model", "usage", "batch", "expected"),
    [
        pytest.param("claude-sonnet-4-5", Usage(1_000_000, 0), False, 3.0, id="1m-input"),
        pytest.param("claude-sonnet-4-5", Usage(0, 1_000_000), False, 15.0, id="1m-output"),
        pytest.param("claude-sonnet-4-5", Usage(1_000_000, 1_000_000), True, 9.0, id="batch-half"),
        pytest.param(
            "claude-haiku-4-5",
            Usage(1000, 500, cache_creation_input_tokens=2000, cache_read_input_tokens=10_000,
                  cache_creation_5m=0, cache_creation_1h=2000),
            False,
            (1000 * 1 + 500 * 5 + 2000 * 2 + 10_000 * 0.10) / 1e6,
            id="mixed-1h-writes",
        ),
        pytest.param(
            "claude-haiku-4-5",
            Usage(0, 0, cache_creation_input_tokens=2000),
            False,
            2000 * 1.25 / 1e6,
            id="writes-without-breakdown-are-5m",
        ),
        pytest.param(
            "claude-haiku-4-5",
            Usage(0, 0, cache_creation_input_tokens=3000, cache_creation_5m=1000,
                  cache_creation_1h=1500),
            False,
            (1500 * 1.25 + 1500 * 2) / 1e6,
            id="breakdown-short-of-total-rest-at-5m",
        ),
        pytest.param(
            "claude-opus-5-5",
            Usage(100, 200, cache_read_input_tokens=1_000_000),
            False,
            (100 * 4 + 200 * 20 + 1_000_000 * 0.20) / 1e6,
            id="opus-5-5-cheap-reads",
        ),
        pytest.param(
            "claude-haiku-5-5",
            Usage(40_000, 1000, cache_read_input_tokens=60_000),
            False,
            (40_000 * 0.10 + 1000 * 0.50 + 60_000 * 0.01) / 1e6,
            id="haiku-5-5-at-100k-is-base",
        ),
        pytest.param(
            "claude-haiku-5-5",
            Usage(40_001, 1000, cache_read_input_tokens=60_000),
            False,
            (40_001 * 0.50 + 1000 * 2.50 + 60_000 * 0.05) / 1e6,
            id="haiku-5-5-above-100k-whole-request",
        ),
        pytest.param(
            "claude-haiku-5-5",
            Usage(200_000, 1000),
            True,
            (200_000 * 0.50 + 1000 * 2.50) / 1e6 * 0.5,
            id="long-context-and-batch-stack",
        ),
        pytest.param("claude-opus-4-1", Usage(0, 0), False, 0.0, id="zero"),
    ],
)  # fmt: skip
def test_cost_usd(model: str, usage: Usage, batch: bool, expected: float) -> None:
    assert TABLE.cost_usd(model, usage, batch=batch) == pytest.approx(expected, rel=1e-12)


def test_with_prices_overrides_and_extends() -> None:
    mine = ModelPrice.standard(2.0, 8.0)
    dated = ModelPrice.standard(9.0, 9.0)
    table = TABLE.with_prices(
        {"my-finetune": mine, "claude-sonnet-4-5": mine, "claude-opus-4-6-20260101": dated}
    )
    assert table.price("my-finetune") == mine
    assert table.price("claude-sonnet-4-5-20250929") == mine  # dated id follows the override
    assert table.price("claude-opus-4-6-20260101") == dated  # exact id wins over its family
    assert table.price("claude-opus-4-6") == TABLE.price("claude-opus-4-6")
    assert TABLE.price("my-finetune") is None  # the default table is unchanged
    assert len(table) == len(TABLE) + 2
    assert table.batch_discount == TABLE.batch_discount


def test_standard_multipliers() -> None:
    assert ModelPrice.standard(4.0, 20.0) == ModelPrice(4.0, 20.0, 5.0, 8.0, 0.4)
    assert ModelPrice.standard(4.0, 20.0, cache_read=0.2).cache_read == 0.2


def test_custom_batch_discount() -> None:
    table = PriceTable.default(batch_discount=0.0)
    assert table.cost_usd("claude-sonnet-4-6", Usage(1_000_000, 0), batch=True) == 3.0


def test_iteration_lists_sorted_ids() -> None:
    ids = list(TABLE)
    assert ids == sorted(ids)
    assert {"claude-haiku-5-5", "claude-opus-4-8", "claude-fable-5-1"} <= set(ids)
    assert repr(TABLE) == f"PriceTable({len(TABLE)} models, batch_discount=0.5)"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        pytest.param("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", id="date"),
        pytest.param("claude-3-7-sonnet-latest", "claude-3-7-sonnet", id="latest"),
        pytest.param("CLAUDE-OPUS-4-8", "claude-opus-4-8", id="case"),
        pytest.param("claude-sonnet-5", "claude-sonnet-5", id="plain"),
        pytest.param("claude-opus-4-1234567", "claude-opus-4-1234567", id="not-a-date"),
    ],
)
def test_normalize_model_id(model: str, expected: str) -> None:
    assert normalize_model_id(model) == expected


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        pytest.param(lambda: ModelPrice(-1, 1, 1, 1, 1), "input", id="negative-input"),
        pytest.param(lambda: ModelPrice(1, float("inf"), 1, 1, 1), "output", id="inf-output"),
        pytest.param(lambda: ModelPrice(1, 1, 1, 1, 1, long_context_above=10), "long_context",
                     id="half-tier"),
        pytest.param(lambda: ModelPrice(1, 1, 1, 1, 1, long_context_above=0,
                                        long_context=ModelPrice(1, 1, 1, 1, 1)),
                     "long_context_above", id="zero-threshold"),
        pytest.param(lambda: PriceTable({}, batch_discount=1.0), "batch_discount",
                     id="discount-one"),
        pytest.param(lambda: PriceTable({}, batch_discount=-0.1), "batch_discount",
                     id="discount-negative"),
        pytest.param(lambda: PriceTable({"m": (1, 2)}), "prices", id="not-a-model-price"),  # type: ignore[dict-item]
    ],
)  # fmt: skip
def test_config_errors(build: Any, argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()
    assert info.value.argument == argument
