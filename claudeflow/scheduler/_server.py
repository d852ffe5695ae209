"""Learning from the server: every response's rate-limit headers correct the pool.

The server is the source of truth (principle 4): its ``remaining`` clamps the local
buckets, its ``limit`` teaches a pool limits nobody configured, and its first answer
lifts the pool's one-request probe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Final

from .._clock import wall_time
from ..retry import ServerLimits, parse_rate_limits
from ..retry._headers import enforced_counts
from ..routing import Pool

__all__ = ["ServerView", "end_probe"]

# Server token counts are rounded to the nearest thousand (api doc 2.1): only a gap
# larger than that means someone else is spending from the same key.
_TOKEN_ROUNDING: Final = 500.0


class ServerView:
    """What the server said: status counts, and its latest rate-limit headers."""

    __slots__ = ("_last_headers", "_last_wall", "_learn_limits", "statuses")

    def __init__(self, *, learn_limits: bool) -> None:
        self._learn_limits = learn_limits
        self.statuses: Counter[int] = Counter()
        self._last_headers: Mapping[str, str] | None = None
        self._last_wall = 0.0

    @property
    def limits(self) -> ServerLimits | None:
        """The server's view from the latest response (parsed when asked for)."""
        if self._last_headers is None:
            return None
        # Parsing is deferred to here: most responses are never looked at again.
        return parse_rate_limits(self._last_headers, now_wall=self._last_wall)

    def observe(self, pool: Pool, headers: Mapping[str, str], status: int) -> None:
        """Let the server's rate-limit headers correct (or teach) ``pool``'s buckets."""
        self.statuses[status] += 1
        self._last_headers, self._last_wall = headers, wall_time()
        counts = enforced_counts(headers)  # transports lower-case
        window: float | None = None
        if self._learn_limits and any(limit is not None for _, limit, _ in counts):
            pool.window.observe(headers)
            window = pool.window.window_s(pool.buckets.limits.window_s)
        known = pool.buckets.statistics().buckets if window is not None else {}
        for dim, limit, remaining in counts:
            if remaining is None:
                continue
            slack = 0.0 if dim == "requests" else _TOKEN_ROUNDING
            if window is not None and limit is not None:
                # A new bucket starts at the low end of the rounding: it must not promise
                # what the server may not have. Later answers correct it from above.
                start = remaining + slack if dim in known else max(0.0, remaining - slack)
                pool.buckets.learn(dim, limit, start, window_s=window)
            pool.buckets.clamp(dim, remaining + slack)
        end_probe(pool)


def end_probe(pool: Pool) -> None:
    """After the pool's first answer (or failure), lift its one-request probe."""
    if pool.probing:
        pool.probing = False
        pool.buckets.on_change()  # the line was held to one request: wake it
