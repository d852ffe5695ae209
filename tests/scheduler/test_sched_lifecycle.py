"""Closing, cancelling a close, and a crashed dispatcher: nobody hangs, nothing is left."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sched_helpers import body, make_flow, ok

from claudeflow import Cost, FlowClosedError, RateLimits, SpendPolicy
from claudeflow.limiter import MemoryBackend, MemoryPool
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest


def slow(clock: FakeClock) -> Any:
    async def handler(request: MockRequest) -> ApiResponse:
        await clock.sleep(10.0)
        return ok(request)

    return handler


async def test_a_cancelled_drain_still_closes_everything(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, slow(clock), concurrency=4)
    await flow.start()
    callers = [asyncio.create_task(flow.create(**body(f"r{i}"))) for i in range(20)]
    await clock.advance(1)
    closing = asyncio.create_task(flow.aclose())
    await clock.advance(1)
    closing.cancel()  # a shutdown timeout does exactly this
    with pytest.raises(asyncio.CancelledError):
        await closing
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, FlowClosedError) for o in outcomes)
    assert repr(flow).endswith("state='closed')")
    assert flow.stats().in_flight == 0
    assert transport.closed is False  # a transport passed in belongs to the caller
    await flow.aclose(cancel=True)  # safe to repeat
    await flow.aclose()
    stats = flow.stats()
    assert stats.submitted == stats.completed + stats.failed + stats.cancelled == 20


async def test_aclose_cancel_after_a_cancelled_drain_returns_closed(clock: FakeClock) -> None:
    flow, _ = make_flow(clock, slow(clock), concurrency=2)
    await flow.start()
    callers = [asyncio.create_task(flow.create(**body(f"r{i}"))) for i in range(6)]
    await clock.advance(1)
    drain = asyncio.create_task(flow.aclose())
    await asyncio.sleep(0)
    await flow.aclose(cancel=True)  # while the drain is still waiting
    await asyncio.gather(drain, return_exceptions=True)
    outcomes = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(o, FlowClosedError) for o in outcomes)
    assert "state='closed'" in repr(flow)
    tasks = [t for t in asyncio.all_tasks() if t.get_name().startswith("claudeflow")]
    assert tasks == []


async def test_a_started_flow_can_be_closed_and_started_again(clock: FakeClock) -> None:
    flow, _ = make_flow(clock, ok)
    async with flow:
        assert (await flow.create(**body())).text == "hello"
    async with flow:
        assert (await flow.create(**body())).text == "hello"
    with pytest.raises(FlowClosedError, match="closed"):
        await flow.create(**body())


class _BrokenPool(MemoryPool):
    async def reserve(self, cost: Cost, *, priority: int) -> float:
        raise RuntimeError("a bug in admission")


class _BrokenBackend(MemoryBackend):
    def pool(self, name: str, limits: RateLimits | None, *, clock: Any) -> MemoryPool:
        return _BrokenPool(name, limits, clock=clock)


async def test_a_crashed_dispatcher_fails_every_caller_and_logs_it(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    flow, _ = make_flow(clock, ok, backend=_BrokenBackend())
    with caplog.at_level(logging.ERROR, logger="claudeflow"):
        await flow.start()
        callers = [asyncio.create_task(flow.create(**body(f"r{i}"))) for i in range(5)]
        await clock.advance(3600)  # an hour of virtual time: nobody may still wait
        done, pending = await asyncio.wait(callers, timeout=0)
    assert not pending
    for task in done:
        error = task.exception()
        assert isinstance(error, FlowClosedError) and "crashed" in str(error)
    assert any("dispatcher crashed" in r.getMessage() for r in caplog.records)
    with pytest.raises(FlowClosedError, match="crashed"):
        await flow.create(**body())
    await flow.aclose()


async def test_a_caller_cancelled_as_its_job_launches_leaves_no_count_behind(
    clock: FakeClock,
) -> None:
    # The caller's cancel is scheduled while create() queues the job; the lane then
    # launches it, and the cancel reaches the job's task before its first step, so no
    # attempt ever starts. The key's in-flight and request counts and the budget's
    # reservation all come back (before, the key kept 1 in flight and the budget held
    # the job's worst case for ever: a stale count keeps a probing pool from starting
    # again, and the lane's tail group from going).
    flow, transport = make_flow(clock, slow(clock), spend=SpendPolicy(budget_usd=10.0))
    async with flow:
        call = asyncio.ensure_future(flow.create(**body()))
        await asyncio.sleep(0)  # create() starts and queues the job
        call.cancel()
        await clock.run_until_idle()
        stats = flow.stats()
        (key,) = stats.keys.values()
        assert (stats.in_flight, key.in_flight, key.requests, stats.attempts) == (0, 0, 0, 0)
        assert stats.budget_reserved_usd == 0.0
        assert not transport.requests
    assert call.cancelled()
