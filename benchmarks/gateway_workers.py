"""Four client applications hammer one gateway: 2 worker processes sharing limits in Redis.

    PYTHONPATH=. python benchmarks/gateway_workers.py                 # 40 s, ~85 req/s offered
    PYTHONPATH=. python benchmarks/gateway_workers.py --seconds 60 --scale 1.5

Real parts: a real ``redis-server``, ``claudeflow serve --workers 2`` in child processes,
and the simulator over HTTP (in this process, so its counters can be read) allowing
``--rpm`` requests per simulated minute (default 300), a minute lasting 10 real seconds
(30 req/s). The four
clients send open-loop Poisson load, each on its own connection pool:

===========  ========  ===================  ==================================
client       priority  its own quota        offered
===========  ========  ===================  ==================================
search       high      none                 10 req/s
chat         normal    none                 30 req/s
batch        low       none                 40 req/s
abuser       normal    rpm = 30             5 req/s (over its quota)
===========  ========  ===================  ==================================

Offered load (85 req/s at ``--scale 1``) is almost three times the upstream's, so the
gateway must queue and refuse: the goals are ≤ 1 upstream 429 per 1,000 upstream
requests, the abuser refused by its own quota (its 429s, nobody else's), and the HIGH
client's p95 latency under 1 s while LOW work waits. Client quotas are per worker (each
worker enforces ``rpm = 30`` on the requests it receives), so the abuser's share of
successes is up to twice its quota; that is measured and reported, not hidden.

Results go to ``benchmarks/results/gateway_workers.{json,md}``.
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
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from claudeflow.gateway import hash_key
from claudeflow.testing import redis_server, simulator

MODEL = "claude-haiku-4-5"
UPSTREAM_KEY = "sk-ant-bench-upstream"
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MINUTE_S = 10.0


@dataclass(frozen=True)
class Client:
    name: str
    priority: str
    rate: float
    rpm: float | None = None

    @property
    def key(self) -> str:
        return f"gw-bench-{self.name}"


CLIENTS = (
    Client("search", "high", 10.0),
    Client("chat", "normal", 30.0),
    Client("batch", "low", 40.0),
    Client("abuser", "normal", 5.0, rpm=30),
)


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # of 200s only


def _config(sim_url: str, redis_url: str, rpm: float) -> str:
    lines = [
        "[gateway]", "port = 0", "shutdown_timeout_s = 5", "[upstream]",
        f'base_url = "{sim_url}"', f'api_key = "{UPSTREAM_KEY}"', f"rpm = {rpm}",
        f"window_s = {MINUTE_S}", "concurrency = 64", "queue_timeout_s = 5",
        f'redis = "{redis_url}"',
    ]  # fmt: skip
    for client in CLIENTS:
        lines += [
            "[[clients]]", f'name = "{client.name}"', f'key_sha256 = "{hash_key(client.key)}"',
            f'priority = "{client.priority}"',
        ]  # fmt: skip
        if client.rpm is not None:
            lines.append(f"rpm = {client.rpm}")
    return "\n".join(lines) + "\n"


@contextlib.asynccontextmanager
async def _gateway(config: str, workers: int) -> AsyncIterator[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(config)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claudeflow.cli", "serve", file.name, "--workers", str(workers),
        "--log-level", "WARNING", stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 30)).decode()
        yield line.split()[-3]
    finally:
        child.terminate()
        await asyncio.wait_for(child.wait(), 30)
        os.unlink(file.name)


async def _load(url: str, client: Client, seconds: float, seed: int) -> Outcome:
    """Open-loop Poisson arrivals at ``client.rate`` for ``seconds``."""
    rng = random.Random(seed)
    outcome = Outcome()
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"{client.name} [[output_tokens=24]]"}],
    }
    headers = {"x-api-key": client.key, "anthropic-version": "2023-06-01"}
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            started = time.perf_counter()
            async with session.post(f"{url}/v1/messages", json=body, headers=headers) as r:
                await r.read()
            outcome.statuses[r.status] += 1
            if r.status == 200:
                outcome.latencies.append(time.perf_counter() - started)

        tasks = []
        start = next_at = time.perf_counter()
        while (next_at := next_at + rng.expovariate(client.rate)) < start + seconds:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return outcome


def _quantile(values: list[float], q: int) -> float | None:
    if len(values) < 2:
        return None
    return statistics.quantiles(values, n=100)[q - 1]


async def run(seconds: float, scale: float, rpm: float, workers: int) -> dict[str, Any]:
    clients = [Client(c.name, c.priority, c.rate * scale, c.rpm) for c in CLIENTS]
    with redis_server() as redis:
        async with simulator(
            api_keys=frozenset({UPSTREAM_KEY}), rpm=rpm, minute_seconds=MINUTE_S,
            ttft_s=0.05, per_token_s=0.001,
        ) as sim:  # fmt: skip
            async with _gateway(_config(sim.url, redis.url, rpm), workers) as url:
                started = time.perf_counter()
                outcomes = await asyncio.gather(
                    *(_load(url, c, seconds, seed) for seed, c in enumerate(clients))
                )
                elapsed = time.perf_counter() - started
            stats = sim.stats()
    upstream = stats["admitted"] + stats["rate_limited"]
    return {
        "seconds": seconds,
        "elapsed_s": round(elapsed, 2),
        "workers": workers,
        "upstream_rpm": rpm,
        "upstream_capacity_per_s": rpm / MINUTE_S,
        "upstream_requests": upstream,
        "upstream_429": stats["rate_limited"],
        "upstream_429_per_1000": round(1000 * stats["rate_limited"] / max(1, upstream), 3),
        "clients": {
            c.name: {
                "priority": c.priority,
                "offered_per_s": c.rate,
                "quota_rpm": c.rpm,
                "statuses": dict(sorted(o.statuses.items())),
                "ok_per_s": round(o.statuses[200] / elapsed, 2),
                "p50_s": _round(_quantile(o.latencies, 50)),
                "p95_s": _round(_quantile(o.latencies, 95)),
            }
            for c, o in zip(clients, outcomes, strict=True)
        },
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _markdown(report: dict[str, Any], command: str) -> str:
    lines = [
        "# Gateway: 4 clients, 2 workers sharing limits through Redis",
        "",
        f"`{command}`",
        "",
        f"Upstream: {report['upstream_capacity_per_s']:g} req/s "
        f"({report['upstream_rpm']:g} per {MINUTE_S:g}-second minute); "
        f"{report['workers']} gateway workers; {report['elapsed_s']} s.",
        "",
        f"**Upstream 429s: {report['upstream_429']} of {report['upstream_requests']} "
        f"requests = {report['upstream_429_per_1000']} per 1,000** (goal ≤ 1).",
        "",
        "| client | priority | quota rpm | offered/s | ok/s | statuses | p50 s | p95 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in report["clients"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in c["statuses"].items())
        lines.append(
            f"| {name} | {c['priority']} | {c['quota_rpm'] or '-'} | {c['offered_per_s']:g} | "
            f"{c['ok_per_s']} | {statuses} | {c['p50_s']} | {c['p95_s']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every offered rate")
    parser.add_argument("--rpm", type=float, default=300.0, help="upstream requests per minute")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run(args.seconds, args.scale, args.rpm, args.workers))
    print(json.dumps(report, indent=2))
    if not args.no_save:
        command = "PYTHONPATH=. python benchmarks/gateway_workers.py " + " ".join(sys.argv[1:])
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "gateway_workers.json").write_text(json.dumps(report, indent=2) + "\n")
        (RESULTS / "gateway_workers.md").write_text(_markdown(report, command.strip()))


if __name__ == "__main__":
    main()
