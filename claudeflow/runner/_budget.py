"""The runner's spending limit, across runs: ``--budget-usd`` covers the results file.

The Flow's own ``budget_usd`` sees one Flow's spend. A batch job is resumed many times,
each with a new Flow, so the runner keeps its own account: it starts with what the
results file already spent, and it starts a line only if the line's worst-case price
(the estimated input plus ``max_tokens`` of output, at the model's price) still fits
beside what has been spent and what the lines in flight may yet cost. Each line's
reservation is settled to its actual cost when it ends.

The runner does not also hand what is left to the Flow's ``budget_usd``: each line's
worst case is reserved here before the line reaches the Flow, so the requests in flight
are covered already, and a second ledger (its own estimates, blind to earlier runs)
could only refuse lines this one admitted. One account, one decision. A ``--batches``
run prices lines at the Message Batches rate (``batch=True``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..tokens import PriceTable, TokenEstimator, Usage

__all__ = ["RunBudget"]


class RunBudget:
    """``limit_usd`` minus what was spent (``spent_usd``) and reserved (``reserved_usd``)."""

    __slots__ = ("_batch", "_estimator", "_prices", "limit_usd", "reserved_usd", "spent_usd")

    def __init__(
        self,
        limit_usd: float,
        *,
        spent_usd: float = 0.0,
        prices: PriceTable | None = None,
        estimator: TokenEstimator | None = None,
        batch: bool = False,
    ) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.reserved_usd = 0.0
        self._prices = prices or PriceTable.default()
        self._estimator = estimator or TokenEstimator()
        self._batch = batch  # lines go through Message Batches: priced at its rate

    async def worst_case(self, body: Mapping[str, Any]) -> float | None:
        """The most ``body`` can cost; ``None`` if its model has no price.

        A body the API would refuse anyway (no model name, a bad ``max_tokens``) is
        priced by what is there: the Flow rejects it before anything is spent.
        """
        model = body.get("model")
        if not isinstance(model, str):
            return 0.0
        if self._prices.price(model) is None:
            return None
        max_tokens = body.get("max_tokens")
        # All of max_tokens: the worst case must hold whatever the model writes.
        output = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 0
        estimate = await self._estimator.estimate_async(body)
        usage = Usage(input_tokens=estimate, output_tokens=output)
        return self._prices.cost_usd(model, usage, batch=self._batch)

    def fits(self, worst_usd: float) -> bool:
        return self.spent_usd + self.reserved_usd + worst_usd <= self.limit_usd

    def reserve(self, worst_usd: float) -> None:
        self.reserved_usd += worst_usd

    def settle(self, worst_usd: float, actual_usd: float | None) -> None:
        """A line has ended: release its reservation, count what it really cost."""
        # Clamped: float sums of many reservations may leave a tiny negative remainder.
        self.reserved_usd = max(0.0, self.reserved_usd - worst_usd)
        # None: a failure, billed nothing (an unpriced model never starts under a budget).
        self.spent_usd += actual_usd or 0.0
