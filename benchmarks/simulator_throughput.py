"""Raw throughput of the simulator: small non-streaming requests, limits off, no latency.

The simulator runs in this process; the load generator runs in a separate (spawned)
process so the two do not share one core's event loop (this machine has 2 cores). Pass
``--same-process`` to drive it from this process instead.

Usage::

    python benchmarks/simulator_throughput.py [--requests 5000] [--concurrency 64]

Prints a human line and one JSON line. The run is bounded: at most ``--requests``
requests (plus a small warm-up) and ``TIMEOUT_S`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import aiohttp

from claudeflow.simulator import SimulatorConfig, run_simulator

__all__ = ["drive", "main", "run"]

REQUESTS = 5_000
CONCURRENCY = 64
WARMUP = 200
MAX_REQUESTS = 1_000_000
TIMEOUT_S = 300.0
HEADERS = {
    "x-api-key": "sk-bench",
    "anthropic-version": "2023-06-01",
    "content-type": "application/json",
}
BODY = json.dumps(
    {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Say hi. [[output_tokens=8]]"}],
    }
).encode()


async def drive(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Send ``requests`` requests over ``concurrency`` workers; time them."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        await _burst(http, url, WARMUP, concurrency, Counter())
        statuses: Counter[int] = Counter()
        start = time.perf_counter()
        async with asyncio.timeout(TIMEOUT_S):
            await _burst(http, url, requests, concurrency, statuses)
        elapsed = time.perf_counter() - start
    return {"requests": requests, "seconds": elapsed, "statuses": dict(statuses)}


async def _burst(
    http: aiohttp.ClientSession, url: str, total: int, concurrency: int, statuses: Counter[int]
) -> None:
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:  # the shared iterator hands out the work
            async with http.post(f"{url}/v1/messages", data=BODY, headers=HEADERS) as resp:
                await resp.read()
                statuses[resp.status] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _drive_in_process(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    return asyncio.run(drive(url, requests, concurrency))


async def run(requests: int, concurrency: int, same_process: bool) -> dict[str, Any]:
    config = SimulatorConfig(ttft_s=0.0, per_token_s=0.0)  # limits default to None: off
    async with run_simulator(config) as sim:
        if same_process:
            result = await drive(sim.url, requests, concurrency)
        else:
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                loop = asyncio.get_running_loop()
                future = loop.run_in_executor(
                    pool, _drive_in_process, sim.url, requests, concurrency
                )
                result = await future
        server = sim.stats()
    rps = result["requests"] / result["seconds"]
    return {
        "benchmark": "simulator_throughput",
        "requests": result["requests"],
        "concurrency": concurrency,
        "load_generator": "same process" if same_process else "separate process",
        "seconds": round(result["seconds"], 3),
        "requests_per_s": round(rps, 1),
        "statuses": result["statuses"],
        "server_admitted": server["admitted"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--same-process", action="store_true")
    args = parser.parse_args(argv)
    requests = max(1, min(args.requests, MAX_REQUESTS))
    report = asyncio.run(run(requests, max(1, args.concurrency), args.same_process))
    print(
        f"simulator: {report['requests_per_s']:,.0f} requests/s "
        f"({report['requests']} requests, concurrency {report['concurrency']}, "
        f"load generator in {report['load_generator']})"
    )
    print(json.dumps(report))
    succeeded = sum(n for status, n in report["statuses"].items() if int(status) == 200)
    return 0 if succeeded == report["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
