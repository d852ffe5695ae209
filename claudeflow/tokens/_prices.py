"""What requests cost in USD, from a table of per-model prices (api doc §9).

A model that is not in the table is *unpriced*: :meth:`PriceTable.cost_usd` returns
``None`` rather than guessing from a similar model. Prices marked ``[unconfirmed]`` in the
api doc (Fable/Mythos 5.2, fast mode, the ``us`` geo uplift) are left out on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from .._checks import check_count, check_fraction, check_non_negative
from .._errors import ConfigError
from ._usage import Usage

__all__ = ["ModelPrice", "PriceTable", "normalize_model_id"]

_PER_TOKEN = 1e-6  # prices are quoted in USD per million tokens

# Cache price multipliers of base input (api doc §9 preamble), for ModelPrice.standard().
_WRITE_5M = 1.25
_WRITE_1H = 2.0
_READ = 0.1

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_LATEST_SUFFIX = "-latest"


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Prices of one model in USD per million tokens.

    ``long_context`` (with ``long_context_above``) is a second tier applied to the *whole*
    request when its prompt (:attr:`Usage.total_input`) exceeds ``long_context_above``
    tokens, as for Haiku 5.5 above 100K.

    :raises ConfigError: on a negative or non-finite price, or a half-given tier
    """

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    long_context_above: int | None = None
    long_context: ModelPrice | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read"):
            check_non_negative(name, getattr(self, name))
        if (self.long_context_above is None) != (self.long_context is None):
            raise ConfigError(
                "long_context", "give both long_context and long_context_above, or neither"
            )
        if self.long_context_above is not None:
            check_count("long_context_above", self.long_context_above)

    @classmethod
    def standard(
        cls, input: float, output: float, *, cache_read: float | None = None
    ) -> ModelPrice:
        """Prices with the usual cache multipliers of ``input``: 5-minute write 1.25x,
        1-hour write 2x, read 0.1x (unless ``cache_read`` is given)."""
        read = input * _READ if cache_read is None else cache_read
        return cls(input, output, input * _WRITE_5M, input * _WRITE_1H, read)

    def tier(self, usage: Usage) -> ModelPrice:
        """The prices that apply to a request with this ``usage``."""
        above = self.long_context_above
        if self.long_context is not None and above is not None and usage.total_input > above:
            return self.long_context
        return self

    def cost_usd(self, usage: Usage) -> float:
        """Standard (non-batch) price of ``usage`` in USD."""
        p = self.tier(usage)
        # Responses without the 5m/1h breakdown (older API versions) wrote 5-minute
        # entries, the default lifetime; any part of the total the breakdown misses too.
        write_1h = usage.cache_creation_1h
        write_5m = max(usage.cache_creation_5m, usage.cache_creation_input_tokens - write_1h)
        millionths = (
            usage.input_tokens * p.input
            + usage.output_tokens * p.output
            + write_5m * p.cache_write_5m
            + write_1h * p.cache_write_1h
            + usage.cache_read_input_tokens * p.cache_read
        )
        return millionths * _PER_TOKEN


def normalize_model_id(model: str) -> str:
    """The table key of a model id: lower-case, without a snapshot date or ``-latest``.

    >>> normalize_model_id("claude-sonnet-4-5-20250929")
    'claude-sonnet-4-5'
    """
    key = model.strip().lower()
    key = _DATE_SUFFIX.sub("", key)
    return key.removesuffix(_LATEST_SUFFIX)


class PriceTable:
    """Per-model prices with id resolution, user overrides and the batch discount.

    Look-up tries the id as given (lower-cased), then without its snapshot date or
    ``-latest``: ``claude-haiku-4-5-20251001`` resolves to ``claude-haiku-4-5``.

    :param prices: model id -> :class:`ModelPrice`
    :param batch_discount: fraction taken off Message Batches usage (0.5 = half price)
    :raises ConfigError: if ``batch_discount`` is outside [0, 1)

    >>> table = PriceTable.default().with_prices({"my-model": ModelPrice.standard(1.0, 5.0)})
    >>> table.cost_usd("claude-haiku-4-5-20251001", Usage(1_000_000, 0))
    1.0
    >>> table.cost_usd("an-unknown-model", Usage(1, 1)) is None
    True
    """

    __slots__ = ("_batch_discount", "_prices")

    def __init__(self, prices: Mapping[str, ModelPrice], *, batch_discount: float = 0.5) -> None:
        check_fraction("batch_discount", batch_discount, allow_zero=True, allow_one=False)
        for model, price in prices.items():
            if not isinstance(price, ModelPrice):
                raise ConfigError("prices", f"{model!r} must map to a ModelPrice")
        self._prices = MappingProxyType({m.strip().lower(): p for m, p in prices.items()})
        self._batch_discount = float(batch_discount)

    @classmethod
    def default(cls, *, batch_discount: float = 0.5) -> PriceTable:
        """The current Claude models' list prices (api doc §9, Nov 2026)."""
        return cls(DEFAULT_PRICES, batch_discount=batch_discount)

    def with_prices(self, prices: Mapping[str, ModelPrice]) -> PriceTable:
        """A new table with ``prices`` added or replacing existing entries."""
        return PriceTable({**self._prices, **prices}, batch_discount=self._batch_discount)

    @property
    def batch_discount(self) -> float:
        """Fraction taken off batch usage."""
        return self._batch_discount

    def price(self, model: str) -> ModelPrice | None:
        """The prices of ``model``, or ``None`` if it is not in the table."""
        # The exact id first: a dated snapshot may be priced apart from its alias.
        key = model.strip().lower()
        found = self._prices.get(key)
        return found if found is not None else self._prices.get(normalize_model_id(key))

    def cost_usd(self, model: str, usage: Usage, *, batch: bool = False) -> float | None:
        """USD cost of ``usage`` on ``model``; ``None`` if the model is unpriced.

        :param batch: the request ran through the Message Batches API (discounted)
        """
        price = self.price(model)
        if price is None:
            return None
        cost = price.cost_usd(usage)
        return cost * (1.0 - self._batch_discount) if batch else cost

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and self.price(model) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._prices))

    def __len__(self) -> int:
        return len(self._prices)

    def __repr__(self) -> str:
        return f"PriceTable({len(self._prices)} models, batch_discount={self._batch_discount!r})"


def _p(input: float, write_5m: float, write_1h: float, read: float, output: float) -> ModelPrice:
    # Same column order as the api doc's tables, so rows can be checked by eye.
    return ModelPrice(input, output, write_5m, write_1h, read)


_HAIKU_5_5 = replace(
    _p(0.10, 0.125, 0.20, 0.01, 0.50),
    long_context_above=100_000,
    long_context=_p(0.50, 0.625, 1.00, 0.05, 2.50),
)
_SONNET_4 = replace(
    _p(3, 3.75, 6, 0.30, 15),
    # 1M-context beta above 200K input: 6 in / 22.50 out (doc); its cache rates follow
    # the standard multipliers of 6 (1.25x, 2x, 0.1x).
    long_context_above=200_000,
    long_context=_p(6, 7.50, 12, 0.60, 22.50),
)
_SONNET_4_5 = _p(3, 3.75, 6, 0.30, 15)
_OPUS_4_5 = _p(5, 6.25, 10, 0.50, 25)
_OPUS_4 = _p(15, 18.75, 30, 1.50, 75)
_FABLE_5_1 = _p(10, 12.50, 20, 0.25, 50)
_FABLE_5 = _p(10, 12.50, 20, 1, 50)

DEFAULT_PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        # Haiku (§9.2)
        "claude-haiku-5-5": _HAIKU_5_5,
        "claude-haiku-4-5": _p(1, 1.25, 2, 0.10, 5),
        "claude-3-5-haiku": _p(0.80, 1, 1.6, 0.08, 4),
        "claude-3-haiku": _p(0.25, 0.30, 0.50, 0.03, 1.25),
        # Sonnet (§9.3); Sonnet 5.5's cache read is 0.10 since 2026-10-07 (was 0.20).
        "claude-sonnet-5-5": _p(2, 2.50, 4, 0.10, 10),
        "claude-sonnet-5": _p(2, 2.50, 4, 0.20, 10),
        "claude-sonnet-4-6": _SONNET_4_5,
        "claude-sonnet-4-5": _SONNET_4_5,
        "claude-sonnet-4": _SONNET_4,
        "claude-sonnet-4-0": _SONNET_4,
        "claude-3-7-sonnet": _SONNET_4,
        # Opus and the top tier (§9.4)
        "claude-opus-5-5": _p(4, 5, 8, 0.20, 20),
        "claude-opus-5": _p(5, 6.25, 10, 0.50, 25),
        "claude-opus-4-8": _OPUS_4_5,
        "claude-opus-4-7": _OPUS_4_5,
        "claude-opus-4-6": _OPUS_4_5,
        "claude-opus-4-5": _OPUS_4_5,
        "claude-opus-4-1": _OPUS_4,
        "claude-opus-4": _OPUS_4,
        "claude-opus-4-0": _OPUS_4,
        "claude-fable-5-1": _FABLE_5_1,
        "claude-mythos-5-1": _FABLE_5_1,
        "claude-fable-5": _FABLE_5,
        "claude-mythos-5": _FABLE_5,
    }
)
