"""How long the server's "minute" is, bounded from above by its own headers.

A time-scaled simulator (``claudeflow simulate --minute-seconds 6``) refills its buckets
ten times faster than the API; a client that learns its limits but assumes 60 s windows
would then go ten times too slowly. Each response bounds the window: a bucket short of
``deficit`` units is full again at ``reset``, so ``window <= limit * (reset - date) /
deficit``. Both stamps come from the server (``reset`` rounded up, ``Date`` rounded
down), so the bound holds whatever the client's clock or the network latency; the
smallest bound seen is the estimate, and it is used only once it is clearly shorter than
the assumed window (the real API's 60 s is left alone).

The deficit is ``limit - remaining`` only if a full bucket holds the whole limit. A server
whose buckets hold less (a burst below one minute's worth) is full again sooner, and the
same arithmetic would then give a window that is too *short*: limits taken too fast. So
only the requests bucket is used, and only once a response has shown it (nearly) full,
which proves that it holds the whole limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._headers import _count, _http_date, _rfc3339

__all__ = ["WindowEstimate"]

_PREFIX = "anthropic-ratelimit-requests-"
# A response reports the bucket after its own request: a full bucket says limit - 1.
_FULL_SLACK = 2
# Only a bound this much shorter than the assumed window replaces it.
_CLEARLY_SHORTER = 0.8


class WindowEstimate:
    """The smallest upper bound on the server's window seen so far."""

    __slots__ = ("full_seen", "upper")

    def __init__(self) -> None:
        self.upper = math.inf
        self.full_seen = False  # the requests bucket was seen holding the whole limit

    def observe(self, lower: Mapping[str, str]) -> None:
        """Tighten the bound from one response's (lower-cased) headers."""
        limit = _count(lower.get(_PREFIX + "limit"))
        remaining = _count(lower.get(_PREFIX + "remaining"))
        reset = _rfc3339(lower.get(_PREFIX + "reset"))
        # A zero limit says nothing about time (and would divide by zero below).
        if not limit or remaining is None:
            return
        if remaining >= limit - _FULL_SLACK:
            # A full bucket has no deficit to time, but it proves the bucket holds the whole limit.
            self.full_seen = True
            return
        date = lower.get("date")
        server_now = _http_date(date) if date else None
        deficit = limit - remaining
        # Until a full bucket was seen, its capacity may be below the limit: the bound too short.
        if not self.full_seen or server_now is None or reset is None or reset <= server_now:
            return
        if deficit >= max(1.0, 0.05 * limit):
            self.upper = min(self.upper, limit * (reset - server_now) / deficit)

    def window_s(self, assumed: float) -> float:
        """The window to use: the bound when it is clearly shorter, else ``assumed``."""
        return self.upper if self.upper < _CLEARLY_SHORTER * assumed else assumed
