"""2,000 background requests beside an interactive trickle: through Message Batches
versus everything through the Messages API, each against a fresh simulator.

Usage::

    python benchmarks/batches_offload.py [--background 2000] [--interactive-per-s 10]

Interactive requests are HIGH priority and arrive at a steady rate while the background
work runs; their latency is measured by the caller (call to result, wall clock). Cost is
claudeflow's accounting: Messages spend plus batch spend. Writes
``benchmarks/results/batches_offload.{json,md}`` and prints the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from claudeflow import BatchOffload, Flow, Priority, RateLimits
from claudeflow.simulator import BatchConfig, SimulatorConfig, run_simulator

MODEL = "claude-haiku-4-5"
WINDOW_S = 2.0  # one simulated minute lasts two seconds
LIMITS = {"rpm": 600, "input_tpm": 600_000, "output_tpm": 120_000}
# Batches are processed at the same pace as Messages, in a pool of their own (api doc §7).
BATCH = BatchConfig(process_rpm=600, process_output_tpm=120_000)
OFFLOAD = BatchOffload(linger_s=0.5, poll_s=0.25, poll_factor=1.5, poll_max_s=1.0)
RESULTS = Path(__file__).resolve().parent / "results"


def _body(kind: str, i: int, out: int) -> dict[str, Any]:
    text = f"{kind} {i}: " + "lorem ipsum " * 60 + f" [[output_tokens={out}]]"
    return {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}]}


async def _interactive(flow: Flow, rate: float, stop: asyncio.Event) -> list[float]:
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        await flow.create(**_body("chat", i, 40), priority=Priority.HIGH)
        latencies.append(time.perf_counter() - started)

    calls = []
    i = 0
    while not stop.is_set() and i < 10_000:  # bounded trickle
        calls.append(asyncio.ensure_future(one(i)))
        i += 1
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*calls)
    return latencies


async def run(name: str, background: int, rate: float, batched: bool) -> dict[str, Any]:
    config = SimulatorConfig(
        minute_seconds=WINDOW_S, ttft_s=0.05, per_token_s=0.001, batch=BATCH, **LIMITS
    )
    async with run_simulator(config) as sim:
        limits = RateLimits(window_s=WINDOW_S, **LIMITS)
        flow = Flow(
            api_key="sk-bench", base_url=sim.url, limits=limits, concurrency=32, batches=OFFLOAD
        )
        started = time.perf_counter()
        async with flow:
            stop = asyncio.Event()
            trickle = asyncio.ensure_future(_interactive(flow, rate, stop))
            work = [
                flow.create(**_body("report", i, 150), priority=Priority.LOW, batch=batched)
                for i in range(background)
            ]
            results = await asyncio.gather(*work)
            background_s = time.perf_counter() - started
            stop.set()
            latencies = await trickle
            stats = flow.stats()
        server = sim.stats()
    batch_cost = stats.batches.cost_usd if stats.batches else 0.0
    q = statistics.quantiles(latencies, n=100)
    return {
        "name": name,
        "background": len(results),
        "batched": sum(r.batched for r in results),
        "interactive": len(latencies),
        "interactive_p50_s": round(q[49], 3),
        "interactive_p95_s": round(q[94], 3),
        "interactive_max_s": round(max(latencies), 3),
        "background_done_s": round(background_s, 2),
        "messages_calls": server["by_endpoint"].get("messages", 0),
        "rate_limited": server["rate_limited"],
        "cost_usd": round(stats.cost_usd + batch_cost, 4),
    }


async def main(background: int, rate: float) -> list[dict[str, Any]]:
    rows = [
        await run("all interactive (Messages)", background, rate, batched=False),
        await run("background via Batches", background, rate, batched=True),
    ]
    for row in rows:
        row["cost_vs_interactive"] = round(row["cost_usd"] / rows[0]["cost_usd"], 3)
    RESULTS.mkdir(exist_ok=True)
    report = {"background": background, "interactive_per_s": rate, "runs": rows}
    (RESULTS / "batches_offload.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "batches_offload.md").write_text(_markdown(background, rate, rows))
    print(_markdown(background, rate, rows))
    return rows


def _markdown(background: int, rate: float, rows: list[dict[str, Any]]) -> str:
    head = (
        f"# {background:,} background requests beside {rate:g} interactive requests/s\n\n"
        f"Simulator limits {LIMITS} per {WINDOW_S:g} s minute; batches processed at the "
        "same pace in their own pool. Latency measured by the caller.\n\n"
        "| run | batched | interactive | p50 s | p95 s | max s | background done s "
        "| Messages calls | 429s | cost USD | vs all interactive |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['name']} | {r['batched']} | {r['interactive']} | {r['interactive_p50_s']} "
        f"| {r['interactive_p95_s']} | {r['interactive_max_s']} | {r['background_done_s']} "
        f"| {r['messages_calls']} | {r['rate_limited']} | {r['cost_usd']} "
        f"| {r['cost_vs_interactive']:.2f} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--background", type=int, default=2_000)
    parser.add_argument("--interactive-per-s", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(main(args.background, args.interactive_per_s))
