"""How late the server's bucket may run behind ours: the lead a pool keeps in hand.

A request leaves our bucket when it is sent and the server's when it arrives. While
the server's bucket sits full and ours does not (our requests still on their way), the
server's refill is lost and ours is not; that gap is what ``RateLimits.lead_s`` keeps
in hand. It is at most the refill of the longest time one of our requests took to
arrive, and a request has certainly arrived by the time its response headers are back.
So, since the pool was last full: the longest send-to-headers time of any answered
request, or the age of one still waiting for its headers, whichever is longer; the
configured ``lead_s`` until the first answer, and never more than it.
"""

from __future__ import annotations

__all__ = ["Transit"]


class Transit:
    """Send and header instants of one pool's requests, as an upper bound on transit."""

    __slots__ = ("_longest", "_next", "_pending")

    def __init__(self) -> None:
        self._pending: dict[int, float] = {}  # token -> when it was sent
        self._longest: float | None = None  # None: nothing answered since the reset
        self._next = 0

    def sent(self, at: float) -> int:
        """A request left at ``at``; the token is for :meth:`answered`."""
        token = self._next
        self._next += 1
        self._pending[token] = at
        return token

    def answered(self, token: int, at: float) -> None:
        """Its headers came back at ``at`` (or it ended without any: the same bound)."""
        sent = self._pending.pop(token, None)
        if sent is not None:
            self._longest = max(self._longest or 0.0, at - sent)

    def bound(self, now: float) -> float | None:
        """The longest transit to allow for (``None``: none answered; assume the worst)."""
        if self._longest is None:
            return None
        # Sent in clock order and kept in insertion order: the first still out is the oldest.
        oldest = next(iter(self._pending.values()), now)
        return max(self._longest, now - oldest)

    def full(self) -> None:
        """The pool's buckets are full again: earlier transits no longer matter."""
        if not self._pending:
            self._longest = None

    def __repr__(self) -> str:
        return f"Transit(longest={self._longest!r}, pending={len(self._pending)})"
