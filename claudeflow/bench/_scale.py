"""Scale: 100,000 queued requests. Memory per queued request, and enqueue/dispatch cost.

The Flow sends through a :class:`~claudeflow.transport.MockTransport` whose handler
waits on a gate, with ``concurrency=1``: the first request is admitted and blocks, so
every other one stays queued exactly as it would behind a real rate limit, with no
network or server in the measurement.

- Memory: payloads are built first; tracemalloc then counts every byte allocated while
  the requests are submitted and queued (the Job, its future, the caller's task and
  coroutine, the heap entry, copies of headers and body). The same count for tasks that
  merely await a bare future is the asyncio floor any awaiting caller pays; claudeflow's
  own share is the difference.
- Enqueue: submissions in equal batches, microseconds per request at growing depth.
- Dispatch: with the gate open, microseconds per completed request near full depth and
  at a shallow depth, to show whether the line slows down as it grows.
"""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

from .._clock import LoopClock
from ..scheduler import Flow, QueuePolicy
from ..transport import ApiResponse, MockRequest, MockTransport
from ._progress import Progress

__all__ = ["ScaleConfig", "ScaleResult", "run_scale"]

_CLOCK = LoopClock()
_REPLY = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
).encode()
_WAIT_LIMIT_S = 300.0  # a stuck submission must not hang the suite
_CLOSE_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """``queued`` requests in ``steps`` enqueue batches; dispatch timed over ``dispatch``."""

    queued: int = 100_000
    steps: int = 10
    dispatch: int = 5_000
    shallow: int = 1_000

    def scaled(self, factor: float) -> ScaleConfig:
        queued = max(200, round(self.queued * factor))
        return ScaleConfig(
            queued=queued,
            steps=self.steps,
            dispatch=min(self.dispatch, queued // 4),
            shallow=min(self.shallow, queued // 4),
        )


@dataclass(frozen=True, slots=True)
class ScaleResult:
    config: ScaleConfig
    bytes_per_request: float
    asyncio_floor_bytes: float
    claudeflow_bytes_per_request: float
    enqueue_us: tuple[tuple[int, float], ...]  # (depth before the batch, µs per request)
    dispatch_deep_us: float
    dispatch_shallow_us: float

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["enqueue_us"] = [{"depth": d, "us_per_request": us} for d, us in self.enqueue_us]
        return data


def _bodies(n: int) -> list[dict[str, Any]]:
    return [
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": f"queued request {i}"}],
        }
        for i in range(n)
    ]


class _Gate:
    """The transport's handler: holds every request until opened."""

    def __init__(self) -> None:
        self.open = asyncio.Event()

    async def __call__(self, request: MockRequest) -> ApiResponse:
        await self.open.wait()
        return ApiResponse(200, {"content-type": "application/json"}, _REPLY)


def _flow(gate: _Gate) -> Flow:
    return Flow(
        api_key="sk-bench",
        limits=None,
        learn_limits=False,
        concurrency=1,
        queue=QueuePolicy(max_size=None),
        transport=MockTransport(gate),
    )


async def _until(condition: Any) -> None:
    """Yield to the loop until ``condition()`` holds (each pass lets every ready task run)."""
    deadline = _CLOCK.now() + _WAIT_LIMIT_S
    while not condition():
        if _CLOCK.now() > deadline:
            raise TimeoutError("scale benchmark: submissions did not settle in time")
        await _CLOCK.sleep(0)


def _queued(flow: Flow, n: int) -> Callable[[], bool]:
    """A condition: at least ``n`` requests wait in ``flow``'s line."""
    return lambda: flow.stats().queued >= n


def _spawn(coros: list[Coroutine[Any, Any, Any]]) -> list[asyncio.Task[Any]]:
    return [asyncio.create_task(c) for c in coros]


async def _finish(flow: Flow, tasks: list[asyncio.Task[Any]]) -> None:
    """Close the Flow, cancelling what is left, and end every caller task.

    The callers are cancelled too, after a bounded wait: ``aclose(cancel=True)`` while
    requests are being dispatched can leave a just-admitted request's ``create()``
    pending forever (a claudeflow scheduler bug, reported with the results), and a
    benchmark must not hang on it.
    """
    await flow.aclose(cancel=True)
    _, pending = await asyncio.wait(tasks, timeout=_CLOSE_WAIT_S) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _traced_bytes(make: Any, settle: Any) -> int:
    """Bytes allocated (and still held) between ``make()`` and ``settle()`` holding."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = make()
        await _until(settle)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return after - before


async def _asyncio_floor(n: int) -> float:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait() -> None:
        await future

    tasks: list[asyncio.Task[None]] = []

    def make() -> list[asyncio.Task[None]]:
        tasks.extend(_spawn([wait() for _ in range(n)]))
        return tasks

    measured = await _traced_bytes(make, lambda: True)
    await _CLOCK.sleep(0)
    future.set_result(None)
    await asyncio.gather(*tasks)
    return measured / n


async def _memory(config: ScaleConfig) -> float:
    bodies = _bodies(config.queued)
    gate = _Gate()
    tasks: list[asyncio.Task[Any]] = []
    async with _flow(gate) as flow:

        def make() -> list[asyncio.Task[Any]]:
            tasks.extend(_spawn([flow.create(**body) for body in bodies]))
            return tasks

        measured = await _traced_bytes(make, _queued(flow, config.queued - 1))
        await _finish(flow, tasks)
    return measured / config.queued


async def _timing(config: ScaleConfig) -> tuple[list[tuple[int, float]], float]:
    bodies = _bodies(config.queued)
    gate = _Gate()
    flow = _flow(gate)
    await flow.start()
    tasks: list[asyncio.Task[Any]] = []
    enqueue: list[tuple[int, float]] = []
    size = max(1, config.queued // config.steps)
    for start in range(0, config.queued, size):
        batch = bodies[start : start + size]
        depth = flow.stats().queued
        began = _CLOCK.now()
        tasks.extend(_spawn([flow.create(**body) for body in batch]))
        await _until(_queued(flow, start + len(batch) - 1))
        enqueue.append((depth, round(1e6 * (_CLOCK.now() - began) / len(batch), 2)))
    deep = await _dispatch(gate, tasks, config.dispatch)
    await _finish(flow, tasks)
    return enqueue, deep


async def _dispatch(gate: _Gate, tasks: list[asyncio.Task[Any]], count: int) -> float:
    """µs per request for the first ``count`` completions once the gate opens."""
    done = 0
    reached = asyncio.Event()

    def finished(_: asyncio.Task[Any]) -> None:
        nonlocal done
        done += 1
        if done >= count:
            reached.set()

    for task in tasks:
        task.add_done_callback(finished)
    began = _CLOCK.now()
    gate.open.set()
    async with asyncio.timeout(_WAIT_LIMIT_S):
        await reached.wait()
    return round(1e6 * (_CLOCK.now() - began) / count, 2)


async def _shallow_dispatch(config: ScaleConfig) -> float:
    gate = _Gate()
    flow = _flow(gate)
    await flow.start()
    tasks = _spawn([flow.create(**body) for body in _bodies(config.shallow)])
    await _until(_queued(flow, config.shallow - 1))
    result = await _dispatch(gate, tasks, config.shallow)
    await _finish(flow, tasks)
    return result


async def run_scale(config: ScaleConfig, progress: Progress) -> ScaleResult:
    progress.begin(f"scale · {config.queued:,} queued requests", 4)
    floor = await _asyncio_floor(config.queued)
    progress.tick(1, 0.0)
    per_request = await _memory(config)
    progress.tick(2, 0.0)
    enqueue, deep = await _timing(config)
    progress.tick(3, 0.0)
    shallow = await _shallow_dispatch(config)
    result = ScaleResult(
        config=config,
        bytes_per_request=round(per_request, 1),
        asyncio_floor_bytes=round(floor, 1),
        claudeflow_bytes_per_request=round(per_request - floor, 1),
        enqueue_us=tuple(enqueue),
        dispatch_deep_us=deep,
        dispatch_shallow_us=shallow,
    )
    progress.end(
        f"{result.bytes_per_request:.0f} B/request ({result.claudeflow_bytes_per_request:.0f} B "
        f"beyond an awaiting task); enqueue {enqueue[0][1]:.0f}->{enqueue[-1][1]:.0f} µs; "
        f"dispatch {shallow:.0f} µs shallow, {deep:.0f} µs deep"
    )
    return result
