"""A 529 is one shared condition of the pool: pause, probe one at a time, release all."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from sched_helpers import body, error, make_flow, name_of, ok

from claudeflow import ConfigError, RateLimits
from claudeflow.retry import RetryPolicy
from claudeflow.retry._overload import OverloadGate
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest


async def test_an_overload_window_ends_and_the_whole_line_goes_at_once(clock: FakeClock) -> None:
    sent: list[tuple[str, float, int]] = []

    async def handler(request: MockRequest) -> ApiResponse:
        now = clock.now()
        await clock.sleep(0.5)
        if now < 3.0:  # overloaded for the first three seconds
            sent.append((name_of(request), now, 529))
            return error(529, "overloaded_error", "Overloaded")
        sent.append((name_of(request), now, 200))
        return ok(request)

    flow, _ = make_flow(clock, handler, concurrency=50)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body(f"r{i}"))) for i in range(30)]
        await clock.run_until(20)
        results = await asyncio.gather(*tasks)
    assert len(results) == 30
    successes = [t for _, t, status in sent if status == 200]
    first_ok = min(successes)
    # A probe sent just before 3 s fails 0.5 s later; the next goes within the 0.5 s cap.
    assert 3.0 <= first_ok <= 3.0 + 0.5 + 0.5
    # Everything else starts the instant the probe's answer arrives.
    assert sorted(set(successes)) == [first_ok, first_ok + 0.5]
    # After the first burst, only one request at a time was sent while overloaded.
    overloaded_after_burst = [t for _, t, status in sent if status == 529 and t > 0]
    assert len(overloaded_after_burst) == len(set(overloaded_after_burst)) <= 6


async def test_an_isolated_529_pauses_the_line_briefly(clock: FakeClock) -> None:
    starts: list[float] = []
    failed: list[bool] = []

    async def handler(request: MockRequest) -> ApiResponse:
        starts.append(clock.now())
        if not failed:
            failed.append(True)
            return error(529, "overloaded_error", "Overloaded")
        return ok(request)

    flow, _ = make_flow(clock, handler, limits=RateLimits(rpm=600), concurrency=1)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body(f"r{i}"))) for i in range(5)]
        await clock.run_until(5)
        results = await asyncio.gather(*tasks)
    assert [r.attempts for r in results] == [2, 1, 1, 1, 1]
    assert starts[1] - starts[0] <= 0.1  # one short pause, then the line runs
    assert starts[2:] == [starts[1]] * 4


def test_the_gate_counts_one_overload_once_and_bounds_the_pause() -> None:
    gate, rng = OverloadGate(), random.Random(1)
    first = gate.trip(0.0, rng, first=0.1, cap=0.5)
    assert 0.05 <= first <= 0.1  # jittered down to half, never up
    assert gate.trip(0.0, rng, first=0.1, cap=0.5) == first  # an echo, not a new failure
    pauses = [gate.trip(gate.resume_at, rng, first=0.1, cap=0.5) for _ in range(10)]
    assert max(pauses) <= 0.5 and pauses[-1] >= 0.25 and gate.failures == 11
    assert gate.trip(gate.resume_at, rng, 5.0, first=0.1, cap=0.5) == 5.0
    assert gate.clear() and gate.wait(0.0) == 0 and not gate.tripped


async def test_the_retry_policy_sets_the_probe_pause(clock: FakeClock) -> None:
    starts: list[float] = []

    async def handler(request: MockRequest) -> ApiResponse:
        starts.append(clock.now())
        if len(starts) <= 3:
            return error(529, "overloaded_error", "Overloaded")
        return ok(request)

    policy = RetryPolicy(probe_delay=0.01, max_probe_delay=0.02)
    flow, _ = make_flow(clock, handler, limits=RateLimits(rpm=600), concurrency=1, retry=policy)
    async with flow:
        task = asyncio.create_task(flow.create(**body("r")))
        await clock.run_until(1)
        result = await task
    assert result.attempts == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # 0.01, then 0.02, then the 0.02 cap, each jittered down by at most half.
    assert 0.005 <= gaps[0] <= 0.01 and 0.01 <= gaps[1] <= 0.02 and 0.01 <= gaps[2] <= 0.02


def test_probe_delays_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_probe_delay"):
        RetryPolicy(probe_delay=1.0, max_probe_delay=0.5)
    with pytest.raises(ConfigError, match="probe_delay"):
        RetryPolicy(probe_delay=0.0)


async def test_probes_through_an_overload_leave_a_later_500_its_retries(clock: FakeClock) -> None:
    statuses = [529] * 6 + [500]  # more 529 attempts than max_retries, then one 500

    async def handler(request: MockRequest) -> ApiResponse:
        if statuses:
            status = statuses.pop(0)
            if status == 529:
                return error(529, "overloaded_error", "Overloaded")
            return error(500, "api_error", "Internal server error")
        return ok(request)

    # 529s may go on for the schedule's 5 s (1 + 2 + 2); the 500 gets max_retries of its own.
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=2.0, probe_delay=0.01)
    flow, _ = make_flow(clock, handler, limits=RateLimits(rpm=600), concurrency=1, retry=policy)
    async with flow:
        task = asyncio.create_task(flow.create(**body("r")))
        await clock.run_until(20)
        result = await task
    assert result.attempts == 8  # six probes, the 500, then the answer
