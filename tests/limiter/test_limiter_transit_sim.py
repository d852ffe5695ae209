"""The transit-bounded lead against the simulator's own buckets, in virtual time.

A client admits from a :class:`MemoryPool` the instant it can pay, and each request
reaches the simulator's core some time after it was taken: 10 ms for the bucket that
opens each burst (new connections), 2 ms after that, and 1.5 s for the last 3 of each
burst (stragglers, still out when the next burst starts). A stream's headers come back
1 ms after its arrival, a plain reply's with its end. Bursts are twice a bucket and
idle gaps refill both buckets; the server's fills first, while the stragglers are on
their way, and loses the refill ours keeps. With the lead cut to what the pool saw the
server refuses nothing; with no lead at all it does, and so does a bound that stops
growing after the first answer, so the setup can tell.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from claudeflow import Cost, RateLimits
from claudeflow.limiter import MemoryPool
from claudeflow.simulator import SimulatedAPI, SimulatorConfig
from claudeflow.testing import FakeClock

# 100 requests per second from a bucket of 60.
LIMITS = RateLimits(rpm=600, window_s=6.0, burst=0.1)
CONFIG = SimulatorConfig(
    rpm=600, input_tpm=None, output_tpm=None, minute_seconds=6.0, burst=0.1, ttft_s=0.0
)
HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}
BODY = json.dumps(
    {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
).encode()
ONE = Cost(1, 0, 0)
BURSTS, PER_BURST, GAP_S = 3, 120, 1.0  # a bucket (60) refills in 0.6 s


async def _statuses(limits: RateLimits) -> list[int]:
    clock = FakeClock()
    api = SimulatedAPI(CONFIG, clock, wall_offset=0.0)
    pool = MemoryPool("p", limits, clock=clock)
    statuses: list[int] = []

    async def one(token: int | None, transit_s: float, streamed: bool) -> None:
        await clock.sleep(transit_s)
        reply = api.messages(HEADERS, BODY)
        statuses.append(reply.status)
        # A stream's headers come back at once; a plain reply's after its generation.
        await clock.sleep(0.001 if streamed else 0.02)
        pool.answered(token)
        # A plain reply's rate-limit headers are computed when it is sent.
        headers = reply.refresh() if reply.refresh is not None else reply.headers
        pool.clamp("requests", float(headers["anthropic-ratelimit-requests-remaining"]))

    async def client() -> None:
        tasks = []
        for _ in range(BURSTS):
            for n in range(PER_BURST):
                while (wait := pool.delay(ONE)) > 0:
                    await clock.sleep(wait)
                pool.take(ONE)
                token = pool.sent()
                streamed = pool.early_headers()
                transit = 0.01 if n < 60 else 0.002  # the opening bucket: new connections
                if n >= PER_BURST - 3:
                    transit = 1.5
                tasks.append(asyncio.create_task(one(token, transit, streamed)))
            await clock.sleep(GAP_S)
        await asyncio.gather(*tasks)

    running = asyncio.create_task(client())
    await clock.run_until_idle()
    await running
    return statuses


async def test_the_cut_lead_keeps_every_burst_under_the_server_limit() -> None:
    statuses = await _statuses(LIMITS)
    assert len(statuses) == BURSTS * PER_BURST
    assert set(statuses) == {200}


async def test_without_a_lead_the_same_bursts_draw_429s() -> None:
    statuses = await _statuses(replace(LIMITS, lead_s=0.0))
    assert 429 in statuses
