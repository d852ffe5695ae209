"""How far the server's buckets may run behind ours: the lead a pool keeps in hand.

A request leaves our bucket when it is taken and the server's when it arrives. That
delay alone costs nothing: the server's bucket simply drains later. What costs is
refill the server loses while its bucket sits full and ours does not, because our
requests are still on their way: ours refills from the take, the server's only once
something arrives. If the server was last full at instant ``u``, its bucket runs behind
ours by at most the refill of ``u`` minus the take of the oldest request in flight then.
That is what ``RateLimits.lead_s`` keeps in hand, bounded here for the requests and
input buckets from what the pool sees:

- a request is in flight from its take until its response headers (it has arrived by
  then), so the oldest one still out bounds the age at any instant;
- a response's ``remaining`` says the server's bucket was not full when it arrived, nor
  until it could have refilled the gap: ``(capacity - remaining) / rate`` after the
  take at the latest, since it arrived after its take. Inside such a span the server
  cannot have been full, and nothing accrues.

So the bound is the largest age of the oldest request in flight at any instant no
response covered, since the pool was last surely full (ours full, nothing in flight,
for as long as the bound: by then the server has caught up). At the start of a burst
from full it is the time to the first headers, not the longest transit of the burst.
Until the first answer nothing is known, and the configured ``lead_s`` is kept.

The span a response covers is computed with our bucket's capacity and rate: it assumes
the server's bucket takes at least as long to fill as ours. A server that enforces its
limits over shorter windows than ``burst x window_s`` refuses our first full burst
anyway (lower ``burst`` then); a bound that is too short costs at most the margin the
configured ``lead_s`` would have kept. An attempt that ends without headers (a timeout,
a cut connection) leaves the count at its end; should it still reach the server after
that, the age it adds is not seen.

Output tokens keep the whole lead: a server that reserves ``max_tokens`` refunds the
unused part when a reply ends, and a refund into its full bucket is lost there while
ours, lower by the requests still on their way, keeps it. That lag is an amount, not a
time any transit bounds.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["Transit"]

_DIMENSIONS = 2  # requests and input tokens (Cost field order); output: see above


class Transit:
    """Takes, sends and headers of one pool's requests, as a bound on the requests and
    input buckets' lag."""

    __slots__ = (
        "_answered",
        "_bounds",
        "_covered",
        "_full_since",
        "_last_start",
        "_next",
        "_pending",
        "_unsent",
    )

    def __init__(self) -> None:
        self._unsent: deque[float] = deque()  # takes not yet sent, oldest first
        self._pending: dict[int, float] = {}  # token -> its take, while no headers
        self._next = 0
        self._last_start = 0.0  # the take of the request answered last
        self._start_over()

    def _start_over(self) -> None:
        """Nothing known: the state at first, and once the server has surely caught up."""
        self._answered = False  # any headers since the pool was last surely full
        self._bounds = [0.0] * _DIMENSIONS
        self._covered = [-math.inf] * _DIMENSIONS  # the server not full before this
        self._full_since: float | None = None

    def taken(self, at: float) -> None:
        """A request was taken from the buckets at ``at`` (it is sent soon after)."""
        self._accrue(at)
        self._unsent.append(at)
        self._full_since = None

    def withdrawn(self) -> None:
        """A request taken will not be sent after all (it was given back whole)."""
        # The newest: any of the unsent would do, and the older starts that stay only
        # lengthen the bound.
        if self._unsent:
            self._unsent.pop()

    def sent(self, at: float) -> int:
        """A request leaves at ``at``; the token is for :meth:`answered`."""
        self._accrue(at)
        # Its take, if the pool saw one (sends follow takes in order); a take given back
        # unsent leaves an older instant here, which only lengthens the bound.
        start = self._unsent.popleft() if self._unsent else at
        token = self._next
        self._next += 1
        self._pending[token] = start
        return token

    def answered(self, token: int, at: float) -> None:
        """Its headers came back at ``at`` (or it ended without any: the same bound)."""
        if token not in self._pending:
            return  # the headers already counted; this is the attempt's end
        self._accrue(at)  # while it was still out: its own age counts
        self._last_start = self._pending.pop(token)
        self._answered = True

    def wants_early_headers(self) -> bool:
        """Whether a request just sent should stream: nothing has answered since the pool
        was last surely full, and others are out with it (a burst, whose lead the first
        headers set; a request alone gains nothing from being timed)."""
        return not self._answered and len(self._pending) + len(self._unsent) > 1

    def covered(self, dimension: int, gap_s: float) -> None:
        """The answer just given said bucket ``dimension`` was ``gap_s`` of refill short
        of full when the request arrived: the server was not full before its take plus
        ``gap_s``."""
        until = self._last_start + gap_s
        if until > self._covered[dimension]:
            self._covered[dimension] = until

    def bounds(self, now: float, *, full: bool, most: float) -> tuple[float, float] | None:
        """The requests and input buckets' lags to allow for (``None``: nothing answered;
        assume the worst).

        ``full``: whether every one of the pool's buckets is full at ``now``; ``most``:
        the longest lag the pool allows for (its ``lead_s``), whatever the bound.
        """
        self._accrue(now)
        self._forget_if_caught_up(now, full, most)
        if not self._answered:
            return None
        requests, input_tokens = self._bounds
        return (requests, input_tokens)

    def _accrue(self, now: float) -> None:
        """Lag the server may have built up by ``now`` (the age of the oldest still out,
        in every bucket no answer covers)."""
        oldest = self._oldest()
        if oldest is None:
            return
        age = now - oldest
        bounds, covered = self._bounds, self._covered
        for dim in range(_DIMENSIONS):
            if covered[dim] < now and age > bounds[dim]:
                bounds[dim] = age

    def _oldest(self) -> float | None:
        # Both kept in take order: the first of each is its oldest.
        pending = next(iter(self._pending.values()), None)
        unsent = self._unsent[0] if self._unsent else None
        if pending is None or unsent is None:
            return unsent if pending is None else pending
        return min(pending, unsent)

    def _forget_if_caught_up(self, now: float, full: bool, most: float) -> None:
        """Ours full with nothing out for as long as the lag: the server is full too."""
        if not full or self._pending or self._unsent:
            self._full_since = None
            return
        if self._full_since is None:
            self._full_since = now
        if now - self._full_since >= min(max(self._bounds), most):
            self._start_over()

    def __repr__(self) -> str:
        return f"Transit(bounds={self._bounds!r}, pending={len(self._pending)})"
