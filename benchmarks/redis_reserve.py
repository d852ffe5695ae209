"""The Redis backend's cost and its priority across processes, against a local redis-server.

Usage::

    python benchmarks/redis_reserve.py [--reserves 5000] [--concurrency 16]

Measures, on a fresh ``redis-server`` (``claudeflow.testing.redis_server``):

* **round trips per reserve**: the commands the backend sent (``INFO commandstats``:
  ``EVALSHA``, ``SCRIPT LOAD``, ``PING``) per ``reserve``, alone and with a
  ``give_back`` after each (the settle path, whose flush may travel on its own);
* **reserve latency** p50/p99, beside a bare ``PING`` round trip on the same connection
  kind (the floor), sequentially and with ``--concurrency`` coroutines;
* **priority**: one backend's urgent requests, each needing the whole bucket, against
  another backend's low-priority backlog; the urgent wait against the ideal (the time the
  bucket needs to refill), and what the backlog took meanwhile; then the same request in
  the backlog's own class, which waits its turn in line rather than being overtaken.
  (Before heads were ordered by time in line within a class, that second case starved:
  not served within ``GIVE_UP_S`` in 5 of 5 rounds while the backlog took ~200 grants.)

Prints a human summary and one JSON line. Bounded: fixed counts, fixed durations.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

from redis.asyncio import Redis

from claudeflow import Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend
from claudeflow.limiter._redis_pool import RedisPool
from claudeflow.testing import redis_server

__all__ = ["main"]

OPEN = RateLimits(rpm=10**9, input_tpm=10**12, output_tpm=10**12)  # never refuses
URGENT = RateLimits(rpm=100, window_s=1.0, burst=0.2, lead_s=0)  # 100/s, holds 20
HIGH, LOW = 0, 2
GIVE_UP_S = 2.0  # an urgent request not served by then counts as starved


# What the backend sends itself; the commands its scripts run inside Redis are no trips.
TOP_LEVEL = ("cmdstat_evalsha", "cmdstat_script|load", "cmdstat_ping")


async def commands(raw: Redis) -> int:
    stats = await raw.info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in TOP_LEVEL)


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_us": cuts[49] * 1e6, "p99_us": cuts[98] * 1e6}


async def latency(pool: RedisPool, raw: Redis, n: int, settle: bool) -> dict[str, float]:
    before = await commands(raw)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await pool.reserve(Cost(1, 100, 100), priority=1)
        samples.append(time.perf_counter() - start)
        if settle:
            pool.give_back(Cost(0, 40, 60))
    await pool.flush()
    trips = (await commands(raw) - before - 1) / n  # less the final flush
    return {"round_trips_per_reserve": trips, **percentiles(samples)}


async def concurrent(pool: RedisPool, n: int, width: int) -> dict[str, float]:
    samples: list[float] = []

    async def one() -> None:
        for _ in range(n // width):
            start = time.perf_counter()
            await pool.reserve(Cost(1, 100, 100), priority=1)
            samples.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(width)))
    return {"reserves_per_s": len(samples) / (time.perf_counter() - start), **percentiles(samples)}


async def ping(raw: Redis, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await raw.ping()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


async def wait_admitted(pool: RedisPool, cost: Cost, priority: int, stop: float) -> bool:
    loop = asyncio.get_running_loop()
    while loop.time() < stop:
        changed: asyncio.Future[None] = loop.create_future()
        pool.on_change = lambda f=changed: None if f.done() else f.set_result(None)
        wait = await pool.reserve(cost, priority=priority)
        if wait == 0:
            return True
        await asyncio.wait([changed], timeout=min(wait, stop - loop.time()))
    return False


async def priority(url: str, urgent_class: int, rounds: int = 5) -> dict[str, Any]:
    """``rounds`` requests for the whole bucket against a backlog of 8 single requests."""
    urgent_b, low_b = RedisBackend(url), RedisBackend(url)
    urgent = urgent_b.pool(f"prio{urgent_class}", URGENT, clock=LoopClock())
    low = low_b.pool(f"prio{urgent_class}", URGENT, clock=LoopClock())
    await urgent_b.start()
    await low_b.start()
    loop = asyncio.get_running_loop()
    stop = loop.time() + rounds * (GIVE_UP_S + 0.3) + 1.0
    taken = [0]

    async def backlog_worker() -> None:
        while loop.time() < stop and await wait_admitted(low, Cost(1, 0, 0), LOW, stop):
            taken[0] += 1

    workers = [loop.create_task(backlog_worker()) for _ in range(8)]
    waits: list[float | None] = []
    ideal, low_during = [], []
    for _ in range(rounds):
        await asyncio.sleep(0.3)  # the backlog drains the bucket meanwhile
        level = low.statistics().buckets["requests"].level
        before, start = taken[0], loop.time()
        served = await wait_admitted(urgent, Cost(20, 0, 0), urgent_class, start + GIVE_UP_S)
        waits.append(round(loop.time() - start, 3) if served else None)
        ideal.append(round(max(0.0, 20 - level) / 100, 3))
        low_during.append(taken[0] - before)
    stop = loop.time()
    await asyncio.gather(*workers)
    await urgent_b.aclose()
    await low_b.aclose()
    return {
        "urgent_wait_s": waits,  # None: not served within GIVE_UP_S
        "ideal_wait_s": ideal,
        "backlog_grants_during_urgent_wait": low_during,
    }


async def run(reserves: int, width: int) -> dict[str, Any]:
    with redis_server() as server:
        backend = RedisBackend(server.url, heartbeat_s=60, key_ttl_s=600)
        pool = backend.pool("bench", OPEN, clock=LoopClock())
        raw = Redis.from_url(server.url, decode_responses=True)
        await backend.start()
        await latency(pool, raw, 200, settle=False)  # warm-up
        result = {
            "ping": await ping(raw, reserves),
            "reserve": await latency(pool, raw, reserves, settle=False),
            "reserve_and_give_back": await latency(pool, raw, reserves, settle=True),
            f"reserve_x{width}": await concurrent(pool, reserves, width),
            "priority_urgent_high": await priority(server.url, HIGH),
            "priority_same_class": await priority(server.url, LOW),
        }
        await backend.aclose()
        await raw.aclose()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reserves", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    result = asyncio.run(run(args.reserves, args.concurrency))
    for name, numbers in result.items():
        print(f"{name:>24}: {numbers}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
