"""Server-side rate limits: token buckets per (API key, model class) and their headers.

The bucket arithmetic is the client limiter's own :class:`~claudeflow.limiter.TokenBucket`
(refill ``limit / minute_seconds`` per second, capacity ``limit * burst``, debt allowed),
so the simulator and the client can never disagree about what a bucket is.

Admission is all-or-nothing: a request is checked against every dimension and only
then debited, so a rejected request consumes nothing (api doc §1.2, CAP-2).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from ..limiter._bucket import TokenBucket
from ._wire import rfc3339_ceil, rfc3339_floor

__all__ = ["Cost", "Denial", "LimitSet", "RateLimiter", "key_label"]

REQUESTS = "requests"
INPUT = "input-tokens"
OUTPUT = "output-tokens"
_WORDS = {REQUESTS: "requests", INPUT: "input tokens", OUTPUT: "output tokens"}


def key_label(api_key: str) -> str:
    """A stable label for an API key that does not reveal it (for stats and logs)."""
    # A hash, not a prefix of the key: key prefixes are shared (sk-ant-...) and would leak bits.
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request asks of each dimension."""

    requests: float = 1.0
    input_tokens: float = 0.0
    output_tokens: float = 0.0


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a request was refused: the binding dimension and how long until it fits."""

    dimension: str
    limit: float
    wait: float

    @property
    def never_fits(self) -> bool:
        return math.isinf(self.wait)

    def describe(self) -> str:
        """``"30,000 input tokens per minute"``."""
        return f"{round(self.limit):,} {_WORDS[self.dimension]} per minute"


class LimitSet:
    """The buckets of one API key and model class (``None``: dimension unlimited)."""

    __slots__ = ("buckets",)

    def __init__(self, buckets: dict[str, TokenBucket]) -> None:
        self.buckets = buckets

    def take(self, cost: Cost, now: float) -> None:
        self._apply(cost, now, sign=1.0)

    def give(self, cost: Cost, now: float) -> None:
        self._apply(cost, now, sign=-1.0)

    def clamp(self, cost: Cost) -> Cost:
        """``cost`` capped at each bucket's capacity (what can ever be taken at once)."""

        def cap(dimension: str, amount: float) -> float:
            bucket = self.buckets.get(dimension)
            return amount if bucket is None else min(amount, bucket.capacity)

        return Cost(
            cap(REQUESTS, cost.requests),
            cap(INPUT, cost.input_tokens),
            cap(OUTPUT, cost.output_tokens),
        )

    def _apply(self, cost: Cost, now: float, *, sign: float) -> None:
        for dimension, amount in _amounts(cost):
            bucket = self.buckets.get(dimension)
            if bucket is None or amount == 0:
                continue
            if sign > 0:
                bucket.take(amount, now)
            else:
                bucket.give(amount, now)


def _amounts(cost: Cost) -> tuple[tuple[str, float], ...]:
    return (
        (REQUESTS, cost.requests),
        (INPUT, cost.input_tokens),
        (OUTPUT, cost.output_tokens),
    )


class RateLimiter:
    """Lazily created :class:`LimitSet` per scope, all with the same per-minute limits."""

    __slots__ = ("_burst", "_limits", "_minute_seconds", "_sets", "enabled")

    def __init__(
        self,
        *,
        rpm: float | None,
        input_tpm: float | None = None,
        output_tpm: float | None = None,
        minute_seconds: float,
        burst: float = 1.0,
    ) -> None:
        limits = {REQUESTS: rpm, INPUT: input_tpm, OUTPUT: output_tpm}
        self._limits = {name: value for name, value in limits.items() if value is not None}
        self._minute_seconds = minute_seconds
        self._burst = burst
        self._sets: dict[tuple[str, str], LimitSet] = {}
        self.enabled = bool(self._limits)

    def capacity(self, dimension: str) -> float:
        """What one bucket of ``dimension`` holds when full (``inf``: not limited)."""
        limit = self._limits.get(dimension)
        return math.inf if limit is None else limit * self._burst

    def scope(self, api_key: str, model_class: str, now: float) -> LimitSet:
        """The buckets of ``(api_key, model_class)``, created full on first use."""
        found = self._sets.get((api_key, model_class))
        if found is None:
            buckets = {
                name: TokenBucket(limit / self._minute_seconds, self.capacity(name), now=now)
                for name, limit in self._limits.items()
            }
            # Created full on first use: an unseen key has its whole minute (api doc §1.2).
            found = self._sets[(api_key, model_class)] = LimitSet(buckets)
        return found

    def check(self, limits: LimitSet, cost: Cost, now: float) -> Denial | None:
        """The binding :class:`Denial` if ``cost`` does not fit now, else ``None``."""
        worst: Denial | None = None
        for dimension, amount in _amounts(cost):
            bucket = limits.buckets.get(dimension)
            if bucket is None or amount <= 0:
                continue
            wait = bucket.time_until(amount, now)
            # The longest wait binds: retry-after must cover every dimension (§1.2, CAP-2).
            if wait > 0 and (worst is None or wait > worst.wait):
                worst = Denial(dimension, self._limits[dimension], wait)
        return worst

    def headers(
        self, limits: LimitSet, now: float, wall_offset: float, rounding: int
    ) -> dict[str, str]:
        """The ``anthropic-ratelimit-*`` headers of ``limits`` at ``now``."""
        out: dict[str, str] = {}
        tokens: list[tuple[float, int, float]] = []  # (limit, remaining, seconds to full)
        for dimension, bucket in limits.buckets.items():
            limit = self._limits[dimension]
            level = bucket.level(now)
            if dimension == REQUESTS:
                # Exact integers on the wire (api doc §2.1); the epsilon absorbs float refill.
                remaining = max(0, math.floor(level + 1e-9))
            else:
                # Token counts are rounded to the nearest thousand on the wire (api doc §2.1).
                remaining = _round_tokens(level, limit, rounding)
            to_full = bucket.time_until_full(now)
            prefix = f"anthropic-ratelimit-{dimension}"
            out[f"{prefix}-limit"] = str(round(limit))
            out[f"{prefix}-remaining"] = str(remaining)
            out[f"{prefix}-reset"] = _reset(to_full, now, wall_offset)
            if dimension != REQUESTS:
                tokens.append((limit, remaining, to_full))
        if tokens:
            # The combined view sums input and output (CAP-1, CAP-2) and is full again
            # when the slower of the two is.
            out["anthropic-ratelimit-tokens-limit"] = str(round(sum(t[0] for t in tokens)))
            out["anthropic-ratelimit-tokens-remaining"] = str(sum(t[1] for t in tokens))
            to_full = max(t[2] for t in tokens)
            out["anthropic-ratelimit-tokens-reset"] = _reset(to_full, now, wall_offset)
        return out

    def levels(self, now: float) -> dict[str, dict[str, float]]:
        """Current bucket levels per ``key_label/model_class`` (for ``/_stats``)."""
        return {
            f"{key_label(key)}/{model_class}": {
                name: round(bucket.level(now), 3) for name, bucket in limits.buckets.items()
            }
            for (key, model_class), limits in self._sets.items()
        }

    def clear(self) -> None:
        self._sets.clear()


def _round_tokens(level: float, limit: float, rounding: int) -> int:
    """Token ``remaining``: clamped at 0 and rounded half-up to ``rounding`` (API: 1000)."""
    if level <= 0:
        return 0
    rounded = math.floor(level / rounding + 0.5) * rounding
    # Rounding up must never report more than the limit itself.
    return int(min(rounded, math.floor(limit)))


def _reset(to_full: float, now: float, wall_offset: float) -> str:
    # A full bucket is full "now". (CAP-2 once saw epoch zero there; clients that take a
    # reset for a time would read that as a bucket full since 1970, so the current time
    # it is.) Otherwise: the second it is full again.
    if to_full <= 1e-9:
        return rfc3339_floor(wall_offset + now)
    return rfc3339_ceil(wall_offset + now + to_full)
