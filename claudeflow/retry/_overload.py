"""Overload (529) as one shared condition of a pool, not a private back-off per request.

When the API says it is overloaded, every request to that pool would hear the same, and
per-request exponential back-off would keep most of them asleep long after the API has
recovered. So the first 529 trips the pool's gate: nothing new starts, the failed request
goes back to its place in line, and one request at a time is sent as a probe after a short,
jittered, bounded pause. The first success anywhere in the pool opens the gate for the whole
line at once. An isolated 529 costs one short pause of the line, no more.
"""

from __future__ import annotations

import math
import random

from .._errors import APIStatusError, StreamError

__all__ = ["OverloadGate", "is_overload"]


def is_overload(error: BaseException) -> bool:
    """A 529, or an ``overloaded_error`` event in a stream."""
    if isinstance(error, APIStatusError):
        return error.status_code == 529
    return isinstance(error, StreamError) and error.type == "overloaded_error"


class OverloadGate:
    """Whether a pool is overloaded, and when its next probe may go."""

    __slots__ = ("failures", "resume_at")

    def __init__(self) -> None:
        self.failures = 0
        self.resume_at = -math.inf

    @property
    def tripped(self) -> bool:
        return self.failures > 0

    def trip(
        self,
        now: float,
        rng: random.Random,
        retry_after: float | None = None,
        *,
        first: float,
        cap: float,
    ) -> float:
        """Record an overload; return the pause before the next probe.

        The pause starts at ``first`` and doubles with each 529 up to ``cap`` (the
        :class:`~claudeflow.retry.RetryPolicy` gives both): probes cost one request each,
        so they may be frequent, and the cap bounds how late the line restarts.
        """
        if self.failures and now < self.resume_at:
            return self.resume_at - now  # an echo of the same overload from a request sent with it
        # The exponent is capped first, so a long outage cannot overflow the power.
        pause = min(first * 2.0 ** min(self.failures, 30), cap)
        pause *= 0.5 + 0.5 * rng.random()  # spread the probes of many clients
        if retry_after is not None:
            # The server's retry-after is a floor: a probe sent sooner only earns another 529.
            pause = max(pause, retry_after)
        self.failures += 1
        # A pause already promised to the line is never shortened.
        self.resume_at = max(self.resume_at, now + pause)
        return pause

    def clear(self) -> bool:
        """A request succeeded: the API is back. Return whether the gate was tripped."""
        was = self.failures > 0
        # One success is enough: the overload is one shared condition, and so is its end.
        self.failures = 0
        self.resume_at = -math.inf
        return was

    def wait(self, now: float) -> float:
        """Seconds until the next probe may start (0 when the gate is open or due)."""
        return max(0.0, self.resume_at - now) if self.failures else 0.0
