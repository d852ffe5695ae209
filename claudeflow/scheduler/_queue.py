"""The waiting line: a priority heap with FIFO order inside a class and optional aging.

Keys are fixed when a job is first queued, so a retried job returns to its original
place in line. With aging, a job's key is ``enqueued_at + priority * aging_s``: a class
is worth ``aging_s`` seconds of waiting, so a low-priority job is overtaken only by
higher-priority jobs that arrived less than that many seconds after it, and no class
waits forever. Without aging the key is ``(priority, seq)``: strict classes.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from typing import Generic, Protocol, TypeVar

__all__ = ["Queueable", "WaitingLine"]


class Queueable(Protocol):
    priority: int
    key: tuple[float, int] | None
    queued: bool


J = TypeVar("J", bound=Queueable)


class WaitingLine(Generic[J]):
    """Priority heap of jobs. Removal from the middle is lazy: :meth:`discard` marks the
    job and the heap entry is dropped when it reaches the head."""

    def __init__(self, aging_s: float | None = None) -> None:
        self._aging_s = aging_s
        self._heap: list[tuple[float, int, J]] = []
        self._seq = itertools.count()
        self._by_class: Counter[int] = Counter()
        self._live = 0

    def push(self, job: J, now: float) -> None:
        """Queue ``job``; a job that was queued before keeps its original key."""
        # Only the first push sets the key: a retry is the same request and keeps its turn.
        if job.key is None:
            rank = float(job.priority)
            if self._aging_s is not None:
                rank = now + job.priority * self._aging_s
            # The sequence breaks ties in arrival order and keeps jobs out of comparisons.
            job.key = (rank, next(self._seq))
        heapq.heappush(self._heap, (job.key[0], job.key[1], job))
        job.queued = True
        self._by_class[job.priority] += 1
        self._live += 1

    def head(self) -> J | None:
        """The job that goes next, or ``None`` when the line is empty."""
        # Discarded entries are dropped only here: removal from a heap's middle is O(n).
        while self._heap and not self._heap[0][2].queued:
            heapq.heappop(self._heap)
        return self._heap[0][2] if self._heap else None

    def pop(self) -> J:
        """Remove and return the head (call :meth:`head` first)."""
        job = heapq.heappop(self._heap)[2]
        self.discard(job)
        return job

    def discard(self, job: J) -> None:
        """Take ``job`` out of the line wherever it is (no-op if it is not queued)."""
        if job.queued:
            job.queued = False
            self._by_class[job.priority] -= 1
            self._live -= 1

    def drain(self) -> list[J]:
        """Remove and return every queued job, in line order."""
        # Sorted by key only: in line order, which a heap's list is not.
        jobs = [entry[2] for entry in sorted(self._heap, key=lambda e: e[:2]) if entry[2].queued]
        for job in jobs:
            self.discard(job)
        self._heap.clear()
        return jobs

    def depth_by_class(self) -> dict[int, int]:
        return {p: n for p, n in sorted(self._by_class.items()) if n}

    def __len__(self) -> int:
        return self._live
