"""All-or-nothing admission over every rate dimension plus a concurrency pool.

The scheduler asks one question, "how long until this cost can be paid in full?", and
admits a job only when the answer is zero. Nothing is held while waiting, so no permit
for one dimension can sit idle while another dimension refills (principle 1).

A :class:`Permit` is what an admitted job holds. It is settled exactly once, to the
actual usage, synchronously (so cancellation cannot interrupt it halfway):

* unused reservation goes back to the buckets, overspend is debited (debt allowed);
* the concurrency slot is returned;
* the admission's ``on_change`` callback fires so a waiting scheduler re-checks at once
  instead of sleeping until a now-stale deadline (principle 7).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .._clock import Clock
from .._config import RateLimits
from .._errors import CapacityError
from .._types import Cost
from ._bucket import TokenBucket

__all__ = ["DIMENSIONS", "Admission", "BucketState", "Permit"]

# Bucket names, in Cost field order.
DIMENSIONS = ("requests", "input_tokens", "output_tokens")
_LIMIT_FIELD = {"requests": "rpm", "input_tokens": "input_tpm", "output_tokens": "output_tpm"}


@dataclass(frozen=True, slots=True)
class BucketState:
    """A snapshot of one bucket for ``stats()``; ``learned`` when taken from server headers."""

    level: float
    capacity: float
    rate_per_s: float
    learned: bool = False


class Admission:
    """Buckets for requests, input and output tokens, and a pool of in-flight slots.

    :param limits: the configured per-minute limits; unset dimensions are unlimited
        until :meth:`learn` gives them a limit.
    :param concurrency: max requests in flight (``None`` = unbounded).
    """

    def __init__(self, limits: RateLimits | None, *, concurrency: int | None, clock: Clock) -> None:
        self._clock = clock
        self._limits = limits or RateLimits()
        self.concurrency = concurrency
        self.in_flight = 0
        self.paused_until = -math.inf
        self.paused_reason = ""
        self.on_change: Callable[[], None] = _noop
        self._learned: set[str] = set()
        now = clock.now()
        self._buckets: dict[str, TokenBucket] = {}
        for dim in DIMENSIONS:
            rate = self._limits.per_second(_LIMIT_FIELD[dim])
            capacity = self._limits.capacity(_LIMIT_FIELD[dim])
            if rate is not None and capacity is not None:
                self._buckets[dim] = TokenBucket(rate, capacity, now=now)

    # -- questions -------------------------------------------------------------------

    def check_fits(self, cost: Cost) -> None:
        """Raise :class:`CapacityError` if ``cost`` can never be admitted in one piece."""
        for dim, amount in zip(DIMENSIONS, _amounts(cost), strict=True):
            bucket = self._buckets.get(dim)
            if bucket is not None and not bucket.fits(amount):
                raise CapacityError(
                    f"request needs {amount:,} {dim.replace('_', ' ')} but the bucket holds at "
                    f"most {bucket.capacity:,.0f} ({_LIMIT_FIELD[dim]} x burst); it can never "
                    "be sent under these limits"
                )

    def delay(self, cost: Cost) -> float:
        """Seconds until ``cost`` can be paid in full (``inf``: wait for a release)."""
        if self.concurrency is not None and self.in_flight >= self.concurrency:
            return math.inf
        now = self._clock.now()
        wait = max(0.0, self.paused_until - now)
        lead = self._limits.lead_s
        for dim, amount in zip(DIMENSIONS, _amounts(cost), strict=True):
            bucket = self._buckets.get(dim)
            if bucket is not None and amount > 0:
                # Keep lead_s of refill in hand (never more than a full bucket holds).
                need = min(amount + bucket.rate * lead, max(amount, bucket.capacity))
                wait = max(wait, bucket.time_until(need, now))
        return wait

    def buckets(self) -> dict[str, BucketState]:
        now = self._clock.now()
        return {
            dim: BucketState(b.level(now), b.capacity, b.rate, dim in self._learned)
            for dim, b in self._buckets.items()
        }

    # -- actions ---------------------------------------------------------------------

    def admit(self, cost: Cost) -> Permit:
        """Take ``cost`` from every bucket and a slot; call only when :meth:`delay` is 0."""
        now = self._clock.now()
        for dim, amount in zip(DIMENSIONS, _amounts(cost), strict=True):
            bucket = self._buckets.get(dim)
            if bucket is not None:
                bucket.take(amount, now)
        self.in_flight += 1
        return Permit(self, cost)

    def pause(self, seconds: float, reason: str) -> None:
        """Admit nothing for ``seconds`` (e.g. the server's retry-after on a 429)."""
        until = self._clock.now() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self.paused_reason = reason

    def clamp(self, dim: str, remaining: float) -> None:
        """Lower a bucket to the server's ``remaining`` (someone else shares the key)."""
        bucket = self._buckets.get(dim)
        if bucket is not None and dim not in self._learned:
            bucket.clamp(remaining, self._clock.now())

    def learn(self, dim: str, limit: float, remaining: float) -> None:
        """Adopt a server-reported per-minute ``limit`` for a dimension left unconfigured."""
        if dim in self._buckets and dim not in self._learned:
            return  # configured limits win over what the server says
        now = self._clock.now()
        rate = limit / self._limits.window_s
        capacity = limit * self._limits.burst
        bucket = self._buckets.get(dim)
        if bucket is None:
            self._buckets[dim] = TokenBucket(
                rate, capacity, now=now, level=min(remaining, capacity)
            )
            self._learned.add(dim)
        elif bucket.rate != rate or bucket.capacity != capacity:
            bucket.reconfigure(rate, capacity, now)
        bucket = self._buckets[dim]
        bucket.clamp(remaining, now)
        self.on_change()

    def _give_back(self, unused: Cost, slot: bool) -> None:
        now = self._clock.now()
        for dim, amount in zip(DIMENSIONS, _amounts(unused), strict=True):
            bucket = self._buckets.get(dim)
            if bucket is None or amount == 0:
                continue
            if amount > 0:
                bucket.give(amount, now)
            else:
                bucket.take(-amount, now)  # used more than reserved: go into debt
        if slot:
            self.in_flight -= 1
        self.on_change()


class Permit:
    """An admitted job's reservation; settle it exactly once (extra calls do nothing)."""

    __slots__ = ("_admission", "reserved", "settled")

    def __init__(self, admission: Admission, reserved: Cost) -> None:
        self._admission = admission
        self.reserved = reserved
        self.settled = False

    def adjust(self, *, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """Square one dimension early, as soon as its final count is known.

        A stream reports its input count in ``message_start`` and its output count in
        the last ``message_delta``: settling each then returns unused reservation before
        the stream ends. The final :meth:`settle` squares whatever is left.
        """
        if self.settled:
            return
        target = Cost(
            self.reserved.requests,
            self.reserved.input_tokens if input_tokens is None else input_tokens,
            self.reserved.output_tokens if output_tokens is None else output_tokens,
        )
        if target != self.reserved:
            self._admission._give_back(self.reserved - target, slot=False)
            self.reserved = target

    def settle(self, actual: Cost) -> None:
        """Square the reservation with ``actual`` usage and free the concurrency slot."""
        if self.settled:
            return
        self.settled = True
        self._admission._give_back(self.reserved - actual, slot=True)

    def release(self) -> None:
        """Give everything back: the request never reached the server."""
        self.settle(Cost(0, 0, 0))


def _amounts(cost: Cost) -> tuple[int, int, int]:
    return (cost.requests, cost.input_tokens, cost.output_tokens)


def _noop() -> None:
    return None
