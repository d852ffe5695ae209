"""Server counters sampled during a run: the time series behind the throughput plots."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .._clock import Clock
from ._server import Counters

__all__ = ["Sample", "Sampler"]

_MAX_SAMPLES = 20_000  # bounded however long a run lasts (~30 min at the default period)


@dataclass(frozen=True, slots=True)
class Sample:
    """Cumulative server counters ``t`` seconds after the run started."""

    t: float
    requests: int
    input_tokens: int
    output_tokens: int
    rate_limited: int


class Sampler:
    """Reads the server's counters every ``period_s`` while the block runs.

    ``base`` is the reading taken on entry; samples are counted from it.

    >>> async with Sampler(server.counters, clock) as sampler:  # doctest: +SKIP
    ...     await run()
    >>> sampler.samples  # doctest: +SKIP
    """

    def __init__(
        self,
        read: Callable[[], Awaitable[Counters | None]],
        clock: Clock,
        *,
        period_s: float = 0.1,
    ) -> None:
        self._read = read
        self._clock = clock
        self._period_s = period_s
        self.base: Counters | None = None
        self._start = 0.0
        self._task: asyncio.Task[None] | None = None
        self.samples: list[Sample] = []

    async def __aenter__(self) -> Sampler:
        self.base = await self._read()
        self._start = self._clock.now()
        if self.base is not None:
            self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            await self._take()  # the final point, so the series ends with the run

    async def _loop(self) -> None:
        while len(self.samples) < _MAX_SAMPLES:
            await self._take()
            await self._clock.sleep(self._period_s)

    async def _take(self) -> None:
        now = await self._read()
        if now is None or self.base is None:
            return
        delta = now.minus(self.base)
        self.samples.append(
            Sample(
                t=round(self._clock.now() - self._start, 4),
                requests=delta.admitted,
                input_tokens=delta.input_tokens,
                output_tokens=delta.output_tokens,
                rate_limited=delta.rate_limited,
            )
        )
