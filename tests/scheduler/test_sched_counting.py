"""Local token counting happens at the head of the line, not at submission.

A backlog submitted at once must not be counted in full before the first request can go
out; a request whose count (not its cheap lower bound) overflows still fails with
:class:`CapacityError`, and the line goes on behind it. Virtual time, scripted API.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pytest
from sched_helpers import API_KEY, ok

from claudeflow import CapacityError, RateLimits, TokenCounting
from claudeflow.scheduler import Flow
from claudeflow.testing import FakeClock, settle
from claudeflow.tokens import TokenEstimator
from claudeflow.transport import ApiResponse, MockRequest, MockTransport


class CountingEstimator(TokenEstimator):
    """The real local estimator, recording which prompts it counted (and when)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(margin=0.0)
        self.counted: list[tuple[str, float]] = []
        self._clock = clock

    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        self.counted.append((str(body["messages"][0]["content"]), self._clock.now()))
        return await super().estimate_async(body)


def _request(text: str) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": text}],
    }


async def _answer(request: MockRequest) -> ApiResponse:
    return ok(request, input_tokens=10)


def _flow(
    clock: FakeClock,
    estimator: TokenEstimator,
    limits: RateLimits,
    answer: Callable[[MockRequest], Awaitable[ApiResponse]] = _answer,
) -> Flow:
    return Flow(
        api_key=API_KEY,
        transport=MockTransport(answer),
        clock=clock,
        tokens=TokenCounting(estimator=estimator, calibrate=False),
        learn_limits=False,
        limits=limits,
        rng=random.Random(3),
    )


async def test_a_backlog_is_counted_one_head_at_a_time(clock: FakeClock) -> None:
    estimator = CountingEstimator(clock)
    # One request per second, one at a time: the rest of the backlog waits in line.
    flow = _flow(clock, estimator, RateLimits(rpm=60, burst=1 / 60))
    async with flow:
        tasks = [asyncio.create_task(flow.create(**_request(f"p{i}"))) for i in range(5)]
        await settle()
        # The first went out; the second is counted (the head waits for its second);
        # the three behind it are not counted yet.
        assert [name for name, _ in estimator.counted] == ["p0", "p1"]
        await clock.advance(4.0)
        results = await asyncio.gather(*tasks)
    assert [name for name, _ in estimator.counted] == ["p0", "p1", "p2", "p3", "p4"]
    # Each was counted as it reached the head, a second apart: not all at submission.
    assert [at for _, at in estimator.counted] == [0.0, 0.0, 1.0, 2.0, 3.0]
    assert all(r.estimated_input_tokens > 0 for r in results)
    assert [r.reserved.input_tokens for r in results] == [r.estimated_input_tokens for r in results]


async def test_a_prompt_whose_count_overflows_fails_and_the_line_goes_on(
    clock: FakeClock,
) -> None:
    estimator = CountingEstimator(clock)
    # ITPM capacity 100 tokens. 40 words like "x7y" bound the count from below at 47
    # (it passes the submission check), but each word is several tokens: 127 in all.
    long_prompt = " ".join(f"x{i}y" for i in range(40))
    assert (
        estimator.lower_bound(_request(long_prompt))
        < 100
        < estimator.estimate(_request(long_prompt))
    )
    flow = _flow(clock, estimator, RateLimits(input_tpm=100))
    async with flow:
        big = asyncio.create_task(flow.create(**_request(long_prompt)))
        small = asyncio.create_task(flow.create(**_request("hi")))
        with pytest.raises(CapacityError, match="input tokens"):
            await big
        result = await small
    assert result.usage.input_tokens == 10
    assert [name for name, _ in estimator.counted] == [long_prompt, "hi"]


def _recording_flow(clock: FakeClock, events: list[str]) -> Flow:
    """A Flow whose estimator and transport log ``count <prompt>`` and ``send <prompt>``."""
    estimator = CountingEstimator(clock)
    original = estimator.estimate_async

    async def count(body: Mapping[str, Any]) -> int:
        events.append(f"count {body['messages'][0]['content'][:2]}")
        return await original(body)

    async def answer(request: MockRequest) -> ApiResponse:
        body = request.json if isinstance(request.json, dict) else json.loads(request.json)
        events.append(f"send {body['messages'][0]['content'][:2]}")
        return ok(request, input_tokens=10)

    estimator.estimate_async = count  # type: ignore[method-assign]
    return _flow(clock, estimator, RateLimits(rpm=600), answer)


async def test_a_launched_request_is_sent_before_the_next_long_head_is_counted(
    clock: FakeClock,
) -> None:
    # Counting a long prompt takes ~0.5 ms of CPU: a burst must not count its whole
    # front (32 heads) before the first of them reaches the wire.
    events: list[str] = []
    long = " word" * 300  # its lower bound (300 tokens) says counting it is costly
    async with _recording_flow(clock, events) as flow:
        await asyncio.gather(*(flow.create(**_request(f"p{i}{long}")) for i in range(3)))
    assert events == ["count p0", "send p0", "count p1", "send p1", "count p2", "send p2"]


async def test_short_heads_are_counted_without_yielding(clock: FakeClock) -> None:
    # A short prompt is cheaper to count than a pass of the event loop.
    events: list[str] = []
    async with _recording_flow(clock, events) as flow:
        await asyncio.gather(*(flow.create(**_request(f"p{i}")) for i in range(3)))
    assert events == ["count p0", "count p1", "count p2", "send p0", "send p1", "send p2"]
