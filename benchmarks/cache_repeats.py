"""30 % repeated prompts: API calls, tokens and cost without the cache, with it, and
with it but without coalescing, each against a fresh simulator with the same limits.

Usage::

    python benchmarks/cache_repeats.py [--requests 600] [--repeat-share 0.3] [--seed 1]

Counts come from the simulator (server side); cost from ``Flow.stats()``. Writes
``benchmarks/results/cache_repeats.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from claudeflow import Flow, RateLimits, ResponseCache
from claudeflow.simulator import SimulatorConfig, run_simulator

MODEL = "claude-haiku-4-5"
WINDOW_S = 2.0  # one simulated minute lasts two seconds
LIMITS = {"rpm": 1_200, "input_tpm": 400_000, "output_tpm": 100_000}
ARRIVALS_PER_S = 200.0
RESULTS = Path(__file__).resolve().parent / "results"


def workload(n: int, repeat_share: float, seed: int) -> list[dict[str, Any]]:
    """``n`` requests; ``repeat_share`` of them repeat an earlier prompt, spread through."""
    rng = random.Random(seed)
    bodies = [_request(i, rng) for i in range(round(n * (1 - repeat_share)))]
    for _ in range(n - len(bodies)):
        at = rng.randrange(1, len(bodies) + 1)
        bodies.insert(at, rng.choice(bodies[:at]))
    return bodies


def _request(i: int, rng: random.Random) -> dict[str, Any]:
    prompt = f"ticket {i}: " + "lorem ipsum " * rng.randint(20, 120)
    out = rng.randint(20, 200)
    return {
        "model": MODEL,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": f"{prompt} [[output_tokens={out}]]"}],
    }


async def run(name: str, bodies: list[dict[str, Any]], **flow_kwargs: Any) -> dict[str, Any]:
    config = SimulatorConfig(minute_seconds=WINDOW_S, ttft_s=0.05, per_token_s=0.0005, **LIMITS)
    async with run_simulator(config) as sim:
        limits = RateLimits(window_s=WINDOW_S, **LIMITS)
        flow = Flow(
            api_key="sk-bench", base_url=sim.url, limits=limits, concurrency=32, **flow_kwargs
        )
        started = time.perf_counter()
        async with flow:
            results = await asyncio.gather(*(_arrive(flow, i, b) for i, b in enumerate(bodies)))
            stats = flow.stats()
        wall = time.perf_counter() - started
        server = sim.stats()
    cache = stats.cache
    return {
        "name": name,
        "requests": len(results),
        "api_calls": server["by_endpoint"].get("messages", 0),
        "input_tokens": server["tokens"]["input"],
        "output_tokens": server["tokens"]["output"],
        "cost_usd": round(stats.cost_usd, 6),
        "cache_hits": cache.hits if cache else 0,
        "coalesced": cache.coalesced if cache else 0,
        "rate_limited": server["rate_limited"],
        "wall_s": round(wall, 2),
    }


async def _arrive(flow: Flow, i: int, body: dict[str, Any]) -> Any:
    await asyncio.sleep(i / ARRIVALS_PER_S)  # open-loop arrivals, not one burst
    return await flow.create(**body)


async def main(n: int, repeat_share: float, seed: int) -> list[dict[str, Any]]:
    bodies = workload(n, repeat_share, seed)
    distinct = len({json.dumps(b, sort_keys=True) for b in bodies})
    rows = [
        await run("no cache", bodies, coalesce=False),
        await run("cache, no coalescing", bodies, cache=ResponseCache(ttl_s=3600), coalesce=False),
        await run("cache + coalescing", bodies, cache=ResponseCache(ttl_s=3600)),
    ]
    base = rows[0]
    for row in rows:
        row["calls_vs_no_cache"] = round(row["api_calls"] / base["api_calls"], 3)
        row["cost_vs_no_cache"] = round(row["cost_usd"] / base["cost_usd"], 3)
    report = {"requests": n, "distinct": distinct, "repeat_share": repeat_share, "seed": seed}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cache_repeats.json").write_text(
        json.dumps({**report, "runs": rows}, indent=2) + "\n"
    )
    (RESULTS / "cache_repeats.md").write_text(_markdown(report, rows))
    print(_markdown(report, rows))
    return rows


def _markdown(report: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    head = (
        f"# Cache with {report['repeat_share']:.0%} repeated prompts\n\n"
        f"{report['requests']} requests, {report['distinct']} distinct, seed {report['seed']}; "
        f"arriving at {ARRIVALS_PER_S:.0f}/s, 32 concurrent, against the simulator "
        "(calls and tokens counted server side).\n\n"
        "| run | API calls | vs no cache | input tokens | output tokens | cost USD | vs no cache "
        "| hits | coalesced | 429s | wall s |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['name']} | {r['api_calls']} | {r['calls_vs_no_cache']:.2f} | {r['input_tokens']:,} "
        f"| {r['output_tokens']:,} | {r['cost_usd']:.4f} | {r['cost_vs_no_cache']:.2f} "
        f"| {r['cache_hits']} | {r['coalesced']} | {r['rate_limited']} | {r['wall_s']} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--repeat-share", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeat_share, args.seed))
