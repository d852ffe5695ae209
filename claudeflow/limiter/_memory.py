"""The in-memory backend: one process owns its pools' buckets (the default).

Every operation is plain arithmetic on :class:`TokenBucket` (in :class:`LocalBuckets`,
the state a Redis pool mirrors too) under the event loop's single thread, so "atomic"
comes for free; :meth:`MemoryPool.reserve` never suspends.
"""

from __future__ import annotations

from collections.abc import Callable

from .._clock import Clock
from .._config import RateLimits
from .._types import Cost
from ._backend import BucketState, PoolStatistics
from ._local import LocalBuckets
from ._transit import Transit

__all__ = ["MemoryBackend", "MemoryPool"]


class MemoryBackend:
    """Pools whose state lives in this process (nothing to connect to)."""

    def pool(self, name: str, limits: RateLimits | None, *, clock: Clock) -> MemoryPool:
        return MemoryPool(name, limits, clock=clock)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return "MemoryBackend()"


class MemoryPool:
    """Buckets for requests, input and output tokens of one pool.

    :param limits: the configured per-minute limits; unset dimensions are unlimited
        until :meth:`learn` gives them a limit.
    """

    def __init__(self, name: str, limits: RateLimits | None, *, clock: Clock) -> None:
        self.name = name
        self._clock = clock
        self._limits = limits or RateLimits()
        self.on_change: Callable[[], None] = _noop
        self._transit = Transit()
        self._local = LocalBuckets(self._limits, clock, transit=self._transit)

    @property
    def limits(self) -> RateLimits:
        return self._limits

    @property
    def paused_until(self) -> float:
        return self._local.paused_until

    @property
    def paused_reason(self) -> str:
        return self._local.paused_reason

    def known(self, dim: str) -> bool:
        """Whether ``dim`` has a limit (configured or learned)."""
        return dim in self._local.buckets

    # -- questions -------------------------------------------------------------------

    def check_fits(self, cost: Cost) -> None:
        self._local.check_fits(cost)

    def delay(self, cost: Cost) -> float:
        """Seconds until ``cost`` can be paid in full from every bucket."""
        return self._local.delay(cost)

    async def reserve(self, cost: Cost, *, priority: int) -> float:
        wait = self.delay(cost)
        if wait == 0:
            self.take(cost)
        return wait

    def take(self, cost: Cost) -> None:
        """Debit ``cost`` from every bucket (call when :meth:`delay` is 0)."""
        self._local.take(cost)

    def buckets(self) -> dict[str, BucketState]:
        return self._local.states()

    def statistics(self) -> PoolStatistics:
        return PoolStatistics(
            name=self.name,
            buckets=self.buckets(),
            paused_for_s=max(0.0, self.paused_until - self._clock.now()),
            paused_reason=self.paused_reason,
            mode="local",
        )

    # -- corrections -----------------------------------------------------------------

    def give_back(self, amount: Cost) -> None:
        self._local.give_back(amount)
        self.on_change()

    def pause(self, seconds: float, reason: str) -> None:
        self._local.pause(seconds, reason)

    def clamp(self, dim: str, remaining: float) -> None:
        self._local.clamp(dim, remaining)

    def learn(
        self, dim: str, limit: float, remaining: float, *, window_s: float | None = None
    ) -> None:
        # False: a configured limit wins over what the server says, and nothing changed.
        if self._local.learn(dim, limit, remaining, window_s):
            self.on_change()

    def waiting(self, priority: int | None) -> None:
        return None  # one process: its own line already orders the classes

    def sent(self) -> int | None:
        return self._transit.sent(self._clock.now())

    def answered(self, token: int | None) -> None:
        if token is not None:
            self._transit.answered(token, self._clock.now())

    def withdrawn(self) -> None:
        self._transit.withdrawn()

    def early_headers(self) -> bool:
        # A plain reply's headers wait for its whole generation; a stream's do not, and
        # until the first come back the lead stays at lead_s (see _transit).
        return bool(self._local.buckets) and self._transit.wants_early_headers()

    def __repr__(self) -> str:
        return f"MemoryPool({self.name!r}, buckets={self.buckets()!r})"


def _noop() -> None:
    return None
