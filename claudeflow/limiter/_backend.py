"""The admission seam: where one pool's bucket state lives, and the questions it answers.

A *pool* is one set of buckets (requests, input tokens, output tokens per minute) that the
API enforces together: one model class on one API key. The scheduler keeps one waiting line
per pool and asks the pool's :class:`PoolBuckets` to reserve all-or-nothing; it never knows
whether the state is in this process (:class:`~claudeflow.limiter.MemoryBackend`, the
default) or shared by many processes (:class:`~claudeflow.limiter.RedisBackend`).

Why ``reserve`` is async and everything else is not: reserving is a question whose answer
decides what happens next, so a remote backend must ask its server. Giving back, clamping,
learning and pausing are corrections that must never be lost to a cancellation halfway
through, so they are synchronous: a remote backend applies them locally at once and sends
them to its server in the background (exactly once per call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .._clock import Clock
from .._config import RateLimits
from .._types import Cost

__all__ = ["Backend", "BucketState", "PoolBuckets", "PoolStatistics"]


@dataclass(frozen=True, slots=True)
class BucketState:
    """A snapshot of one bucket for ``stats()``; ``learned`` when taken from server headers."""

    level: float
    capacity: float
    rate_per_s: float
    learned: bool = False


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """What a pool's buckets look like now (``buckets`` holds only limited dimensions)."""

    name: str
    buckets: dict[str, BucketState] = field(default_factory=dict)
    paused_for_s: float = 0.0
    paused_reason: str = ""
    backend: str = "memory"
    mode: str = "local"  # a shared backend: "shared", "degraded" (local share) or "failed"
    learning: bool = False  # limits not known yet: the pool sends one request at a time
    overloaded: bool = False  # a 529 tripped the pool's gate: probing until one succeeds


class PoolBuckets(Protocol):
    """One pool's buckets, whichever backend holds them.

    Every operation covers all dimensions at once. Dimension names are ``"requests"``,
    ``"input_tokens"`` and ``"output_tokens"``.
    """

    #: Called (synchronously) whenever capacity may exist sooner than the last answer said:
    #: a give-back, a learned limit, a lifted pause, or (shared backends) a release elsewhere.
    on_change: Callable[[], None]

    def check_fits(self, cost: Cost) -> None:
        """Raise :class:`~claudeflow.CapacityError` if ``cost`` can never be taken at once."""
        ...

    async def reserve(self, cost: Cost, *, priority: int) -> float:
        """Take ``cost`` from every bucket if all can pay now, and return ``0.0``.

        Otherwise take nothing and return the seconds until all could (``inf``: not before
        a change; wait for :attr:`on_change`). ``priority`` is the class of the request; a
        shared backend uses it so that no process takes capacity a more urgent waiting head
        elsewhere is accumulating.
        """
        ...

    def give_back(self, amount: Cost) -> None:
        """Credit ``amount`` (a reservation's unused part); negative fields debit (debt)."""
        ...

    def clamp(self, dim: str, remaining: float) -> None:
        """Lower a bucket to the server's ``remaining`` if it is above it."""
        ...

    def learn(
        self, dim: str, limit: float, remaining: float, *, window_s: float | None = None
    ) -> None:
        """Adopt the server's per-minute ``limit`` for a dimension that was not configured.

        ``window_s`` is the server's window when it was measured (a time-scaled server);
        ``None`` keeps the pool's configured one.
        """
        ...

    def pause(self, seconds: float, reason: str) -> None:
        """Reserve nothing for ``seconds`` (the server's ``retry-after`` on a 429)."""
        ...

    def waiting(self, priority: int | None) -> None:
        """The class of this process's waiting head in this pool (``None``: nobody waits)."""
        ...

    def sent(self) -> int | None:
        """A request of this pool leaves now; the token goes to :meth:`answered`."""
        ...

    def answered(self, token: int | None) -> None:
        """Its response headers are back (or it ended without them)."""
        ...

    def withdrawn(self) -> None:
        """A request taken from these buckets will not be sent (it is given back whole)."""
        ...

    def early_headers(self) -> bool:
        """Whether the request just sent should stream, so that its headers come back
        before its generation: the pool is timing how long a burst takes to arrive."""
        ...

    @property
    def limits(self) -> RateLimits:
        """The pool's configured limits (``RateLimits()`` when none were given)."""
        ...

    def statistics(self) -> PoolStatistics: ...


class Backend(Protocol):
    """Makes the :class:`PoolBuckets` of a Flow's pools and owns their connections."""

    def pool(self, name: str, limits: RateLimits | None, *, clock: Clock) -> PoolBuckets:
        """The buckets of pool ``name`` (the same name in two processes: the same state)."""
        ...

    async def start(self) -> None:
        """Connect (called when the Flow starts, in its event loop)."""
        ...

    async def aclose(self) -> None:
        """Flush what is pending and disconnect; safe to call twice."""
        ...
