"""The in-memory backend: one process owns its pools' buckets (the default).

Every operation is plain arithmetic on :class:`TokenBucket` under the event loop's single
thread, so "atomic" comes for free; :meth:`MemoryPool.reserve` never suspends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from .._clock import Clock
from .._config import RateLimits
from .._errors import CapacityError
from .._types import Cost
from ._backend import BucketState, PoolStatistics
from ._bucket import TokenBucket

__all__ = [
    "DIMENSIONS",
    "LIMIT_FIELD",
    "MemoryBackend",
    "MemoryPool",
    "amounts",
    "check_fits",
    "limited_buckets",
    "settle",
    "wait_for",
]

# Bucket names, in Cost field order.
DIMENSIONS = ("requests", "input_tokens", "output_tokens")
# The RateLimits field that limits each bucket.
LIMIT_FIELD = {"requests": "rpm", "input_tokens": "input_tpm", "output_tokens": "output_tpm"}


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
        self.paused_until = -math.inf
        self.paused_reason = ""
        self.on_change: Callable[[], None] = _noop
        self._learned: set[str] = set()
        self._buckets = limited_buckets(self._limits, clock.now())

    @property
    def limits(self) -> RateLimits:
        return self._limits

    def known(self, dim: str) -> bool:
        """Whether ``dim`` has a limit (configured or learned)."""
        return dim in self._buckets

    # -- questions -------------------------------------------------------------------

    def check_fits(self, cost: Cost) -> None:
        check_fits(self._buckets, cost)

    def delay(self, cost: Cost) -> float:
        """Seconds until ``cost`` can be paid in full from every bucket."""
        now = self._clock.now()
        return wait_for(self._buckets, cost, self._limits.lead_s, self.paused_until, now)

    async def reserve(self, cost: Cost, *, priority: int) -> float:
        wait = self.delay(cost)
        if wait == 0:
            self.take(cost)
        return wait

    def take(self, cost: Cost) -> None:
        """Debit ``cost`` from every bucket (call when :meth:`delay` is 0)."""
        # Taking is settling a negative amount: one code path moves every bucket.
        settle(self._buckets, Cost(0, 0, 0) - cost, self._clock.now())

    def buckets(self) -> dict[str, BucketState]:
        now = self._clock.now()
        return {
            dim: BucketState(b.level(now), b.capacity, b.rate, dim in self._learned)
            for dim, b in self._buckets.items()
        }

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
        settle(self._buckets, amount, self._clock.now())
        self.on_change()

    def pause(self, seconds: float, reason: str) -> None:
        until = self._clock.now() + max(0.0, seconds)
        # Pauses only lengthen: a later, shorter retry-after must not cut one short.
        if until > self.paused_until:
            self.paused_until = until
            self.paused_reason = reason

    def clamp(self, dim: str, remaining: float) -> None:
        bucket = self._buckets.get(dim)
        # A learned bucket was just clamped by learn(), from the same headers.
        if bucket is not None and dim not in self._learned:
            bucket.clamp(remaining, self._clock.now())

    def learn(
        self, dim: str, limit: float, remaining: float, *, window_s: float | None = None
    ) -> None:
        if dim in self._buckets and dim not in self._learned:
            return  # configured limits win over what the server says
        now = self._clock.now()
        # A time-scaled server's own window: a learned limit refills at the server's pace.
        rate = limit / (window_s or self._limits.window_s)
        capacity = limit * self._limits.burst
        bucket = self._buckets.get(dim)
        if bucket is None:
            # From the server's ``remaining``: the requests that taught us the limit were spent.
            self._buckets[dim] = TokenBucket(
                rate, capacity, now=now, level=min(remaining, capacity)
            )
            self._learned.add(dim)
        elif bucket.rate != rate or bucket.capacity != capacity:
            bucket.reconfigure(rate, capacity, now)
        self._buckets[dim].clamp(remaining, now)
        self.on_change()

    def waiting(self, priority: int | None) -> None:
        return None  # one process: its own line already orders the classes

    def __repr__(self) -> str:
        return f"MemoryPool({self.name!r}, buckets={self.buckets()!r})"


def amounts(cost: Cost) -> tuple[int, int, int]:
    return (cost.requests, cost.input_tokens, cost.output_tokens)


# -- the arithmetic over one pool's buckets (shared with the Redis backend's local view) --


def limited_buckets(limits: RateLimits, now: float) -> dict[str, TokenBucket]:
    """A full bucket for each dimension ``limits`` limits."""
    buckets: dict[str, TokenBucket] = {}
    for dim in DIMENSIONS:
        rate = limits.per_second(LIMIT_FIELD[dim])
        capacity = limits.capacity(LIMIT_FIELD[dim])
        if rate is not None and capacity is not None:
            # No limit, no bucket: that dimension is never waited on (learning may add one).
            buckets[dim] = TokenBucket(rate, capacity, now=now)
    return buckets


def check_fits(buckets: Mapping[str, TokenBucket], cost: Cost) -> None:
    """Raise :class:`CapacityError` if ``cost`` can never be taken from ``buckets`` at once."""
    for dim, amount in zip(DIMENSIONS, amounts(cost), strict=True):
        bucket = buckets.get(dim)
        if bucket is not None and not bucket.fits(amount):
            raise CapacityError(
                f"request needs {amount:,} {dim.replace('_', ' ')} but the bucket holds at "
                f"most {bucket.capacity:,.0f} ({LIMIT_FIELD[dim]} x burst); it can never "
                "be sent under these limits"
            )


def wait_for(
    buckets: Mapping[str, TokenBucket], cost: Cost, lead_s: float, paused_until: float, now: float
) -> float:
    """Seconds until every bucket can pay ``cost`` with ``lead_s`` of refill kept in hand."""
    # A 429 pause and the buckets all bind: the wait is the longest of them.
    wait = max(0.0, paused_until - now)
    for dim, amount in zip(DIMENSIONS, amounts(cost), strict=True):
        bucket = buckets.get(dim)
        if bucket is not None and amount > 0:
            # The lead never asks for more than a full bucket holds.
            need = min(amount + bucket.rate * lead_s, max(amount, bucket.capacity))
            wait = max(wait, bucket.time_until(need, now))
    return wait


def settle(buckets: Mapping[str, TokenBucket], amount: Cost, now: float) -> None:
    """Credit ``amount`` (capped at capacity); negative fields debit, into debt if need be."""
    for dim, value in zip(DIMENSIONS, amounts(amount), strict=True):
        bucket = buckets.get(dim)
        if bucket is None or value == 0:
            continue
        if value > 0:
            bucket.give(value, now)
        else:
            # Used more than reserved: the debt is real usage the server counted, so the
            # bucket goes negative rather than pretending it was never spent.
            bucket.take(-value, now)


def _noop() -> None:
    return None
