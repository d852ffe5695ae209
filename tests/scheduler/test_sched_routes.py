"""Routing: aliases, task rules, weighted splits, and fallback chains."""

from __future__ import annotations

import asyncio

import pytest
from sched_helpers import body, error, make_flow, ok

from claudeflow import (
    ConfigError,
    DeadlineExceededError,
    Flow,
    InvalidRequestError,
    OverloadedError,
    RateLimits,
    RetryPolicy,
    Routes,
)
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

HAIKU, SONNET, OPUS = "claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"


def models_sent(transport: MockTransport) -> list[str]:
    return [r.json["model"] for r in transport.requests]


async def test_aliases_and_task_rules_pick_the_model(clock: FakeClock) -> None:
    routes = Routes(aliases={"fast": HAIKU}, rules={"summarize": "fast", "code": SONNET})
    flow, transport = make_flow(clock, ok, routes=routes)
    async with flow:
        by_alias = await flow.create(**body(model="fast"))
        by_task = await flow.create(
            **{k: v for k, v in body().items() if k != "model"}, task="code"
        )
        explicit = await flow.create(**body(model=OPUS), task="summarize")  # a model wins
        with pytest.raises(InvalidRequestError, match="task"):
            await flow.create(**body(), task="unknown")
    assert models_sent(transport) == [HAIKU, SONNET, OPUS]
    assert by_alias.tried == (HAIKU,) and by_task.tried == (SONNET,) and explicit.arm is None


async def test_a_weighted_split_counts_each_arm(clock: FakeClock) -> None:
    routes = Routes(splits={"ab": {HAIKU: 3, SONNET: 1}})
    flow, transport = make_flow(clock, ok, routes=routes)
    async with flow:
        results = await asyncio.gather(*(flow.create(**body(model="ab")) for _ in range(400)))
        arms = flow.stats().arms["ab"]
    sent = models_sent(transport)
    assert {r.arm for r in results} == {"ab"}
    assert arms[HAIKU].requests == sent.count(HAIKU) and arms[SONNET].requests == sent.count(SONNET)
    assert 250 < arms[HAIKU].requests < 350  # 3:1 by weight, seeded
    assert arms[HAIKU].input_tokens == 10 * arms[HAIKU].requests


async def test_overload_past_the_retries_falls_back_with_max_tokens_capped(
    clock: FakeClock,
) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        if request.json["model"] == SONNET:
            return error(529, "overloaded_error", "Overloaded")
        return ok(request)

    routes = Routes(fallbacks={SONNET: [OPUS]})
    flow, transport = make_flow(clock, handler, routes=routes, retry=RetryPolicy(max_retries=2))
    async with flow:
        call = asyncio.create_task(flow.create(**body(model=SONNET, max_tokens=50_000)))
        await clock.run_until(30)
        result = await call
    assert result.tried == (SONNET, OPUS) and result.model == OPUS
    sent = models_sent(transport)
    # Probes met 529s for the policy's patience (1.5 s), then the chain's next model.
    assert sent[-1] == OPUS and set(sent[:-1]) == {SONNET} and len(sent) > 4
    assert transport.requests[-1].json["max_tokens"] == 32_000  # Opus 4.1's maximum


async def test_a_model_that_does_not_exist_falls_back_at_once(clock: FakeClock) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        if request.json["model"] == "claude-retired-1":
            return error(404, "not_found_error", "model: claude-retired-1")
        return ok(request)

    flow, transport = make_flow(
        clock, handler, routes=Routes(fallbacks={"claude-retired-1": [HAIKU]})
    )
    async with flow:
        result = await flow.create(**body(model="claude-retired-1"))
    assert result.tried == ("claude-retired-1", HAIKU)
    assert models_sent(transport) == ["claude-retired-1", HAIKU]


async def test_a_queue_wait_past_the_deadline_moves_to_the_next_model(clock: FakeClock) -> None:
    # Sonnet allows one request per 10 s; the second Sonnet request would wait 10 s.
    limits = {"claude-sonnet-4": RateLimits(rpm=6, burst=1 / 6), "*": RateLimits(rpm=600)}
    flow, _ = make_flow(clock, ok, limits=limits, routes=Routes(fallbacks={SONNET: [HAIKU]}))
    async with flow:
        first = await flow.create(**body("a", model=SONNET))
        late = asyncio.create_task(flow.create(**body("b", model=SONNET), queue_timeout=2))
        await clock.run_until(3)
        second = await late
    assert first.tried == (SONNET,) and second.tried == (SONNET, HAIKU)
    assert clock.now() >= 2


async def test_without_a_chain_the_errors_stay_as_they_were(clock: FakeClock) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        return error(529, "overloaded_error", "Overloaded")

    flow, _ = make_flow(clock, handler, retry=RetryPolicy(max_retries=1))
    limits_flow, _ = make_flow(clock, ok, limits=RateLimits(rpm=6, burst=1 / 6))
    async with flow, limits_flow:
        call = asyncio.create_task(flow.create(**body()))
        await clock.run_until(10)
        with pytest.raises(OverloadedError):
            await call
        await limits_flow.create(**body("a"))
        late = asyncio.create_task(limits_flow.create(**body("b"), queue_timeout=0.5))
        await clock.run_until(clock.now() + 1)
        with pytest.raises(DeadlineExceededError):
            await late


def test_routes_are_validated() -> None:
    with pytest.raises(ConfigError, match="aliases"):
        Routes(aliases={"fast": ""})
    with pytest.raises(ConfigError, match="splits"):
        Routes(splits={"ab": {HAIKU: 0}})
    with pytest.raises(ConfigError, match="fallbacks"):
        Routes(fallbacks={SONNET: HAIKU})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="routes"):
        Flow(api_key="k", routes={"fast": HAIKU})  # type: ignore[arg-type]
