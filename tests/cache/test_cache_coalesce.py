"""In-flight coalescing: one call for identical requests, cancellation per caller."""

from __future__ import annotations

import asyncio

import pytest
from cache_helpers import answer, body, mock_flow

from claudeflow.cache import Coalescer, ResponseCache, coalesces
from claudeflow.testing import FakeClock, settle
from claudeflow.transport import ApiResponse, MockRequest


def slow_answer(clock: FakeClock, seconds: float = 1.0) -> object:
    async def handler(request: MockRequest) -> ApiResponse:
        await clock.sleep(seconds)
        return answer(request)

    return handler


async def test_identical_temperature_zero_requests_share_one_call(clock: FakeClock) -> None:
    flow, transport = mock_flow(clock, slow_answer(clock))
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body("q", temperature=0))) for _ in range(5)]
        await settle()
        await clock.advance(1.0)
        results = await asyncio.gather(*tasks)
        stats = flow.stats()
    assert len(transport.requests) == 1
    assert len({id(r) for r in results}) == 1  # every caller gets the same result
    assert stats.cache is not None and stats.cache.coalesced == 4
    assert stats.cache.saved_input_tokens == 4 * 1_000


async def test_sampled_requests_are_not_coalesced_by_default(clock: FakeClock) -> None:
    # temperature 1 (the API default) and no cache: identical requests are two samples.
    flow, transport = mock_flow(clock, slow_answer(clock))
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body("q"))) for _ in range(3)]
        await settle()
        await clock.advance(1.0)
        await asyncio.gather(*tasks)
    assert len(transport.requests) == 3


@pytest.mark.parametrize(
    ("setting", "extra", "cached", "expected"),
    [
        (None, {}, False, False),
        (None, {"temperature": 0}, False, True),
        (None, {"temperature": 0.7}, True, True),
        (True, {"temperature": 1}, False, True),
        (False, {"temperature": 0}, True, False),
    ],
)
def test_the_default_rule(
    setting: bool | None, extra: dict[str, float], cached: bool, expected: bool
) -> None:
    assert coalesces(setting, body(**extra), cached=cached) is expected


async def test_coalesce_false_sends_every_copy_even_with_the_cache(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60)
    flow, transport = mock_flow(clock, slow_answer(clock), cache=cache, coalesce=False)
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body("q"))) for _ in range(3)]
        await settle()
        await clock.advance(1.0)
        await asyncio.gather(*tasks)
    assert len(transport.requests) == 3


async def test_cancelling_one_caller_leaves_the_call_for_the_others(clock: FakeClock) -> None:
    flow, transport = mock_flow(clock, slow_answer(clock), coalesce=True)
    async with flow:
        a = asyncio.ensure_future(flow.create(**body("q")))
        b = asyncio.ensure_future(flow.create(**body("q")))
        await settle()
        a.cancel()
        await settle()
        await clock.advance(1.0)
        result = await b
    assert a.cancelled() and result.text == "echo q"
    assert len(transport.requests) == 1


async def test_the_last_caller_to_cancel_cancels_the_call(clock: FakeClock) -> None:
    started, finished = [], []

    async def handler(request: MockRequest) -> ApiResponse:
        started.append(clock.now())
        await clock.sleep(1.0)
        finished.append(clock.now())
        return answer(request)

    flow, _ = mock_flow(clock, handler, coalesce=True)
    async with flow:
        callers = [asyncio.ensure_future(flow.create(**body("q"))) for _ in range(2)]
        await settle()
        for caller in callers:
            caller.cancel()
        await settle()
        await clock.advance(2.0)
        stats = flow.stats()
    assert started == [0.0] and finished == []  # the call was stopped in flight
    assert stats.in_flight == 0 and stats.queued == 0


async def test_coalescer_shares_one_outcome_and_an_error_too() -> None:
    coalescer: Coalescer[str] = Coalescer()
    gate = asyncio.Event()
    calls = 0

    async def start() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise RuntimeError("boom")

    tasks = [asyncio.ensure_future(coalescer.run("k", start)) for _ in range(3)]
    await settle()
    assert len(coalescer) == 1
    gate.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1 and all(isinstance(o, RuntimeError) for o in outcomes)
    assert len(coalescer) == 0
    value, joined = await coalescer.run("k", _value)
    assert (value, joined) == ("v", False)  # a finished call is not reused


async def _value() -> str:
    return "v"
