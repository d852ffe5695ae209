"""Cache and coalescing over real HTTP against the simulator, counting its calls."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from cache_helpers import API_KEY, MODEL

from claudeflow import Flow
from claudeflow.cache import ResponseCache
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration


def request(i: int, **extra: Any) -> dict[str, Any]:
    prompt = f"question {i}: " + "lorem ipsum " * 20 + " [[output_tokens=20]]"
    return {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def workload(n: int = 100, repeat_share: float = 0.3) -> list[dict[str, Any]]:
    """``n`` requests of which ``repeat_share`` repeat an earlier one, in a fixed order."""
    rng = random.Random(30)
    unique = [request(i) for i in range(round(n * (1 - repeat_share)))]
    repeats = [rng.choice(unique) for _ in range(n - len(unique))]
    mixed = unique + repeats
    rng.shuffle(mixed)
    return mixed


async def test_100_identical_concurrent_requests_make_one_api_call() -> None:
    async with simulator(ttft_s=0.05) as sim:
        async with Flow(api_key=API_KEY, base_url=sim.url, concurrency=100) as flow:
            results = await asyncio.gather(
                *(flow.create(**request(0, temperature=0)) for _ in range(100))
            )
        server = sim.stats()
    assert server["by_endpoint"] == {"messages": 1}
    assert len({r.text for r in results}) == 1
    assert all(not r.cache_hit for r in results)


async def _run(bodies: list[dict[str, Any]], cache: ResponseCache | None) -> tuple[int, float]:
    async with simulator() as sim:
        async with Flow(api_key=API_KEY, base_url=sim.url, cache=cache, concurrency=8) as flow:
            results = await asyncio.gather(*(flow.create(**b) for b in bodies))
            spent = flow.stats().cost_usd
        calls = sim.stats()["by_endpoint"].get("messages", 0)
    assert len(results) == len(bodies)
    return calls, spent


async def test_with_30_percent_repeats_the_cache_cuts_calls_and_cost_by_a_quarter() -> None:
    bodies = workload()
    calls_without, cost_without = await _run(bodies, None)
    calls_with, cost_with = await _run(bodies, ResponseCache(ttl_s=3600))
    assert calls_without == 100
    assert calls_with == 70  # each distinct prompt asked once (cached or coalesced)
    assert calls_with <= 0.75 * calls_without
    assert cost_with <= 0.75 * cost_without
