"""Token-bucket arithmetic, shared by the client limiter and the simulator.

Pure state and numbers: no clock, no loop. Callers pass ``now`` in.

Why not aiolimiter's ``AsyncLimiter``: it has no way to give capacity back (refunds),
to go into debt when actual usage exceeds an estimate, to be clamped to a server's
``remaining`` value, or to answer "how long until N tokens exist" without waiting.
claudeflow needs all four, so the arithmetic lives here and the waiting lives in
:mod:`claudeflow.limiter._admission`.
"""

from __future__ import annotations

import math

__all__ = ["TokenBucket"]

# Float slack when comparing a refilled level against an amount: a waiter that sleeps
# exactly ``time_until(amount)`` must find the amount there despite rounding.
_EPSILON = 1e-9


class TokenBucket:
    """A bucket refilled continuously at ``rate`` per second up to ``capacity``.

    The level may go negative (debt) when usage is settled above its reservation; the
    debt is repaid by refilling before anything else can be taken.
    """

    __slots__ = ("_level", "_stamp", "capacity", "rate")

    def __init__(
        self, rate: float, capacity: float, *, now: float, level: float | None = None
    ) -> None:
        # ValueError, not ConfigError: callers pass limits RateLimits or the server vouched for.
        if rate <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be > 0, got {rate!r}, {capacity!r}")
        self.rate = float(rate)
        self.capacity = float(capacity)
        self._level = self.capacity if level is None else float(level)
        self._stamp = now

    def level(self, now: float) -> float:
        """Tokens available at ``now`` (negative while in debt)."""
        self._refill(now)
        return self._level

    def fits(self, amount: float) -> bool:
        """Whether ``amount`` can ever be taken at once (it is at most the capacity)."""
        return amount <= self.capacity * (1 + _EPSILON)

    def can_take(self, amount: float, now: float) -> bool:
        return self.level(now) + _EPSILON * max(1.0, amount) >= amount

    def take(self, amount: float, now: float) -> None:
        """Debit ``amount`` unconditionally (the level may go negative)."""
        self._refill(now)
        # Debt, not refusal: the server already counted these tokens; later requests repay them.
        self._level -= amount

    def give(self, amount: float, now: float) -> None:
        """Credit ``amount`` back, never above capacity."""
        self._refill(now)
        # Capped: a refund must never make room for a burst above capacity.
        self._level = min(self.capacity, self._level + amount)

    def time_until(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (0 if now; ``inf`` if it never fits)."""
        if not self.fits(amount):
            return math.inf
        deficit = amount - self.level(now)
        return 0.0 if deficit <= _EPSILON * max(1.0, amount) else deficit / self.rate

    def time_until_full(self, now: float) -> float:
        return max(0.0, self.capacity - self.level(now)) / self.rate

    def ratelimit_state(self, now: float) -> tuple[int, float]:
        """Whole units left, and seconds until the quota is back (IETF ``RateLimit``'s r, t).

        Back means one unit when none is left (when a retry can succeed), else full.
        """
        # Floored: a header must never promise a unit that would be refused.
        remaining = max(0, math.floor(self.level(now) + _EPSILON))
        reset = self.time_until(1, now) if remaining == 0 else self.time_until_full(now)
        return remaining, reset

    def clamp(self, remaining: float, now: float) -> bool:
        """Lower the level to ``remaining`` if it is higher; return whether it changed."""
        self._refill(now)
        # Down only: a higher ``remaining`` is the server not yet counting our requests in flight.
        if remaining < self._level:
            self._level = remaining
            return True
        return False

    def reconfigure(self, rate: float, capacity: float, now: float) -> None:
        """Change rate and capacity, keeping the current level (capped at the new capacity)."""
        self._refill(now)
        self.rate = float(rate)
        self.capacity = float(capacity)
        # Not refilled: a larger learned limit must not grant a fresh burst on top of the spent one.
        self._level = min(self._level, self.capacity)

    def _refill(self, now: float) -> None:
        # A caller with an older ``now`` neither refills nor drains the bucket.
        if now > self._stamp:
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
            self._stamp = now

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate!r}, capacity={self.capacity!r}, level={self._level!r})"
