"""Priority across processes: waiting heads go in (class, time in line) order.

A registered head in another process holds back every request of a less urgent class,
and of its own class when it has waited longer; capacity accumulates for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis

from claudeflow import Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend
from claudeflow.limiter._redis_pool import RedisPool

BackendFactory = Callable[..., RedisBackend]
HIGH, LOW = 0, 2
LIMITS = RateLimits(rpm=10, window_s=600, lead_s=0)  # ten requests, barely any refill


async def pools(backends: BackendFactory, n: int) -> list[RedisPool]:
    made = []
    for _ in range(n):
        backend = backends(heartbeat_s=0.5)  # a head entry lives 1.5 s without heartbeats
        made.append(backend.pool("p", LIMITS, clock=LoopClock()))
        await backend.start()
    return made


async def test_low_waits_while_another_process_has_an_urgent_head(
    backends: BackendFactory,
) -> None:
    a, b = await pools(backends, 2)
    a.waiting(HIGH)
    await a.flush()
    wait = await b.reserve(Cost(1, 0, 0), priority=LOW)
    assert 0 < wait <= 1.5  # bounded by the head's expiry, though capacity is there
    assert b.statistics().buckets["requests"].level == 10  # nothing was taken
    assert await b.reserve(Cost(1, 0, 0), priority=HIGH) > 0  # same class, later in line
    assert await a.reserve(Cost(1, 0, 0), priority=HIGH) == 0.0  # first in line: served
    assert await b.reserve(Cost(1, 0, 0), priority=HIGH) == 0.0  # and b is next


async def test_the_urgent_head_leaving_wakes_the_others(backends: BackendFactory) -> None:
    a, b = await pools(backends, 2)
    woke = asyncio.Event()
    b.on_change = woke.set
    a.waiting(HIGH)
    await a.flush()
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) > 0
    assert await a.reserve(Cost(1, 0, 0), priority=HIGH) == 0.0  # served: entry removed
    await asyncio.wait_for(woke.wait(), timeout=5)
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) == 0.0


async def test_capacity_accumulates_for_the_urgent_head(backends: BackendFactory) -> None:
    a, b = await pools(backends, 2)
    assert await a.reserve(Cost(1, 0, 0), priority=LOW) == 0.0
    # a's urgent head needs the whole bucket; it is refused and registered.
    assert await a.reserve(Cost(10, 0, 0), priority=HIGH) > 0
    refused = [await b.reserve(Cost(1, 0, 0), priority=LOW) for _ in range(5)]
    assert all(w > 0 for w in refused)  # b's backlog took nothing
    a.give_back(Cost(1, 0, 0))
    assert await a.reserve(Cost(10, 0, 0), priority=HIGH) == 0.0


async def test_a_large_head_is_not_overtaken_by_small_ones_of_its_class(
    backends: BackendFactory,
) -> None:
    a, b = await pools(backends, 2)
    assert await b.reserve(Cost(5, 0, 0), priority=LOW) == 0.0  # 5 of 10 left
    assert await a.reserve(Cost(10, 0, 0), priority=LOW) > 0  # in line first
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) > 0  # b's small one waits
    b.give_back(Cost(5, 0, 0))
    await b.flush()
    assert await a.reserve(Cost(10, 0, 0), priority=LOW) == 0.0  # the whole bucket
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) > 0  # now b waits for refill


async def test_a_crashed_process_head_expires(backends: BackendFactory, raw: Redis) -> None:
    (b,) = await pools(backends, 1)
    # A process that registered a HIGH head and died: no heartbeat will refresh it.
    seconds, micros = await raw.time()
    dies = seconds + micros / 1e6 + 1.0
    await raw.zadd("claudeflow:{p}:heads", {"ghost": HIGH})
    await raw.zadd("claudeflow:{p}:expiry", {"ghost": dies})
    wait = await b.reserve(Cost(1, 0, 0), priority=LOW)
    assert 0 < wait <= 1.0
    await asyncio.sleep(wait)  # exactly the wait the script gave
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) == 0.0
    assert await raw.zscore("claudeflow:{p}:heads", "ghost") is None


async def test_a_heartbeat_keeps_a_waiting_head_alive(backends: BackendFactory, raw: Redis) -> None:
    backend = backends(heartbeat_s=0.5)
    a = backend.pool("p", LIMITS, clock=LoopClock())
    await backend.start()
    (b,) = await pools(backends, 1)
    a.waiting(HIGH)
    await a.flush()
    expiry = "claudeflow:{p}:expiry"
    before = await raw.zscore(expiry, backend.pid)
    await a.flush()  # what every heartbeat does
    after = await raw.zscore(expiry, backend.pid)
    assert before is not None and after is not None and after > before
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) > 0
    a.waiting(None)
    await a.flush()
    assert await raw.zscore(expiry, backend.pid) is None
    assert await b.reserve(Cost(1, 0, 0), priority=LOW) == 0.0
