"""One submitted request on its way through the Flow."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._clock import TimerHandle
from .._types import Cost

if TYPE_CHECKING:
    from ._stream import FlowStream

__all__ = ["Job"]


@dataclass(eq=False, slots=True)
class Job:
    """A request plus everything the scheduler learns about it while it waits and runs.

    ``key`` is assigned the first time the job is queued and never changes, so a retry
    re-enters the line at its original place. ``deadline`` is the latest clock time at
    which the first attempt may start (``None``: no limit).
    """

    body: dict[str, Any]
    extra_headers: dict[str, str] | None = field(repr=False)  # lower-case, no credentials
    model: str
    model_class: str  # the pool of the model: its line, and its buckets on each key
    priority: int
    cost: Cost
    estimate: int | None  # counted input tokens (None: not yet; ``cost`` holds a lower bound)
    costly_count: bool  # not counted yet, and counting costs more than a pass of the loop
    worst_usd: float  # the price if the reservation is used in full (budget charge)
    future: asyncio.Future[Any]
    submitted_at: float
    deadline: float | None = None
    timeout: float | None = None  # per attempt or stream read (inf: none; None: default)
    key: tuple[float, int] | None = None
    queued: bool = False
    attempts: int = 0
    queued_since: float = 0.0
    queue_wait_s: float = 0.0
    retry_wait_s: float = 0.0
    overloaded_since: float | None = None  # its first 529 (the gate paces the rest)
    overloaded_attempts: int = 0  # attempts that met a 529: counted in time, not number
    task: asyncio.Task[None] | None = field(default=None, repr=False)
    timer: TimerHandle | None = field(default=None, repr=False)
    channel: FlowStream | None = field(default=None, repr=False)  # set for streamed jobs
    queue_timeout: float | None = None  # kept for a fallback model's fresh deadline
    fallbacks: tuple[str, ...] = ()  # models still to try, in order (shared, never mutated)
    tried: tuple[str, ...] = ()  # models tried so far (the last one serves)
    arm: str | None = None  # the split this request's model was drawn from

    @property
    def done(self) -> bool:
        return self.future.done()
