"""A spending budget that holds: charged at admission, settled to the actual price.

(:class:`Spending` charges the long-window quotas of :mod:`claudeflow.limiter._quota`
the same way, in the same steps.)

A request is charged its worst case when it starts (estimated input plus ``max_tokens``
of output at the model's price) and settled to what it really cost when it ends. One whose
worst case no longer fits waits while requests in flight may still give money back, and
is refused once nothing is in flight. Spend can then exceed the budget only by the error
of the input estimates of the requests in flight.
"""

from __future__ import annotations

import math

from .._errors import BudgetExceededError
from ..limiter._quota import QuotaBook, QuotaCharge
from ._job import Job

__all__ = ["Budget", "Spending"]


class Budget:
    """Dollars spent, reserved by requests in flight, and the limit (``None``: none)."""

    __slots__ = ("limit_usd", "reserved_usd", "spent_usd")

    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.reserved_usd = 0.0

    def check_open(self) -> None:
        """Refuse new work once the budget is spent."""
        if self.limit_usd is not None and self.spent_usd >= self.limit_usd:
            raise BudgetExceededError(
                f"budget of ${self.limit_usd:.4f} is spent (${self.spent_usd:.4f})"
            )

    def delay(self, worst_usd: float) -> float:
        """0: the worst case fits now; ``inf``: wait for a settle; raises when it never will."""
        if self.limit_usd is None or not worst_usd:
            return 0.0
        left = self.limit_usd - self.spent_usd - self.reserved_usd
        if worst_usd <= left + 1e-12:
            return 0.0
        if self.reserved_usd > 1e-12:
            return math.inf  # in-flight requests usually cost less than their worst case
        raise BudgetExceededError(
            f"budget of ${self.limit_usd:.4f}: ${self.spent_usd:.4f} spent, and this request "
            f"may cost up to ${worst_usd:.4f}"
        )

    def reserve(self, worst_usd: float) -> None:
        self.reserved_usd += worst_usd

    def settle(self, worst_usd: float, actual_usd: float) -> None:
        self.reserved_usd = max(0.0, self.reserved_usd - worst_usd)
        self.spent_usd += actual_usd


class Spending:
    """The budget and the long-window quotas, charged and settled together per request."""

    __slots__ = ("_quoted", "budget", "quotas")

    def __init__(self, budget: Budget, quotas: QuotaBook) -> None:
        self.budget = budget
        self.quotas = quotas
        # Most Flows have no quota: skip building four charges per request for none.
        self._quoted = bool(quotas.quotas)

    def check_open(self, job: Job) -> None:
        """At submission: refuse at once what the budget or a quota can no longer pay."""
        self.budget.check_open()
        if self._quoted:
            self.quotas.check(job.model_class, _charge(job))

    def delay(self, job: Job) -> float:
        """At admission: 0 to go, ``inf`` to wait for a settle; raises to refuse."""
        if self._quoted:
            self.quotas.check(job.model_class, _charge(job))
        return self.budget.delay(job.worst_usd)

    def reserve(self, job: Job) -> None:
        self.budget.reserve(job.worst_usd)
        if self._quoted:
            self.quotas.reserve(job.model_class, _charge(job))

    def settle(self, job: Job, usd: float, tokens: int) -> None:
        self.budget.settle(job.worst_usd, usd)
        if self._quoted:
            requests = 1 if tokens else 0  # nothing came back: the request was not served
            actual = QuotaCharge(requests, tokens, usd)
            self.quotas.settle(job.model_class, _charge(job), actual)


def _charge(job: Job) -> QuotaCharge:
    return QuotaCharge(1, job.cost.input_tokens + job.cost.output_tokens, job.worst_usd)
