"""The runner's one attempt path and its frozen statistics, over MockTransport."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from sched_helpers import body, error, ok
from sched_helpers import make_flow as helpers_make_flow

from claudeflow import RateLimits
from claudeflow.scheduler import Flow, RunnerStatistics
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

LIMIT_HEADERS = {
    "anthropic-ratelimit-requests-limit": "50",
    "anthropic-ratelimit-requests-remaining": "49",
    "anthropic-ratelimit-input-tokens-limit": "10000",
    "anthropic-ratelimit-input-tokens-remaining": "9000",
    "anthropic-ratelimit-output-tokens-limit": "2000",
    "anthropic-ratelimit-output-tokens-remaining": "1900",
}


def make_flow(clock: FakeClock, handler: Any, **kwargs: Any) -> tuple[Flow, MockTransport]:
    return helpers_make_flow(clock, handler, seed=3, **kwargs)


async def test_create_and_stream_take_one_send_and_one_handler(clock: FakeClock) -> None:
    # One handler returning a whole Message serves both: MockTransport streams it on ask.
    flow, transport = make_flow(clock, lambda r: ok(r, output_tokens=4, text="same"))
    async with flow:
        plain = await flow.create(**body("a", tokens=12))
        async with flow.stream(**body("b", tokens=12)) as stream:
            streamed = await stream.result()
    assert [r.stream for r in transport.requests] == [False, True]
    assert "stream" not in transport.requests[0].json
    assert transport.requests[1].json["stream"] is True
    assert (plain.text, streamed.text) == ("same", "same")
    assert plain.usage == streamed.usage
    assert flow.stats().output_tokens == 8


async def test_a_burst_from_a_full_pool_streams_for_its_first_headers(
    clock: FakeClock,
) -> None:
    # Until an answer times the transit the lead stays whole; a plain reply's headers
    # would wait for its generation. Once one is back, the line goes plain; a request
    # alone (nothing else out) is never streamed for it.
    flow, transport = make_flow(
        clock, lambda r: ok(r, output_tokens=4, text="same"), limits=RateLimits(rpm=600)
    )
    async with flow:
        alone = await flow.create(**body("alone"))
        await clock.advance(1.0)  # full again, with nothing out: the lag is forgotten
        burst = await asyncio.gather(*(flow.create(**body(f"r{i}")) for i in range(3)))
        later = await flow.create(**body("later"))
    streams = [r.stream for r in transport.requests]
    assert streams[0] is False and streams[1] is True and streams[-1] is False
    assert {r.text for r in (alone, *burst, later)} == {"same"}
    assert alone.usage == later.usage


async def test_a_probe_streams_a_plain_request_then_the_line_goes_plain(clock: FakeClock) -> None:
    # Unknown limits: the first request probes (streamed, for its early headers).
    flow, transport = make_flow(
        clock, lambda r: ok(r, headers=LIMIT_HEADERS), learn_limits=True, limits=None
    )
    async with flow:
        results = await asyncio.gather(*(flow.create(**body(f"r{i}")) for i in range(3)))
    assert [r.text for r in results] == ["hello"] * 3
    assert [r.stream for r in transport.requests] == [True, False, False]
    stats = flow.stats()
    assert stats.server is not None and stats.server.requests.limit == 50
    assert stats.runner is not None and stats.runner.statuses == {200: 3}


async def test_stats_carry_a_frozen_runner_snapshot_that_agrees_with_the_flat_fields(
    clock: FakeClock,
) -> None:
    answers = iter([error(429, "rate_limit_error", "slow down", {"retry-after": "2"})])

    def handler(request: MockRequest) -> ApiResponse:
        return next(answers, None) or ok(request, output_tokens=6)

    flow, _ = make_flow(clock, handler, limits=RateLimits(rpm=600))
    async with flow:
        task = asyncio.create_task(flow.create(**body("x", tokens=20)))
        await clock.run_until(5)
        await task
        before = flow.stats()
        await flow.create(**body("y", tokens=20))
        after = flow.stats()
    runner = before.runner
    assert isinstance(runner, RunnerStatistics)
    assert (runner.completed, runner.retries, runner.rate_limited) == (1, 1, 1)
    assert (runner.input_tokens, runner.output_tokens) == (20, 6)
    assert dict(runner.statuses) == {429: 1, 200: 1}
    flat = (before.completed, before.retries, before.rate_limited, before.input_tokens)
    assert flat == (runner.completed, runner.retries, runner.rate_limited, runner.input_tokens)
    assert before.statuses == runner.statuses
    # A snapshot: later work changes the next one, never this one.
    assert after.runner is not None and after.runner.completed == 2
    assert runner.completed == 1 and dict(runner.statuses) == {429: 1, 200: 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        runner.completed = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        runner.statuses[200] = 9  # type: ignore[index]


async def test_a_bug_in_the_handler_ends_the_job_once_and_is_counted(clock: FakeClock) -> None:
    def broken(request: MockRequest) -> ApiResponse:
        raise RuntimeError("handler bug")

    flow, _ = make_flow(clock, broken)
    async with flow:
        with pytest.raises(RuntimeError, match="handler bug"):
            await flow.create(**body("x"))
        stats = flow.stats()
    assert stats.runner is not None
    assert (stats.runner.failed, stats.runner.retries, stats.runner.completed) == (1, 0, 0)
    assert stats.failed == 1
