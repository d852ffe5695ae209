"""The worker processes of the ``distributed`` benchmark: started, released together,
collected.

Each worker (:mod:`._worker`) reads its :class:`WorkerPlan` on stdin, says
:data:`READY` once its Flow is built, and starts sending at the wall-clock instant of
the ``GO`` line, so that every process starts at the same moment; its
:class:`WorkerReport` is the last line it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Final

from .._clock import LoopClock
from ..testing import RedisServer
from ._child import python_child
from ._worker import GO, READY, WorkerPlan, WorkerReport

__all__ = ["run_processes"]

_START_TIMEOUT_S: Final = 60.0
# Between the last READY and GO: time for the GO lines to reach every worker.
_GO_MARGIN_S: Final = 0.2


async def run_processes(
    plans: Sequence[WorkerPlan], outage: RedisServer | None, window: tuple[float, float]
) -> list[WorkerReport]:
    """Start every worker, start them together, take Redis away meanwhile if asked."""
    async with contextlib.AsyncExitStack() as stack:
        workers = [await stack.enter_async_context(_worker(plan)) for plan in plans]
        async with asyncio.timeout(_START_TIMEOUT_S):
            for worker in workers:
                await _expect_ready(worker)
        start = time.time() + _GO_MARGIN_S
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{GO} {start}\n".encode())
            await worker.stdin.drain()
        chaos = None if outage is None else asyncio.create_task(_outage(outage, start, window))
        limit = max(plan.timeout_s for plan in plans) + _START_TIMEOUT_S
        async with asyncio.timeout(limit):
            outputs = await asyncio.gather(*(w.communicate() for w in workers))
        if chaos is not None:
            await chaos
    return [_report(stdout, stderr) for stdout, stderr in outputs]


@asynccontextmanager
async def _worker(plan: WorkerPlan) -> AsyncIterator[asyncio.subprocess.Process]:
    module = "claudeflow.bench._worker"
    async with python_child(module, stdin=asyncio.subprocess.PIPE) as child:
        assert child.stdin is not None
        child.stdin.write(plan.to_json().encode() + b"\n")
        await child.stdin.drain()
        yield child


async def _expect_ready(child: asyncio.subprocess.Process) -> None:
    assert child.stdout is not None
    line = (await child.stdout.readline()).decode().strip()
    if line != READY:
        error = b"" if child.stderr is None else await child.stderr.read()
        raise RuntimeError(f"worker did not start ({line!r}): {error.decode()[-800:]}")


async def _outage(server: RedisServer, start: float, window: tuple[float, float]) -> None:
    # Wall time, not the loop's clock: the window is measured from the workers' GO instant.
    clock = LoopClock()
    await clock.sleep(max(0.0, start + window[0] - time.time()))
    await asyncio.to_thread(server.stop)
    await clock.sleep(max(0.0, start + window[1] - time.time()))
    await asyncio.to_thread(server.start)


def _report(stdout: bytes, stderr: bytes) -> WorkerReport:
    lines = stdout.decode().strip().splitlines()
    if not lines:
        raise RuntimeError(f"worker reported nothing: {stderr.decode()[-800:]}")
    return WorkerReport.from_json(lines[-1])
