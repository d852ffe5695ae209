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

from claudeflow import CapacityError, RateLimits, Routes, TokenCounting
from claudeflow.routing import LimitsSpec
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
    limits: LimitsSpec,
    answer: Callable[[MockRequest], Awaitable[ApiResponse]] = _answer,
    **options: Any,
) -> Flow:
    return Flow(
        api_key=API_KEY,
        transport=MockTransport(answer),
        clock=clock,
        tokens=TokenCounting(estimator=estimator, calibrate=False),
        learn_limits=False,
        limits=limits,
        rng=random.Random(3),
        **options,
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
        estimator.lower_bound(_request(long_prompt), words_from=0)
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


async def test_a_short_prompt_its_words_show_hopeless_is_refused_uncounted(
    clock: FakeClock,
) -> None:
    # ITPM capacity 200 tokens: WORDY's bytes bound it at 21, its words at 307.
    estimator = CountingEstimator(clock)
    async with _flow(clock, estimator, RateLimits(input_tpm=200)) as flow:
        with pytest.raises(CapacityError, match="input tokens"):
            await flow.create(**_request(WORDY))
        assert flow.stats().submitted == 0
    assert estimator.counted == []


async def test_a_launched_request_is_sent_before_the_next_long_head_is_counted(
    clock: FakeClock,
) -> None:
    # Counting a long prompt takes ~0.5 ms of CPU: a burst must not count its whole
    # front (32 heads) before the first of them reaches the wire.
    events: list[str] = []
    long = " word" * 300  # 1,500 characters: costly to count (its bound is only 19)
    async with _recording_flow(clock, events) as flow:
        await asyncio.gather(*(flow.create(**_request(f"p{i}{long}")) for i in range(3)))
    assert events == ["count p0", "send p0", "count p1", "send p1", "count p2", "send p2"]


async def test_short_heads_are_counted_without_yielding(clock: FakeClock) -> None:
    # A short prompt is cheaper to count than a pass of the event loop.
    events: list[str] = []
    async with _recording_flow(clock, events) as flow:
        await asyncio.gather(*(flow.create(**_request(f"p{i}")) for i in range(3)))
    assert events == ["count p0", "count p1", "count p2", "send p0", "send p1", "send p2"]


SONNET, HAIKU, OPUS = "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"
# 300 words like "x7y": bounded at 21 by its bytes, 307 by its words, counted 907.
WORDY = " ".join(f"x{i}y" for i in range(300))


class GatedEstimator(CountingEstimator):
    """Each count waits until the test opens its gate (as a count in a worker thread
    waits for the thread), so the job can expire and move on while it is counted."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.gates: list[asyncio.Event] = []

    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        return await super().estimate_async(body)


def _routed_flow(
    clock: FakeClock, estimator: TokenEstimator, fallbacks: list[str], **limits: RateLimits
) -> Flow:
    # Sonnet allows one request per 10 s: a second one waits, and its queue timeout ends
    # the wait on Sonnet and moves it down its fallback chain.
    every = {"claude-sonnet-4": RateLimits(rpm=6, burst=1 / 6), **limits}
    return _flow(clock, estimator, every, routes=Routes(fallbacks={SONNET: fallbacks}))


def _wordy(model: str) -> dict[str, Any]:
    return {**_request(WORDY), "model": model}


@pytest.mark.parametrize("haiku_input_tpm", [600, 6_000], ids=["count-overflows", "fits"])
async def test_a_job_that_moves_to_a_fallback_while_counted_is_counted_once_there(
    clock: FakeClock, haiku_input_tpm: int
) -> None:
    estimator = GatedEstimator(clock)
    limits = {"claude-haiku-4": RateLimits(rpm=600, input_tpm=haiku_input_tpm)}
    async with _routed_flow(clock, estimator, [HAIKU], **limits) as flow:
        first = asyncio.create_task(flow.create(**_request("a") | {"model": SONNET}))
        await settle()
        estimator.gates[0].set()
        await first
        late = asyncio.create_task(flow.create(**_wordy(SONNET), queue_timeout=2))
        await settle()
        assert len(estimator.gates) == 2  # Sonnet's lane is counting it
        await clock.run_until(3)  # its queue timeout: it moves to Haiku's line meanwhile
        assert len(estimator.gates) == 3  # Haiku's lane counts it too
        estimator.gates[1].set()  # Sonnet's count ends: it must leave the job alone
        await settle()
        assert flow.stats().queued == 1
        estimator.gates[2].set()
        if haiku_input_tpm < 907:
            with pytest.raises(CapacityError, match="input tokens"):
                await late
        else:
            result = await late
            assert result.tried == (SONNET, HAIKU)
            assert result.estimated_input_tokens == 907
        assert flow.stats().queued == 0


async def test_an_uncounted_job_skips_a_fallback_its_words_cannot_fit(clock: FakeClock) -> None:
    # Haiku holds 200 input tokens: more than the prompt's bound by bytes (21), less than
    # by words (307). The job expires before it is counted (another waits ahead of it).
    estimator = CountingEstimator(clock)
    limits = {
        "claude-haiku-4": RateLimits(rpm=600, input_tpm=200),
        "*": RateLimits(rpm=600),
    }
    async with _routed_flow(clock, estimator, [HAIKU, OPUS], **limits) as flow:
        await flow.create(**_request("a") | {"model": SONNET})
        ahead = asyncio.create_task(flow.create(**_request("b") | {"model": SONNET}))
        late = asyncio.create_task(flow.create(**_wordy(SONNET), queue_timeout=2))
        await clock.run_until(3)
        result = await late
        await clock.run_until(11)
        await ahead
    assert result.tried == (SONNET, OPUS)
    assert [text for text, _ in estimator.counted].count(WORDY) == 1


async def test_in_virtual_time_a_long_prompt_is_counted_on_the_loop(clock: FakeClock) -> None:
    # A worker thread would end in real time, which the fake clock never sees: the
    # request must be on the wire after the loop settles, every run.
    transport = MockTransport(_answer)
    flow = Flow(api_key=API_KEY, transport=transport, clock=clock, learn_limits=False)
    async with flow:
        task = asyncio.create_task(flow.create(**_request("word " * 4_000)))  # 20 KB
        await settle()
        assert len(transport.requests) == 1
        await task
