"""Each gateway client's own quotas: requests and tokens per minute, dollars per day.

Checked without waiting before a request reaches the Flow, so a client over its quota
gets its own 429 at once and never takes a place in the shared line. Tokens are known
only after the response, so they are debited then; a client whose token bucket is in
debt waits (429) until the debt is repaid. Days are UTC calendar days.

Pure state on an injected clock, built from the limiter's :class:`TokenBucket`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from .._clock import Clock, wall_time
from .._errors import RequestRejected
from ..limiter import TokenBucket
from ._config import ClientConfig

__all__ = ["ClientQuota", "QuotaExceeded", "utc_day"]

_DAY_S: Final = 86_400.0
_WINDOW_S: Final = 60.0


def utc_day() -> int:
    """Days since the epoch, in UTC: the key of "today" for daily budgets."""
    return int(wall_time() // _DAY_S)


def seconds_to_midnight() -> float:
    return _DAY_S - wall_time() % _DAY_S


class QuotaExceeded(RequestRejected):
    """A client is over one of its own quotas; the request was not queued.

    :ivar retry_after: seconds after which a retry can succeed
    :ivar headers: IETF ``RateLimit-Policy``/``RateLimit`` headers of the quota
    """

    def __init__(self, message: str, *, retry_after: float, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = headers


class ClientQuota:
    """The runtime state of one client's quotas."""

    def __init__(
        self,
        client: ClientConfig,
        clock: Clock,
        *,
        day: Callable[[], int] = utc_day,
        until_midnight: Callable[[], float] = seconds_to_midnight,
    ) -> None:
        self.client = client
        self._clock = clock
        self._day = day
        self._until_midnight = until_midnight
        now = clock.now()
        self._requests = _bucket(client.rpm, now)
        self._tokens = _bucket(client.tpm, now)
        self._spent_day = day()
        self._spent_usd = 0.0

    @property
    def spent_today_usd(self) -> float:
        # A new UTC day starts at zero, noticed on read: no timer to reset it.
        if self._day() != self._spent_day:
            self._spent_day, self._spent_usd = self._day(), 0.0
        return self._spent_usd

    def admit(self) -> None:
        """Take one request from the quota now, or raise :class:`QuotaExceeded`."""
        now = self._clock.now()
        name = self.client.name
        budget = self.client.budget_usd_per_day
        # First: no per-minute wait helps a client whose day is spent.
        if budget is not None and self.spent_today_usd >= budget:
            raise QuotaExceeded(
                f"client {name!r} has spent its ${budget:g} budget for today",
                retry_after=self._until_midnight(),
                headers={},
            )
        # One token: a request's cost is unknown until it ends; only an empty bucket refuses.
        if self._tokens is not None and not self._tokens.can_take(1, now):
            raise QuotaExceeded(
                f"client {name!r} used its {self.client.tpm:g} tokens per minute",
                retry_after=self._tokens.time_until(1, now),
                headers=self.headers(),
            )
        if self._requests is not None:
            if not self._requests.can_take(1, now):
                raise QuotaExceeded(
                    f"client {name!r} used its {self.client.rpm:g} requests per minute",
                    retry_after=self._requests.time_until(1, now),
                    headers=self.headers(),
                )
            # Taken last, once every check passed: a refused request spends nothing.
            self._requests.take(1, now)

    def refund(self) -> None:
        """Give the request back: it was refused before reaching the API."""
        if self._requests is not None:
            self._requests.give(1, self._clock.now())

    def settle(self, tokens: int, cost_usd: float | None) -> None:
        """Debit what a finished request used (tokens may put the bucket in debt)."""
        if self._tokens is not None:
            self._tokens.take(tokens, self._clock.now())
        if cost_usd:
            self._spent_usd = self.spent_today_usd + cost_usd

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers)."""
        now = self._clock.now()
        policies, states = [], []
        for name, bucket in (("requests", self._requests), ("tokens", self._tokens)):
            if bucket is None:
                continue
            remaining, reset = bucket.ratelimit_state(now)
            policies.append(f'"{name}";q={bucket.capacity:g};w={_WINDOW_S:g}')
            states.append(f'"{name}";r={remaining};t={math.ceil(reset)}')
        if not policies:
            return {}
        return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(states)}


def _bucket(per_minute: float | None, now: float) -> TokenBucket | None:
    if per_minute is None:
        return None
    return TokenBucket(per_minute / _WINDOW_S, per_minute, now=now)
