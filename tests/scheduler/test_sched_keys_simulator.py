"""Key pools and model pools against the real simulator, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from claudeflow import ApiKey, Flow, RateLimits
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration


def request(model: str, i: int) -> dict[str, Any]:
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": f"q{i}"}]}


async def test_three_keys_one_refused_every_request_succeeds_on_the_other_two() -> None:
    async with simulator(api_keys={"sk-good-1", "sk-good-2"}, rpm=600) as sim:
        keys = [ApiKey("sk-good-1", name="one"), ApiKey("sk-bad", name="bad")]
        keys.append(ApiKey("sk-good-2", name="two"))
        async with Flow(api_key=keys, base_url=sim.url, concurrency=12) as flow:
            results = await asyncio.gather(
                *(flow.create(**request("claude-haiku-4-5", i)) for i in range(90))
            )
            stats = flow.stats()
    assert len(results) == 90 and {r.key for r in results} == {"one", "two"}
    assert stats.failed == 0 and not stats.keys["bad"].active
    assert stats.keys["bad"].retired_reason == "HTTP 401 authentication_error"


async def test_model_classes_do_not_wait_for_each_other() -> None:
    # 30 requests per 1-second "minute" per class; 30 of each class fit at once.
    limits = RateLimits(rpm=30, window_s=1.0)
    async with simulator(rpm=30, minute_seconds=1.0) as sim:
        async with Flow(api_key="sk-test", base_url=sim.url, limits=limits) as flow:
            models = ["claude-haiku-4-5", "claude-sonnet-4-5"]
            results = await asyncio.gather(
                *(flow.create(**request(m, i)) for i in range(30) for m in models)
            )
            stats = flow.stats()
        server = sim.stats()
    assert len(results) == 60 and server["rate_limited"] == 0
    assert {name.split("/")[1] for name in stats.pools} == {"claude-haiku-4", "claude-sonnet-4"}
    by_pool = {name: sum(r.pool == name for r in results) for name in stats.pools}
    assert sorted(by_pool.values()) == [30, 30]  # each class paid from its own bucket
