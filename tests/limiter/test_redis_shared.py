"""RedisBackend against a real redis-server: two backends in one test are two processes.

Bucket time is the server's own clock, so refill during a test's few milliseconds is
real; the limits refill slowly enough (or the assertions bound the refill) that every
expected number is exact to well within the stated margin.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from claudeflow import CapacityError, Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend
from claudeflow.limiter._redis_pool import RedisPool

BackendFactory = Callable[..., RedisBackend]

# 10 requests and 100 input tokens per 600 s: refill is 1/60 request per second.
SLOW = RateLimits(rpm=10, input_tpm=100, window_s=600, lead_s=0)


async def started(
    backends: BackendFactory, limits: RateLimits | None = SLOW
) -> tuple[RedisBackend, RedisPool]:
    backend = backends()
    pool = backend.pool("p", limits, clock=LoopClock())
    await backend.start()
    return backend, pool


async def two(backends: BackendFactory, limits: RateLimits | None = SLOW) -> list[RedisPool]:
    return [(await started(backends, limits))[1] for _ in range(2)]


def level(pool: RedisPool, dim: str) -> float:
    return pool.statistics().buckets[dim].level


async def test_all_or_nothing_across_processes(backends: BackendFactory) -> None:
    a, b = await two(backends)
    assert await a.reserve(Cost(1, 80, 0), priority=1) == 0.0
    # b needs 30 input tokens, 20 are left: it takes nothing and waits 10 / (100/600) s.
    wait = await b.reserve(Cost(1, 30, 0), priority=1)
    assert 59.0 < wait <= 60.0
    assert level(b, "requests") == pytest.approx(9, abs=0.01)  # the request was not taken
    assert level(b, "input_tokens") == pytest.approx(20, abs=0.1)
    assert await b.reserve(Cost(1, 20, 0), priority=1) == 0.0
    assert level(b, "requests") == pytest.approx(8, abs=0.01)


async def test_lead_keeps_refill_in_hand_but_a_full_bucket_pays(backends: BackendFactory) -> None:
    limits = RateLimits(input_tpm=600, window_s=60, lead_s=0.5)  # 10/s: the lead is 5
    a, b = await two(backends, limits)
    assert await a.reserve(Cost(1, 600, 0), priority=1) == 0.0  # full: pays in full
    a.give_back(Cost(0, 590, 0))
    await a.flush()
    wait = await b.reserve(Cost(1, 590, 0), priority=1)  # needs 595 of ~590
    assert 0.0 < wait <= 0.5


async def test_debt_is_shared(backends: BackendFactory) -> None:
    a, b = await two(backends)
    assert await a.reserve(Cost(1, 100, 0), priority=1) == 0.0
    a.give_back(Cost(0, -50, 0))  # used 50 more than reserved
    await a.flush()
    # 51 tokens short at 1/6 token per second
    assert await b.reserve(Cost(1, 1, 0), priority=1) == pytest.approx(306, abs=0.5)
    assert level(b, "input_tokens") == pytest.approx(-50, abs=0.5)


async def test_clamp_learn_and_pause_reach_the_other_process(backends: BackendFactory) -> None:
    a, b = await two(backends)
    a.clamp("requests", 3)
    a.learn("output_tokens", 600, 100)  # not configured: learned (rate 1/s, cap 600)
    a.learn("requests", 1000, 1000)  # configured: ignored
    await a.flush()
    assert await b.reserve(Cost(1, 0, 10), priority=1) == 0.0
    stats = b.statistics().buckets
    assert stats["requests"].level == pytest.approx(2, abs=0.01)
    assert stats["requests"].capacity == 10
    assert stats["output_tokens"].learned
    assert stats["output_tokens"].capacity == 600
    assert stats["output_tokens"].level == pytest.approx(90, abs=0.5)
    a.pause(30, "429 from the server")
    await a.flush()
    assert 29 < await b.reserve(Cost(1, 0, 0), priority=1) <= 30
    assert b.statistics().paused_reason == "429 from the server"


async def test_a_give_back_wakes_the_other_process(backends: BackendFactory) -> None:
    a, b = await two(backends)
    woke = asyncio.Event()
    b.on_change = woke.set
    assert await a.reserve(Cost(1, 100, 0), priority=1) == 0.0
    assert not woke.is_set()
    a.give_back(Cost(0, 60, 0))  # sent by a's flusher; published by the script
    await asyncio.wait_for(woke.wait(), timeout=5)
    assert await b.reserve(Cost(1, 60, 0), priority=1) == 0.0


async def test_a_learned_limit_wakes_the_other_process(backends: BackendFactory) -> None:
    a, b = await two(backends)
    woke = asyncio.Event()
    b.on_change = woke.set
    a.learn("output_tokens", 600, 600)
    await asyncio.wait_for(woke.wait(), timeout=5)
    assert await b.reserve(Cost(0, 0, 0), priority=1) == 0.0
    assert b.statistics().buckets["output_tokens"].learned


async def test_scripts_reload_after_script_flush(backends: BackendFactory, raw: Redis) -> None:
    backend, a = await started(backends)
    _, b = await started(backends)
    assert backend.script_loads == 1
    assert await a.reserve(Cost(1, 10, 0), priority=1) == 0.0
    await raw.script_flush()
    a.give_back(Cost(0, 10, 0))
    assert await a.reserve(Cost(1, 10, 0), priority=1) == 0.0  # NOSCRIPT, reload, retry
    assert backend.script_loads == 2
    assert await b.reserve(Cost(0, 0, 0), priority=1) == 0.0
    assert level(b, "input_tokens") == pytest.approx(90, abs=0.5)  # the give-back: once


async def test_keys_share_one_cluster_slot_and_expire(backends: BackendFactory, raw: Redis) -> None:
    backend = backends(key_ttl_s=120)
    pool = backend.pool("claude-sonnet", SLOW, clock=LoopClock())
    await backend.start()
    pool.waiting(2)
    assert await pool.reserve(Cost(1, 0, 0), priority=2) == 0.0
    pool.waiting(1)
    await pool.flush()
    keys = sorted(await raw.keys("claudeflow:*"))
    assert len(keys) == 6
    assert all(k.startswith("claudeflow:{claude-sonnet}:") for k in keys)
    assert len({key_slot(k.encode()) for k in keys}) == 1
    for key in keys:
        assert 0 < await raw.pttl(key) <= 120_000


async def test_what_can_never_fit_is_refused_at_once(backends: BackendFactory) -> None:
    a, b = await two(backends)
    with pytest.raises(CapacityError, match="at most 100"):
        b.check_fits(Cost(1, 101, 0))
    a.learn("output_tokens", 60, 60)  # learned by a: b knows after its next reply
    await a.flush()
    assert await b.reserve(Cost(1, 0, 61), priority=1) == math.inf  # takes nothing
    with pytest.raises(CapacityError, match="output tokens"):
        b.check_fits(Cost(1, 0, 61))
    assert level(b, "requests") == pytest.approx(10, abs=0.01)


async def test_a_pool_made_after_start_is_subscribed_too(backends: BackendFactory) -> None:
    a, b = backends(), backends()
    await a.start()
    await b.start()
    pa = a.pool("late", SLOW, clock=LoopClock())
    pb = b.pool("late", SLOW, clock=LoopClock())
    woke = asyncio.Event()
    pb.on_change = woke.set
    assert await pa.reserve(Cost(1, 100, 0), priority=1) == 0.0
    assert await pb.reserve(Cost(1, 100, 0), priority=1) > 0  # subscribed before it waits
    pa.give_back(Cost(0, 100, 0))
    await asyncio.wait_for(woke.wait(), timeout=5)
