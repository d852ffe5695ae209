"""One OS process of the ``distributed`` benchmark: its share of the work through one Flow.

``python -m claudeflow.bench._worker`` reads a :class:`WorkerPlan` as one JSON line on
stdin, opens its Flow (with a ``RedisBackend`` when the plan names one), warms the token
counter, prints ``ready``, and waits for ``go <epoch>``: every process of a run starts
driving at the same wall-clock instant. It prints one JSON line of :class:`WorkerReport`
and exits. The API key arrives on stdin, never on the command line (``ps`` shows that).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from .._clock import LoopClock
from ..limiter import Backend
from ..tokens import count_text
from ._client_flow import flow_client
from ._drive import drive
from ._record import Outcome
from ._scenario import Limits
from ._target import Target
from ._workload import WorkItem

__all__ = ["WorkerPlan", "WorkerReport", "main"]

OnFailure = Literal["fail", "degrade"]
READY = "ready"
_PLAN_LIMIT = 1 << 28  # the plan is one line holding every prompt: megabytes
GO = "go"


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What one process sends, where, under which limits, and through which backend.

    :ivar target: the server, key, model, this process's limits and concurrency
    :ivar redis_url: share the limits through Redis (``None``: this process alone)
    :ivar timeout_s: the driver stops the run after this long
    """

    target: Target
    items: tuple[WorkItem, ...]
    timeout_s: float
    redis_url: str | None = None
    on_failure: OnFailure = "fail"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerPlan:
        data: dict[str, Any] = json.loads(text)
        target = data["target"]
        limits = Limits(**target.pop("limits"))
        models = tuple(target.pop("models"))  # JSON has lists, the dataclass tuples
        data["target"] = Target(**target, limits=limits, models=models)
        data["items"] = tuple(WorkItem(**item) for item in data["items"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """What one process saw: every item's outcome and the backend's mode changes.

    :ivar outcomes: ``(index, ok, error, queue_wait_s, finished_s)`` per item, times in
        seconds since the shared start
    :ivar modes: the Redis backend's WARNING lines (one per mode change), in order
    """

    outcomes: tuple[tuple[int, bool, str | None, float | None, float | None], ...]
    timed_out: bool
    modes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerReport:
        data = json.loads(text)
        outcomes = tuple(tuple(o) for o in data["outcomes"])
        return cls(outcomes, data["timed_out"], tuple(data["modes"]))


class _Modes(logging.Handler):
    """Collects the backend's mode-change lines (they name the URL, never a password)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def run_worker(plan: WorkerPlan, lines: asyncio.StreamReader) -> WorkerReport:
    """Open the Flow, say ``ready``, wait for ``go``, drive the items, report."""
    modes = _Modes()
    redis_log = logging.getLogger("claudeflow.limiter.redis")
    redis_log.addHandler(modes)
    redis_log.setLevel(logging.WARNING)
    redis_log.propagate = False
    # One WARNING per 429 pause is counted by the server; the lines would only fill a pipe.
    logging.getLogger("claudeflow").setLevel(logging.ERROR)
    count_text("warm up the token counter")  # loaded once per process; not a run's cost
    async with flow_client(plan.target, backend=_backend(plan)) as send:
        print(READY, flush=True)
        command = (await lines.readline()).decode().split()
        if command[:1] != [GO]:
            raise SystemExit(f"expected '{GO} <epoch>', got {command!r}")
        clock = LoopClock()
        await clock.sleep(max(0.0, float(command[1]) - time.time()))  # the shared start
        result = await drive(plan.items, send, clock=clock, timeout_s=plan.timeout_s)
    rows = tuple(_row(o) for o in result.outcomes)
    return WorkerReport(rows, result.timed_out, tuple(modes.lines))


def _backend(plan: WorkerPlan) -> Backend | None:
    if plan.redis_url is None:
        return None
    from ..limiter import RedisBackend  # needs the redis extra only when used

    return RedisBackend(plan.redis_url, on_failure=plan.on_failure)


def _row(outcome: Outcome) -> tuple[int, bool, str | None, float | None, float | None]:
    delivery = outcome.delivery
    error = None if delivery is None else delivery.error
    wait = None if delivery is None else delivery.queue_wait_s
    return (outcome.index, outcome.ok, error, wait, outcome.finished_s)


async def _main() -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_PLAN_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    plan = WorkerPlan.from_json((await reader.readline()).decode())
    report = await run_worker(plan, reader)
    print(report.to_json(), flush=True)
    return 0


def main() -> int:
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
