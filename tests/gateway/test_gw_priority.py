"""A client's priority class is the Flow's: interactive keys overtake queued batch work."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from gw_helpers import HI, KEYS, MODEL, client_table, stack

pytestmark = pytest.mark.integration

BODY = {"model": MODEL, "max_tokens": 16, "messages": HI}


async def test_a_high_priority_client_overtakes_queued_low_priority_work() -> None:
    clients = client_table("alpha", priority="high") + client_table("batch", priority="low")
    finished: list[str] = []
    async with stack(upstream="concurrency = 1\n", clients=clients, sim={"ttft_s": 0.15}) as s:
        flow = s.gw.gateway.flow
        async with aiohttp.ClientSession() as session:

            async def send(name: str) -> None:
                headers = {"x-api-key": KEYS[name]}
                async with session.post(f"{s.url}/v1/messages", json=BODY, headers=headers) as r:
                    assert r.status == 200
                finished.append(name)

            low = [asyncio.create_task(send("batch")) for _ in range(4)]
            for _ in range(300):  # bounded: until one runs and three wait in line
                if flow.stats().queue_by_priority.get(2) == 3:
                    break
                await asyncio.sleep(0.01)
            assert flow.stats().queue_by_priority.get(2) == 3
            await send("alpha")
            await asyncio.gather(*low)
    assert finished == ["batch", "alpha", "batch", "batch", "batch"]
