"""A virtual clock for exact, sleep-free tests of time-dependent logic."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

__all__ = ["FakeClock"]

# Rounds of ``asyncio.sleep(0)`` after each wake-up, so that woken tasks (and the tasks
# they wake in turn) run before time moves on.
_SETTLE_ROUNDS = 20


class FakeClock:
    """A :class:`claudeflow.Clock` whose time moves only when a test says so.

    Time starts at ``start`` and advances through :meth:`advance` (or :meth:`run_until`).
    Sleepers wake in deadline order, each at its exact deadline, so assertions can be
    exact: "at t=1.0 two requests had started".

    >>> clock = FakeClock()
    >>> clock.now()
    0.0
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future  # a cancelled sleeper stays in the heap and is skipped when popped

    def call_later(self, seconds: float, callback: Callable[[], object]) -> asyncio.Future[None]:
        """Run ``callback`` when virtual time reaches ``now + seconds``; cancel the result
        to disarm it."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: None if f.cancelled() else callback())
        heapq.heappush(self._sleepers, (self._now + max(0.0, seconds), next(self._seq), future))
        return future

    @property
    def pending(self) -> int:
        """Number of live sleepers (useful to assert that nothing polls)."""
        return sum(1 for _, _, fut in self._sleepers if not fut.done())

    def next_deadline(self) -> float | None:
        """The earliest live sleeper's deadline, or ``None`` when nobody sleeps."""
        self._drop_done()
        return self._sleepers[0][0] if self._sleepers else None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, waking every sleeper due on the way."""
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        await self.run_until(self._now + seconds)

    async def run_until(self, when: float) -> None:
        """Move time forward to ``when``, waking sleepers in deadline order."""
        await settle()
        while True:
            self._drop_done()
            if not self._sleepers or self._sleepers[0][0] > when:
                break
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            future.set_result(None)
            await settle()
        self._now = max(self._now, when)
        await settle()

    async def run_until_idle(self, limit: float = 1e9) -> None:
        """Jump from deadline to deadline until nobody sleeps (or ``limit`` is reached)."""
        await settle()
        while (deadline := self.next_deadline()) is not None and deadline <= limit:
            await self.run_until(deadline)

    def _drop_done(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r}, pending={self.pending})"


async def settle(rounds: int = _SETTLE_ROUNDS) -> None:
    """Let ready tasks run: ``rounds`` passes of the event loop without moving time."""
    for _ in range(rounds):
        await asyncio.sleep(0)
