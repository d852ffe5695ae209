"""Pools per model class and key pools, in virtual time against a scripted API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sched_helpers import API_KEY, body, error, make_flow, name_of, ok

from claudeflow import (
    ApiKey,
    AuthenticationError,
    ConfigError,
    Flow,
    PermissionDeniedError,
    RateLimits,
    TokenCounting,
)
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-5"


def timed(clock: FakeClock, starts: list[tuple[str, float]], seconds: float = 0.0) -> Any:
    async def handler(request: MockRequest) -> ApiResponse:
        starts.append((name_of(request), clock.now()))
        await clock.sleep(seconds)
        return ok(request)

    return handler


async def test_each_model_class_has_its_own_buckets_and_line(clock: FakeClock) -> None:
    # 1 request per second per class: a Sonnet backlog never delays the Haiku requests.
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(clock, timed(clock, starts), limits=RateLimits(rpm=60, burst=1 / 60))
    async with flow:
        calls = [flow.create(**body(f"s{i}", model=SONNET)) for i in range(5)]
        calls += [flow.create(**body(f"h{i}", model=HAIKU)) for i in range(3)]
        tasks = [asyncio.create_task(c) for c in calls]
        await clock.run_until(10)
        results = await asyncio.gather(*tasks)
        stats = flow.stats()
    when = dict(starts)
    assert [when[f"h{i}"] for i in range(3)] == [0.0, 1.0, 2.0]
    assert [when[f"s{i}"] for i in range(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert {r.pool.split("/")[1] for r in results} == {"claude-haiku-4", "claude-sonnet-4"}
    assert len(stats.pools) == 2


async def test_limits_per_pool_and_a_default_for_the_rest(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    limits = {
        "claude-sonnet-4": RateLimits(rpm=30, burst=1 / 30),  # one every 2 s
        "*": RateLimits(rpm=60, burst=1 / 60),  # one every second
    }
    flow, _ = make_flow(clock, timed(clock, starts), limits=limits)
    async with flow:
        tasks = [
            asyncio.create_task(flow.create(**body(f"{m[7]}{i}", model=m)))
            for m in (SONNET, HAIKU)
            for i in range(3)
        ]
        await clock.run_until(10)
        await asyncio.gather(*tasks)
    when = dict(starts)
    assert [when[f"s{i}"] for i in range(3)] == [0.0, 2.0, 4.0]
    assert [when[f"h{i}"] for i in range(3)] == [0.0, 1.0, 2.0]


async def test_pools_maps_models_to_a_pool_of_your_own(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(
        clock,
        timed(clock, starts),
        limits={"shared": RateLimits(rpm=60, burst=1 / 60)},
        pools={HAIKU: "shared", SONNET: "shared"},
    )
    async with flow:
        tasks = [
            asyncio.create_task(flow.create(**body(f"x{i}", model=(HAIKU, SONNET)[i % 2])))
            for i in range(4)
        ]
        await clock.run_until(10)
        results = await asyncio.gather(*tasks)
    assert sorted(t for _, t in starts) == [0.0, 1.0, 2.0, 3.0]  # one bucket for both
    assert {r.pool for r in results} == {f"key-{_fp()}/shared"}


async def test_a_refused_key_leaves_the_rotation_and_the_others_serve(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    served_by: list[str] = []

    async def handler(request: MockRequest) -> ApiResponse:
        key = request.headers["x-api-key"]
        if key == "sk-bad":
            return error(401, "authentication_error", "invalid x-api-key")
        served_by.append(key)
        return ok(request)

    keys = [
        ApiKey("sk-one", name="one"),
        ApiKey("sk-bad", name="bad"),
        ApiKey("sk-two", name="two"),
    ]
    flow, _ = make_flow(clock, handler, api_key=keys, concurrency=3)
    with caplog.at_level(logging.WARNING, logger="claudeflow"):
        async with flow:
            results = await asyncio.gather(*(flow.create(**body(f"r{i}")) for i in range(30)))
            stats = flow.stats()
    assert len(results) == 30 and {r.key for r in results} <= {"one", "two"}
    assert set(served_by) == {"sk-one", "sk-two"}
    assert not stats.keys["bad"].active and "401" in stats.keys["bad"].retired_reason
    assert stats.keys["one"].active and stats.keys["two"].active
    assert stats.failed == 0 and stats.completed == 30
    retired = [r for r in caplog.records if "leaves the rotation" in r.getMessage()]
    assert len(retired) == 1 and "bad" in retired[0].getMessage()
    assert "sk-bad" not in caplog.text


async def test_when_every_key_is_refused_queued_requests_fail_with_that_cause(
    clock: FakeClock,
) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        return error(401, "authentication_error", "invalid x-api-key")

    flow, _ = make_flow(clock, handler, api_key=["sk-a", "sk-b"], concurrency=1)
    async with flow:
        outcomes = await asyncio.gather(
            *(flow.create(**body(f"r{i}")) for i in range(5)), return_exceptions=True
        )
    assert all(isinstance(o, AuthenticationError) for o in outcomes)
    assert all("invalid x-api-key" in str(o) for o in outcomes)  # the API's own cause


async def test_a_403_for_one_model_class_leaves_the_key_serving_the_others(
    clock: FakeClock,
) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        if request.json["model"] == SONNET:
            return error(403, "permission_error", "not allowed to use this model")
        return ok(request)

    flow, transport = make_flow(clock, handler, concurrency=1)
    async with flow:
        outcomes = await asyncio.gather(
            *(flow.create(**body(f"r{i}", model=(SONNET, HAIKU)[i % 2])) for i in range(6)),
            return_exceptions=True,
        )
        stats = flow.stats()
    denied = outcomes[0::2]
    assert all(isinstance(o, PermissionDeniedError) for o in denied)
    assert all(not isinstance(o, BaseException) for o in outcomes[1::2])
    assert [r.json["model"] for r in transport.requests].count(SONNET) == 1  # asked once
    assert next(iter(stats.keys.values())).active


async def test_keys_can_be_added_and_removed_while_running(clock: FakeClock) -> None:
    seen: list[str] = []

    async def handler(request: MockRequest) -> ApiResponse:
        seen.append(request.headers["x-api-key"])
        return ok(request)

    flow, _ = make_flow(clock, handler, api_key=ApiKey("sk-old", name="old"))
    async with flow:
        await flow.create(**body("a"))
        assert flow.add_key(ApiKey("sk-new", name="new")) == "new"
        flow.remove_key("old")
        await flow.create(**body("b"))
        stats = flow.stats()
    assert seen == ["sk-old", "sk-new"]
    assert list(stats.keys) == ["new"]


def test_key_pool_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"^api_key:"):
        Flow(api_key=[])
    with pytest.raises(ConfigError, match=r"^api_key:"):
        Flow(api_key=[ApiKey("a", name="x"), ApiKey("b", name="x")])
    with pytest.raises(ConfigError, match=r"^limits:"):
        Flow(api_key="k", limits={"claude-haiku-4": 5})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"^pools:"):
        Flow(api_key="k", pools={"m": ""})


def test_keys_never_show_in_reprs_or_stats() -> None:
    flow = Flow(api_key=[ApiKey("sk-ant-SECRET-1"), "sk-ant-SECRET-2"])
    texts = [repr(flow), repr(flow.stats()), repr(ApiKey("sk-ant-SECRET-3"))]
    assert not any("SECRET" in text for text in texts)


async def test_learned_limits_probe_each_pool_once(clock: FakeClock) -> None:
    # Nothing configured: each pool sends one request alone until its headers arrive.
    starts: list[tuple[str, float]] = []
    headers = {
        "anthropic-ratelimit-requests-limit": "600",
        "anthropic-ratelimit-requests-remaining": "599",
    }

    async def handler(request: MockRequest) -> ApiResponse:
        starts.append((name_of(request), clock.now()))
        await clock.sleep(1.0)
        return ok(request, headers=headers)

    flow, transport = make_flow(clock, handler, learn_limits=True, concurrency=8)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body(f"h{i}"))) for i in range(3)]
        tasks += [asyncio.create_task(flow.create(**body(f"s{i}", model=SONNET))) for i in range(2)]
        await clock.run_until(5)
        await asyncio.gather(*tasks)
    when = dict(starts)
    # The probes' headers arrive as their streams open (at once), so the rest follow at 0.
    assert when["h0"] == 0 and when["s0"] == 0
    assert transport.requests[0].stream and not transport.requests[-1].stream


async def test_stats_say_while_a_pool_is_still_learning_its_limits(clock: FakeClock) -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        await clock.sleep(1.0)
        return ok(request)  # no rate-limit headers: nothing to learn from

    flow, _ = make_flow(clock, handler, learn_limits=True)
    async with flow:
        first = asyncio.create_task(flow.create(**body("a")))
        await clock.run_until(0.5)
        assert [p.learning for p in flow.stats().pools.values()] == [True]
        await clock.run_until(2)
        await first
        assert [p.learning for p in flow.stats().pools.values()] == [False]


def _fp() -> str:
    from claudeflow.routing import fingerprint

    return fingerprint(API_KEY)


async def test_a_prompt_that_can_never_fit_is_refused_before_it_is_counted(
    clock: FakeClock,
) -> None:
    from claudeflow import CapacityError, TokenEstimator

    class NeverCount(TokenEstimator):
        async def estimate_async(self, body: Any) -> int:
            raise AssertionError("a hopeless prompt was counted")

    flow = Flow(
        api_key=API_KEY,
        transport=MockTransport(ok),
        clock=clock,
        tokens=TokenCounting(estimator=NeverCount()),
        learn_limits=False,
        limits=RateLimits(input_tpm=30_000),
    )
    async with flow:
        with pytest.raises(CapacityError, match="input tokens"):
            await flow.create(**body("word " * 1_000_000))
        assert flow.stats().submitted == 0


async def test_extra_headers_of_the_wrong_shape_name_the_argument(clock: FakeClock) -> None:
    from claudeflow import InvalidRequestError

    flow, _ = make_flow(clock, ok)
    async with flow:
        for bad in (["x"], "x-a: b", b"x", 5, {1: "a"}, {"x-a": 1}):
            with pytest.raises(InvalidRequestError, match="extra_headers"):
                await flow.create(**body(), extra_headers=bad)
    with pytest.raises(ConfigError, match=r"^default_headers:"):
        Flow(api_key="k", default_headers=["x"])  # type: ignore[arg-type]
