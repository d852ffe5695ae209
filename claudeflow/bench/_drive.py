"""The load driver: submit work items at their arrival times, bounded in count and time.

Every item is submitted exactly once, as its own task, at ``start + arrival_s``. The run
ends when every task has finished or when ``timeout_s`` has passed; tasks still running
then are cancelled and recorded as unfinished (never silently dropped).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .._clock import Clock
from ._record import Delivery, Outcome, Send
from ._workload import WorkItem

__all__ = ["DriveResult", "drive"]

_TICK_S = 0.25


@dataclass(frozen=True, slots=True)
class DriveResult:
    """The outcomes (in item order), the run's wall time and whether it timed out.

    ``wall_s`` runs from the start to the last request's end (or the time limit).
    """

    outcomes: tuple[Outcome, ...]
    wall_s: float
    timed_out: bool


async def drive(
    items: Sequence[WorkItem],
    send: Send,
    *,
    clock: Clock,
    timeout_s: float,
    on_tick: Callable[[int, float], None] | None = None,
) -> DriveResult:
    """Run ``items`` through ``send``; ``on_tick(done, elapsed)`` reports progress."""
    run = _Run(items, send, clock)
    ticker = asyncio.create_task(run.tick(on_tick)) if on_tick is not None else None
    try:
        async with asyncio.timeout(timeout_s):
            await run.feed()
            await run.wait()
    except TimeoutError:
        await run.cancel()
    finally:
        if ticker is not None:
            ticker.cancel()
    return run.result(timeout_s)


class _Run:
    def __init__(self, items: Sequence[WorkItem], send: Send, clock: Clock) -> None:
        self._items = items
        self._send = send
        self._clock = clock
        self._start = clock.now()
        self._outcomes: list[Outcome | None] = [None] * len(items)
        self._submitted: list[float] = [math.nan] * len(items)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_end = 0.0
        self.done = 0
        self.timed_out = False

    async def feed(self) -> None:
        for position, item in enumerate(self._items):
            wait = self._start + item.arrival_s - self._clock.now()
            if wait > 0:
                await self._clock.sleep(wait)
            task = asyncio.create_task(self._one(position, item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def cancel(self) -> None:
        self.timed_out = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tick(self, on_tick: Callable[[int, float], None]) -> None:
        while True:
            on_tick(self.done, self._clock.now() - self._start)
            await self._clock.sleep(_TICK_S)

    async def _one(self, position: int, item: WorkItem) -> None:
        submitted = self._clock.now() - self._start
        self._submitted[position] = submitted
        try:
            delivery = await self._send(item)
        except Exception as exc:  # a client bug must still leave exactly one outcome
            delivery = Delivery(ok=False, error=f"{type(exc).__name__} (client bug)")
        finished = self._clock.now() - self._start
        self._last_end = max(self._last_end, finished)
        self._outcomes[position] = _outcome(item, submitted, finished, delivery)
        self.done += 1

    def result(self, timeout_s: float) -> DriveResult:
        outcomes = tuple(
            found if found is not None else _outcome(item, self._submitted[n], None, None)
            for n, (item, found) in enumerate(zip(self._items, self._outcomes, strict=True))
        )
        wall = timeout_s if self.timed_out else self._last_end
        return DriveResult(outcomes, wall, self.timed_out)


def _outcome(
    item: WorkItem, submitted: float, finished: float | None, delivery: Delivery | None
) -> Outcome:
    return Outcome(
        index=item.index,
        priority=item.priority,
        tag=item.tag,
        input_tokens=item.input_tokens,
        submitted_s=submitted,
        finished_s=finished,
        delivery=delivery,
    )
