"""A pool's buckets in this process: the arithmetic every backend shares, and its state.

:class:`LocalBuckets` is the whole state of an in-memory pool (:class:`MemoryPool`) and,
in a Redis pool, the mirror of the shared state and the degraded fallback. Each reply
from the server carries the pool's whole state; :meth:`LocalBuckets.mirror` copies it
here so that ``statistics()`` and ``check_fits`` need no round trip, and a synchronous
correction (give-back, clamp, learn, pause) shows at once, before it reaches the server.
When the server is lost in ``on_failure="degrade"``, :meth:`LocalBuckets.share` cuts a
1/N slice of the last view and the pool admits from that slice alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .._clock import Clock
from .._config import RateLimits
from .._errors import CapacityError
from .._types import Cost
from ._backend import BucketState
from ._bucket import TokenBucket
from ._transit import Transit

__all__ = [
    "DIMENSIONS",
    "LIMIT_FIELD",
    "LocalBuckets",
    "amounts",
    "check_fits",
    "limited_buckets",
    "settle",
    "wait_for",
]

# Bucket names, in Cost field order.
DIMENSIONS = ("requests", "input_tokens", "output_tokens")
# The buckets whose lead follows the transit, by their index there (see _transit).
_TIMED = {"requests": 0, "input_tokens": 1}
# The RateLimits field that limits each bucket.
LIMIT_FIELD = {"requests": "rpm", "input_tokens": "input_tpm", "output_tokens": "output_tpm"}


class LocalBuckets:
    """Buckets for one pool in this process, with the in-memory backend's arithmetic."""

    def __init__(self, limits: RateLimits, clock: Clock, *, transit: Transit | None = None) -> None:
        self._limits = limits
        self._clock = clock
        # This process's own transit times bound the lead (an in-memory pool; a shared
        # one also waits for other processes' requests, which it cannot see).
        self.transit = transit
        self.buckets = limited_buckets(limits, clock.now())
        self.learned: set[str] = set()
        self.paused_until = -math.inf
        self.paused_reason = ""
        self._share = 1  # a degraded slice holds 1/_share of what the server reports

    def now(self) -> float:
        return self._clock.now()

    def check_fits(self, cost: Cost) -> None:
        check_fits(self.buckets, cost)

    def delay(self, cost: Cost) -> float:
        """Seconds until ``cost`` can be paid in full from every bucket (lead_s in hand)."""
        now = self._clock.now()
        return wait_for(self.buckets, cost, self._leads(now), self.paused_until, now)

    def _leads(self, now: float) -> tuple[float, float, float]:
        """The configured leads, cut to each bucket's lag bound (see :mod:`._transit`)."""
        leads = self._limits.leads
        transit = self.transit
        if transit is None or not self.buckets:  # no limit, nothing to keep in hand
            return leads
        full = all(bucket.level(now) >= bucket.capacity for bucket in self.buckets.values())
        bounds = transit.bounds(now, full=full, most=max(leads))
        if bounds is None:
            return leads
        lead, _, output = leads
        requests, input_tokens = bounds
        # Output keeps its whole lead (see _transit).
        return (min(lead, requests), min(lead, input_tokens), output)

    def take(self, cost: Cost) -> None:
        """Debit ``cost`` from every bucket (call when :meth:`delay` is 0)."""
        now = self._clock.now()
        if self.transit is not None:
            self.transit.taken(now)
        # Taking is settling a negative amount: one code path moves every bucket.
        settle(self.buckets, Cost(0, 0, 0) - cost, now)

    def reserve(self, cost: Cost) -> float:
        """Take ``cost`` if every bucket can pay (lead_s kept in hand); else the wait."""
        wait = self.delay(cost)
        if wait == 0:
            self.take(cost)
        return wait

    def give_back(self, amount: Cost) -> None:
        settle(self.buckets, amount, self._clock.now())

    def clamp(self, dim: str, remaining: float) -> None:
        bucket = self.buckets.get(dim)
        # A learned bucket was just clamped by learn(), from the same headers.
        if bucket is not None and dim not in self.learned:
            # A slice answers for its share of what the server says is left.
            bucket.clamp(remaining / self._share, self._clock.now())
        self._cover(dim, remaining)

    def _cover(self, dim: str, remaining: float) -> None:
        """The server's bucket was ``remaining`` (less than one more) when the request just
        answered arrived: it cannot have been full until it refilled the rest."""
        bucket = self.buckets.get(dim)
        index = _TIMED.get(dim)
        if self.transit is not None and bucket is not None and index is not None:
            gap = bucket.capacity - (remaining + 1)
            self.transit.covered(index, gap / bucket.rate)

    def learn(
        self, dim: str, limit: float, remaining: float, window_s: float | None = None
    ) -> bool:
        """Adopt a learned limit; ``False`` when a configured limit wins."""
        if dim in self.buckets and dim not in self.learned:
            return False
        now = self._clock.now()
        # A slice learns its share: N processes together must not exceed the server's limit.
        limit, remaining = limit / self._share, remaining / self._share
        # A time-scaled server's own window: a learned limit refills at the server's pace.
        rate = limit / (window_s or self._limits.window_s)
        capacity = limit * self._limits.burst
        bucket = self.buckets.get(dim)
        if bucket is None:
            # From the server's ``remaining``: the requests that taught us the limit were spent.
            bucket = TokenBucket(rate, capacity, now=now, level=min(remaining, capacity))
            self.buckets[dim] = bucket
            self.learned.add(dim)
        else:
            bucket.reconfigure(rate, capacity, now)
        # No _cover here: a new bucket starts at the low end of the server's rounding,
        # and the span it covers comes from the clamp that follows (the high end).
        bucket.clamp(remaining, now)
        return True

    def pause(self, seconds: float, reason: str) -> None:
        until = self._clock.now() + max(0.0, seconds)
        # Pauses only lengthen: a later, shorter retry-after must not cut one short.
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


def amounts(cost: Cost) -> tuple[int, int, int]:
    return (cost.requests, cost.input_tokens, cost.output_tokens)


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
    if not buckets:  # no limits (yet): the three lookups below would all miss
        return
    for dim, amount in zip(DIMENSIONS, amounts(cost), strict=True):
        bucket = buckets.get(dim)
        if bucket is not None and not bucket.fits(amount):
            raise CapacityError(
                f"request needs {amount:,} {dim.replace('_', ' ')} but the bucket holds at "
                f"most {bucket.capacity:,.0f} ({LIMIT_FIELD[dim]} x burst); it can never "
                "be sent under these limits"
            )


def wait_for(
    buckets: Mapping[str, TokenBucket],
    cost: Cost,
    leads: tuple[float, float, float],
    paused_until: float,
    now: float,
) -> float:
    """Seconds until every bucket can pay ``cost`` with its lead of refill kept in hand."""
    # A 429 pause and the buckets all bind: the wait is the longest of them.
    wait = max(0.0, paused_until - now)
    if not buckets:
        return wait
    for dim, amount, lead_s in zip(DIMENSIONS, amounts(cost), leads, strict=True):
        bucket = buckets.get(dim)
        if bucket is not None and amount > 0:
            # The lead never asks for more than a full bucket holds.
            need = min(amount + bucket.rate * lead_s, max(amount, bucket.capacity))
            wait = max(wait, bucket.time_until(need, now))
    return wait


def settle(buckets: Mapping[str, TokenBucket], amount: Cost, now: float) -> None:
    """Credit ``amount`` (capped at capacity); negative fields debit, into debt if need be."""
    if not buckets:
        return
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
