"""A Redis pool's local buckets: the mirror of the shared state, and the degraded fallback.

Each reply from the server carries the pool's whole state; :meth:`LocalBuckets.mirror`
copies it here so that ``statistics()`` and ``check_fits`` need no round trip, and a
synchronous correction (give-back, clamp, learn, pause) shows at once, before it reaches
the server. When the server is lost in ``on_failure="degrade"``, :meth:`share` cuts a
1/N slice of the last view and the pool admits from that slice alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._clock import Clock
from .._config import RateLimits
from .._types import Cost
from ._backend import BucketState
from ._bucket import TokenBucket
from ._memory import check_fits, limited_buckets, settle, wait_for

__all__ = ["LocalBuckets"]


class LocalBuckets:
    """Buckets for one pool in this process, with the in-memory backend's arithmetic."""

    def __init__(self, limits: RateLimits, clock: Clock) -> None:
        self._limits = limits
        self._clock = clock
        self.buckets = limited_buckets(limits, clock.now())
        self.learned: set[str] = set()
        self.paused_until = -math.inf
        self.paused_reason = ""
        self._share = 1  # a degraded slice holds 1/_share of what the server reports

    def now(self) -> float:
        return self._clock.now()

    def check_fits(self, cost: Cost) -> None:
        check_fits(self.buckets, cost)

    def reserve(self, cost: Cost) -> float:
        """Take ``cost`` if every bucket can pay (lead_s kept in hand); else the wait."""
        now = self._clock.now()
        wait = wait_for(self.buckets, cost, self._limits.lead_s, self.paused_until, now)
        if wait == 0:
            settle(self.buckets, Cost(0, 0, 0) - cost, now)
        return wait

    def give_back(self, amount: Cost) -> None:
        settle(self.buckets, amount, self._clock.now())

    def clamp(self, dim: str, remaining: float) -> None:
        bucket = self.buckets.get(dim)
        if bucket is not None and dim not in self.learned:
            # A slice answers for its share of what the server says is left.
            bucket.clamp(remaining / self._share, self._clock.now())

    def learn(
        self, dim: str, limit: float, remaining: float, window_s: float | None = None
    ) -> bool:
        """Adopt a learned limit; ``False`` when a configured limit wins."""
        if dim in self.buckets and dim not in self.learned:
            return False
        now = self._clock.now()
        # A slice learns its share: N processes together must not exceed the server's limit.
        limit, remaining = limit / self._share, remaining / self._share
        rate = limit / (window_s or self._limits.window_s)
        capacity = limit * self._limits.burst
        bucket = self.buckets.get(dim)
        if bucket is None:
            bucket = TokenBucket(rate, capacity, now=now, level=min(remaining, capacity))
            self.buckets[dim] = bucket
            self.learned.add(dim)
        else:
            bucket.reconfigure(rate, capacity, now)
        bucket.clamp(remaining, now)
        return True

    def pause(self, seconds: float, reason: str) -> None:
        until = self._clock.now() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until, self.paused_reason = until, reason

    def mirror(self, fields: Sequence[object], pause_left: float, reason: str) -> None:
        """Copy the server's view: ``fields`` is (dim, level, cap, rate, learned) * n."""
        now = self._clock.now()
        # Replaced whole, not merged: the server's view includes every correction it applied.
        self.buckets.clear()
        self.learned.clear()
        for i in range(0, len(fields), 5):
            dim = _text(fields[i])
            level, cap, rate = (float(_text(x)) for x in fields[i + 1 : i + 4])
            self.buckets[dim] = TokenBucket(rate, cap, now=now, level=level)
            if int(_text(fields[i + 4])):
                self.learned.add(dim)
        # The server sends time left, not an instant: our clocks need not agree with Redis's.
        self.paused_until = now + pause_left if pause_left > 0 else -math.inf
        self.paused_reason = reason

    def share(self, processes: int) -> LocalBuckets:
        """A 1/``processes`` slice of these buckets (rates, capacities and levels)."""
        part = LocalBuckets(self._limits, self._clock)
        now = self._clock.now()
        # At least ourselves, even before any heartbeat has counted us.
        n = max(1, processes)
        part.buckets = {
            dim: TokenBucket(b.rate / n, b.capacity / n, now=now, level=b.level(now) / n)
            for dim, b in self.buckets.items()
        }
        # A learned bucket stays one: clamps from headers must keep skipping it.
        part.learned = set(self.learned)
        part._share = n
        part.paused_until, part.paused_reason = self.paused_until, self.paused_reason
        return part

    def states(self) -> dict[str, BucketState]:
        now = self._clock.now()
        return {
            dim: BucketState(b.level(now), b.capacity, b.rate, dim in self.learned)
            for dim, b in self.buckets.items()
        }


def _text(value: object) -> str:
    # Replies are str with decode_responses, bytes without; both mirror alike.
    return value.decode() if isinstance(value, bytes) else str(value)
