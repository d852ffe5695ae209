"""What the gateway adds: latency (p50/p99) and CPU per request, against a direct Flow.

    PYTHONPATH=. python benchmarks/gateway_overhead.py            # ~200 req/s, 2 rounds
    PYTHONPATH=. python benchmarks/gateway_overhead.py --rate 200 --requests 2000 --rounds 2

The simulator runs in its own process with no limits and no latency, so every
millisecond measured is client-side. Each round runs the same open-loop load (Poisson
arrivals at ``--rate``) twice:

- **direct**: this process awaits ``flow.create`` (CPU = this process: Flow + load);
- **gateway**: this process POSTs ``/v1/messages`` to ``claudeflow serve`` running in a
  child process (CPU = the gateway process, read from ``/proc``; the load generator's
  own CPU is reported beside it).

Latency is measured around each call by the load generator, so "added" is the whole
cost of one more HTTP hop through the gateway. Rounds alternate to expose noise from
other work on the machine; absolute numbers are noise on shared cores, ratios less so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from claudeflow import Flow
from claudeflow.bench._sim_process import simulator_process

MODEL = "claude-haiku-4-5"
GATEWAY_KEY = "gw-bench-key"
UPSTREAM_KEY = "sk-ant-bench-upstream"
BODY = {
    "model": MODEL,
    "max_tokens": 32,
    "messages": [{"role": "user", "content": "Benchmark [[output_tokens=16]]"}],
}


async def _drive(call: Callable[[], Awaitable[None]], rate: float, count: int) -> list[float]:
    """Open-loop load: start ``count`` calls at Poisson times; return their latencies."""
    rng = random.Random(1)
    latencies: list[float] = []

    async def timed() -> None:
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)

    tasks = []
    next_at = time.perf_counter()
    for _ in range(count):
        next_at += rng.expovariate(rate)
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        tasks.append(asyncio.create_task(timed()))
    await asyncio.gather(*tasks)
    return latencies


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def _direct(url: str, rate: float, count: int) -> dict[str, Any]:
    async with Flow(api_key=UPSTREAM_KEY, base_url=url, learn_limits=False, concurrency=64) as flow:

        async def call() -> None:
            await flow.create(**BODY)

        await _drive(call, rate, 50)  # warm up connections and the tokenizer
        cpu = time.process_time()
        latencies = await _drive(call, rate, count)
        cpu = time.process_time() - cpu
    return _summary(latencies, {"flow_process_cpu_us": cpu / count * 1e6})


@contextlib.asynccontextmanager
async def _gateway_process(sim_url: str) -> AsyncIterator[tuple[str, int]]:
    from claudeflow.gateway import hash_key

    config = (
        f'[gateway]\nport = 0\n[upstream]\nbase_url = "{sim_url}"\napi_key = "{UPSTREAM_KEY}"\n'
        f'concurrency = 64\n[[clients]]\nname = "bench"\n'
        f'key_sha256 = "{hash_key(GATEWAY_KEY)}"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(config)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claudeflow.cli", "serve", file.name, "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        yield line.decode().split()[-1], child.pid
    finally:
        child.terminate()
        await child.wait()
        os.unlink(file.name)


async def _via_gateway(url: str, pid: int, rate: float, count: int) -> dict[str, Any]:
    headers = {"x-api-key": GATEWAY_KEY, "anthropic-version": "2023-06-01"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> None:
            async with session.post(f"{url}/v1/messages", json=BODY, headers=headers) as r:
                await r.read()
                assert r.status == 200, r.status

        await _drive(call, rate, 50)
        gateway_cpu, own_cpu = _cpu_of(pid), time.process_time()
        latencies = await _drive(call, rate, count)
        gateway_cpu = _cpu_of(pid) - gateway_cpu
        own_cpu = time.process_time() - own_cpu
    return _summary(
        latencies,
        {
            "gateway_process_cpu_us": gateway_cpu / count * 1e6,
            "load_generator_cpu_us": own_cpu / count * 1e6,
        },
    )


def _summary(latencies: list[float], cpu: dict[str, float]) -> dict[str, Any]:
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3, **cpu}


async def main(rate: float, count: int, rounds: int) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    async with simulator_process() as sim_url, _gateway_process(sim_url) as (gw_url, pid):
        for _ in range(rounds):
            direct = await _direct(sim_url, rate, count)
            gateway = await _via_gateway(gw_url, pid, rate, count)
            runs.append({"direct": direct, "gateway": gateway})
    return {"rate_per_s": rate, "requests": count, "rounds": runs, "median": _median(runs)}


def _median(runs: list[dict[str, Any]]) -> dict[str, float]:
    def mid(path: str, key: str) -> float:
        return statistics.median(run[path][key] for run in runs)

    return {
        "direct_p50_ms": mid("direct", "p50_ms"),
        "direct_p99_ms": mid("direct", "p99_ms"),
        "gateway_p50_ms": mid("gateway", "p50_ms"),
        "gateway_p99_ms": mid("gateway", "p99_ms"),
        "added_p50_ms": mid("gateway", "p50_ms") - mid("direct", "p50_ms"),
        "added_p99_ms": mid("gateway", "p99_ms") - mid("direct", "p99_ms"),
        "flow_process_cpu_us": mid("direct", "flow_process_cpu_us"),
        "gateway_process_cpu_us": mid("gateway", "gateway_process_cpu_us"),
        "load_generator_cpu_us": mid("gateway", "load_generator_cpu_us"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--requests", type=int, default=2000, help="per phase")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = parser.parse_args()
    report = asyncio.run(main(args.rate, args.requests, args.rounds))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
