"""Time, injected.

Every part of claudeflow that needs "now" or has to wait takes a :class:`Clock`.
Production code uses :class:`LoopClock` (the running loop's monotonic clock);
tests use :class:`claudeflow.testing.FakeClock` and run in virtual time.
This is the only module in the package that touches real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "LoopClock", "TimerHandle", "wall_time"]


class TimerHandle(Protocol):
    """What :meth:`Clock.call_later` returns: a timer that can be cancelled."""

    def cancel(self) -> object: ...


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time in seconds plus a way to wait on it."""

    def now(self) -> float:
        """Current monotonic time in seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time (returns at once for ``seconds <= 0``)."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` after ``seconds`` (in the running loop); cancel with the handle.

        Cheaper than a task around :meth:`sleep`: the scheduler arms one per wait.
        """
        ...


class LoopClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``.

    It reads ``time.monotonic`` rather than ``loop.time()`` so that it binds to no
    event loop: one instance works in every loop that uses it (principle 10).
    """

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)

    def __repr__(self) -> str:
        return "LoopClock()"


def wall_time() -> float:
    """Seconds since the Unix epoch, for timestamps shown to people and servers."""
    return time.time()
