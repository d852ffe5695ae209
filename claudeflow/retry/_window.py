"""How long the server's "minute" is, bounded from above by its own headers.

A time-scaled simulator (``claudeflow simulate --minute-seconds 6``) refills its buckets
ten times faster than the API; a client that learns its limits but assumes 60 s windows
would then go ten times too slowly. Each response bounds the window: a bucket short of
``deficit`` units is full again at ``reset``, so ``window <= limit * (reset - date) /
deficit``. Both stamps come from the server (``reset`` rounded up, ``Date`` rounded
down), so the bound holds whatever the client's clock or the network latency; the
smallest bound seen is the estimate, and it is used only once it is clearly shorter than
the assumed window (the real API's 60 s is left alone).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ._headers import _count, _http_date, _rfc3339

__all__ = ["WindowEstimate"]

# name -> (header infix, how far a reported remaining may sit below the true one)
_DIMENSIONS = {"requests": ("requests", 0), "input_tokens": ("input-tokens", 500)}
_DIMENSIONS["output_tokens"] = ("output-tokens", 500)  # token counts are rounded to 1,000
# Only a bound this much shorter than the assumed window replaces it.
_CLEARLY_SHORTER = 0.8


class WindowEstimate:
    """The smallest upper bound on the server's window seen so far."""

    __slots__ = ("upper",)

    def __init__(self) -> None:
        self.upper = math.inf

    def observe(self, lower: Mapping[str, str]) -> None:
        """Tighten the bound from one response's (lower-cased) headers."""
        date = lower.get("date")
        server_now = _http_date(date) if date else None
        if server_now is None:
            return
        for infix, rounding in _DIMENSIONS.values():
            prefix = f"anthropic-ratelimit-{infix}-"
            limit = _count(lower.get(prefix + "limit"))
            remaining = _count(lower.get(prefix + "remaining"))
            reset = _rfc3339(lower.get(prefix + "reset"))
            if not limit or remaining is None or reset is None:
                continue
            deficit = limit - remaining - rounding
            if deficit >= max(1.0, 0.05 * limit) and reset > server_now:
                self.upper = min(self.upper, limit * (reset - server_now) / deficit)

    def window_s(self, assumed: float) -> float:
        """The window to use: the bound when it is clearly shorter, else ``assumed``."""
        return self.upper if self.upper < _CLEARLY_SHORTER * assumed else assumed
