"""The basics: one Flow, many concurrent requests, priorities, results and stats.

python examples/basic.py --simulate        # offline, against the built-in simulator
python examples/basic.py                   # the real API (ANTHROPIC_API_KEY)
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from _simulate import MODEL, endpoint

from claudeflow import Flow, Priority, Result


async def main(simulate: bool, n: int) -> int:
    async with endpoint(simulate) as api:
        async with Flow(api_key=api.api_key, base_url=api.base_url, limits=api.limits) as flow:

            async def ask(i: int) -> Result:
                # Every third request is interactive: it goes ahead of the batch work.
                priority = Priority.HIGH if i % 3 == 0 else Priority.LOW
                return await flow.create(
                    priority=priority,
                    model=MODEL,
                    max_tokens=64,
                    messages=[{"role": "user", "content": f"Give me fact number {i}."}],
                )

            results = await asyncio.gather(*(ask(i) for i in range(n)))
            stats = flow.stats()
    for i, result in enumerate(results[:5]):
        print(f"answer {i}: {result.text[:60]!r} ({result.usage.output_tokens} tokens)")
    print(
        f"{stats.completed} requests completed, {stats.failed} failed, "
        f"{stats.rate_limited} rate-limited; {stats.input_tokens} input + "
        f"{stats.output_tokens} output tokens, ${stats.cost_usd:.4f}"
    )
    return 0 if stats.completed == n else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="claudeflow basics")
    parser.add_argument("--simulate", action="store_true", help="use an in-process simulator")
    parser.add_argument("-n", type=int, default=30, help="how many requests")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.simulate, args.n)))
