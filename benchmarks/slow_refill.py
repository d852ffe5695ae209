"""Output charged as generated, against a slow output refill and a slow first token.

A burst sent while the server's output bucket is full is charged ahead by the Flow at
once, while the server debits nothing until the first tokens come: the server's bucket
sits full, and the refill the Flow's own bucket gets meanwhile the server never gets.
Each run sends a backlog of long replies through ``OutputReservation("as_generated")``
at concurrency 32 and counts the server's 429s.

Usage::

    python benchmarks/slow_refill.py [--requests 160] [--seed 1]

Writes ``benchmarks/results/slow_refill.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

from claudeflow import Flow, OutputReservation, RateLimits, TokenCounting
from claudeflow.simulator import SimulatorConfig, run_simulator

MODEL = "claude-sonnet-4-5"
WINDOW_S = 6.0  # one simulated minute lasts six seconds
BURST = 0.1
CONCURRENCY = 32
RESULTS = Path(__file__).resolve().parent / "results"
# (output tokens per minute, seconds to the first token): a slow refill with a first
# token soon, later and much later, and a fast refill for comparison.
SETUPS = ((12_000, 0.05), (12_000, 0.3), (12_000, 1.0), (120_000, 0.3))


def workload(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` short prompts asking for 20-50 % of a ``max_tokens`` of 400-800."""
    rng = random.Random(seed)
    bodies = []
    for i in range(n):
        max_tokens = rng.randint(400, 800)
        out = round(max_tokens * rng.uniform(0.2, 0.5))
        prompt = f"request {i}: write it out [[output_tokens={out}]]"
        bodies.append(
            {
                "model": MODEL,
                "max_tokens": max_tokens,
                "messages": [{"role": "user", "content": prompt}],
            }
        )
    return bodies


async def run(output_tpm: int, ttft_s: float, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    limits = {"rpm": 6_000, "input_tpm": 6_000_000, "output_tpm": output_tpm}
    config = SimulatorConfig(
        minute_seconds=WINDOW_S,
        burst=BURST,
        otpm_mode="actual",
        ttft_s=ttft_s,
        per_token_s=0.002,
        **limits,
    )
    async with run_simulator(config) as sim:
        flow = Flow(
            api_key="sk-bench",
            base_url=sim.url,
            limits=RateLimits(window_s=WINDOW_S, burst=BURST, **limits),
            concurrency=CONCURRENCY,
            tokens=TokenCounting(output_reservation=OutputReservation(mode="as_generated")),
        )
        started = time.perf_counter()
        async with flow:
            outcomes = await asyncio.gather(
                *(flow.create(**body) for body in bodies), return_exceptions=True
            )
        wall = time.perf_counter() - started
        server = sim.stats()
    failed = sum(1 for outcome in outcomes if isinstance(outcome, BaseException))
    return {
        "output_tpm": output_tpm,
        "ttft_s": ttft_s,
        "requests": len(bodies),
        "failed": failed,
        "server_429s": server["rate_limited"],
        "per_1000": round(1000 * server["rate_limited"] / len(bodies), 1),
        "wall_s": round(wall, 2),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| output TPM | first token (s) | requests | failed | server 429s | per 1,000 | wall (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['output_tpm']:,} | {r['ttft_s']:g} | {r['requests']} | {r['failed']} | "
        f"{r['server_429s']} | {r['per_1000']} | {r['wall_s']} |"
        for r in rows
    )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=160)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bodies = workload(args.requests, args.seed)
    rows = [await run(tpm, ttft, bodies) for tpm, ttft in SETUPS]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "slow_refill.json").write_text(json.dumps(rows, indent=2) + "\n")
    text = (
        f"# slow_refill: output charged as generated (seed {args.seed}, "
        f"{CONCURRENCY} in flight, {WINDOW_S:g} s minute, burst {BURST})\n\n{table(rows)}\n"
    )
    (RESULTS / "slow_refill.md").write_text(text)
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
