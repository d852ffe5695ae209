"""Acceptance: the example app under a 200-request burst against the simulator's limits.

Every request ends in a 200 or a clear 429/503 with ``Retry-After``; Claude (the
simulator) sees at most 1 429 per 1,000 requests; nothing is left in flight.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from fastapi_helpers import API_KEY, load_example, served

from claudeflow import RateLimits
from claudeflow.integrations.fastapi import TenantQuota
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

LIMITS = {"rpm": 120.0, "input_tpm": 200_000.0, "output_tpm": 50_000.0}
WINDOW = 2.0
BURST = 200


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


async def ask(client: aiohttp.ClientSession, i: int) -> Reply:
    async with client.post(
        "/chat",
        json={"prompt": f"question {i}", "max_tokens": 32},
        headers={"x-tenant-id": f"tenant-{i % 4}"},
    ) as response:
        headers = {k.lower(): v for k, v in response.headers.items()}
        return Reply(response.status, headers, await response.json())


async def test_example_app_answers_a_burst_with_200s_or_clear_back_pressure() -> None:
    example = load_example("fastapi_app")
    async with simulator(minute_seconds=WINDOW, ttft_s=0.01, **LIMITS) as sim:
        app = example.create_app(
            base_url=sim.url,
            api_key=API_KEY,
            limits=RateLimits(window_s=WINDOW, **LIMITS),
            concurrency=8,
            max_queue=60,
            queue_timeout=1.0,
            tenants=TenantQuota(max_concurrent=30),
        )
        async with served(app) as url:
            # aiohttp as the client: httpx's pool is quadratic in open connections.
            connector = aiohttp.TCPConnector(limit=BURST)
            async with aiohttp.ClientSession(url, connector=connector) as client:
                responses = await asyncio.gather(*(ask(client, i) for i in range(BURST)))
                async with client.get("/stats") as stats_response:
                    flow_stats = await stats_response.json()
        server = sim.stats()

    statuses = Counter(r.status for r in responses)
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses[200] > 0 and statuses[429] + statuses[503] > 0, statuses
    for response in responses:
        if response.status == 200:
            assert response.body["text"]
            continue
        assert int(response.headers["retry-after"]) >= 1
        error = response.body["error"]
        assert error["type"] in {"rate_limit_error", "overloaded_error"}
        assert error["message"] and API_KEY not in error["message"]
    # Claude never saw a 429 storm: at most 1 per 1,000 requests it received.
    assert server["rate_limited"] * 1000 <= server["received"]
    assert server["completed"] == statuses[200]
    assert flow_stats["completed"] == statuses[200]
    assert flow_stats["in_flight"] == 0 and flow_stats["queued"] == 0
