"""A child process of the Redis Flow tests: one Flow sending N requests, stats as JSON.

python redis_child.py SIM_URL REDIS_URL N PRIORITY [MODEL]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from claudeflow import Flow, RateLimits
from claudeflow.limiter import RedisBackend


async def main(sim_url: str, redis_url: str, n: int, priority: str) -> None:
    limits = RateLimits(rpm=60, input_tpm=60_000, output_tpm=20_000, window_s=2.0)
    flow = Flow(
        api_key="sk-shared",
        base_url=sim_url,
        limits=limits,
        backend=RedisBackend(redis_url, heartbeat_s=0.2),
        concurrency=32,
    )
    async with flow:
        started = time.monotonic()
        body = {"model": "claude-haiku-4-5", "max_tokens": 16}
        results = await asyncio.gather(
            *(
                flow.create(
                    **body,
                    priority=priority,
                    messages=[{"role": "user", "content": f"{priority} {i}"}],
                )
                for i in range(n)
            ),
            return_exceptions=True,
        )
        stats = flow.stats()
    failed = [repr(r) for r in results if isinstance(r, BaseException)]
    waits = sorted(r.queue_wait_s for r in results if not isinstance(r, BaseException))
    print(
        json.dumps(
            {
                "completed": stats.completed,
                "failed": failed[:3],
                "rate_limited": stats.rate_limited,
                "elapsed": time.monotonic() - started,
                "p95_wait": waits[int(0.95 * (len(waits) - 1))] if waits else None,
                "mode": next(iter(stats.pools.values())).mode,
            }
        )
    )


if __name__ == "__main__":
    sim, redis, count, level = sys.argv[1:5]
    asyncio.run(main(sim, redis, int(count), level))
