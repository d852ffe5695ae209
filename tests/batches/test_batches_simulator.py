"""Batches end to end over real HTTP against the simulator's batch endpoints."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from batch_helpers import API_KEY, MODEL

from claudeflow import Flow, Priority
from claudeflow.batches import BatchOffload
from claudeflow.simulator import BatchConfig
from claudeflow.testing import simulator
from claudeflow.tokens import PriceTable

pytestmark = pytest.mark.integration

FAST = BatchOffload(linger_s=0.05, poll_s=0.05, poll_factor=1.5, poll_max_s=0.2)


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (bounded, up to 10 s) until ``condition`` holds; no timing is asserted."""
    for _ in range(1_000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def request(i: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"item {i} [[output_tokens=12]]"}],
    }


async def test_batched_callers_get_batch_priced_results_end_to_end() -> None:
    prices = PriceTable.default()
    async with simulator() as sim:
        async with Flow(api_key=API_KEY, base_url=sim.url, batches=FAST) as flow:
            results = await asyncio.gather(
                *(flow.create(**request(i), priority=Priority.LOW) for i in range(20))
            )
            interactive = await flow.create(**request(99))
            stats = flow.stats()
        server = sim.stats()
    assert server["by_endpoint"]["batches.create"] == 1
    assert server["by_endpoint"]["messages"] == 1  # only the interactive request
    assert not interactive.batched
    for result in results:
        assert result.batched
        assert result.message["usage"]["service_tier"] == "batch"
        assert result.usage.output_tokens == 12
        full = prices.cost_usd(MODEL, result.usage)
        assert full is not None and result.cost_usd == pytest.approx(full / 2)
    assert stats.batches is not None and stats.batches.succeeded == 20
    assert stats.completed == 1  # the Messages path saw one request


async def test_leaving_callers_cancel_their_batch_on_the_api() -> None:
    # One request per simulated minute of 60 s: the batch stays in progress.
    config = {"batch": BatchConfig(process_rpm=1), "minute_seconds": 60}
    async with simulator(**config) as sim:
        async with Flow(api_key=API_KEY, base_url=sim.url, batches=FAST) as flow:
            tasks = [asyncio.ensure_future(flow.create(**request(i), batch=True)) for i in range(3)]
            await eventually(lambda: sim.stats()["batches"]["batches"] == 1)
            for task in tasks:
                task.cancel()
            # The batch task ends once it has cancelled the batch on the API.
            await eventually(lambda: flow.stats().batches.batches_running == 0)  # type: ignore[union-attr]
        server = sim.stats()
    assert all(t.cancelled() for t in tasks)
    assert server["by_endpoint"]["batches.cancel"] == 1
