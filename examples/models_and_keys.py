"""Many models and many keys behind one Flow: pools, a key pool, routes, fallback, quotas.

python examples/models_and_keys.py --simulate    # offline: an in-process simulator

The simulated account allows 60 requests per "minute" (2 s) per model class on each of
two good keys: 2 x 200 requests take about 2 s, where one bucket on one key would take
11 s. A third key is refused (401). Haiku and Sonnet requests each wait only in
their own class's line, the refused key leaves the rotation, "fast"/"smart" are aliases,
a retired model falls back to Haiku, and a daily quota caps the run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from claudeflow import (
    ApiKey,
    Flow,
    Quota,
    QuotaExceededError,
    RateLimits,
    Result,
    Routes,
    SpendPolicy,
)
from claudeflow.simulator import SimulatorConfig, run_simulator

GOOD_KEYS = ("sk-sim-team-a", "sk-sim-team-b")
ROUTES = Routes(
    aliases={"fast": "claude-haiku-4-5", "smart": "claude-sonnet-4-5"},
    fallbacks={"claude-retired-9": ["fast"]},
)


async def main(n: int) -> int:
    config = SimulatorConfig(
        rpm=60, input_tpm=100_000, output_tpm=20_000, minute_seconds=2.0, api_keys=GOOD_KEYS
    )
    keys = [ApiKey(GOOD_KEYS[0], name="team-a"), ApiKey("sk-revoked", name="old")]
    keys.append(ApiKey(GOOD_KEYS[1], name="team-b"))
    limits = RateLimits(rpm=60, input_tpm=100_000, output_tpm=20_000, window_s=2.0)
    quota_file = Path(tempfile.mkdtemp()) / "quotas.json"
    async with run_simulator(config) as sim:
        flow = Flow(
            api_key=keys,
            base_url=sim.url,
            limits=limits,
            routes=ROUTES,
            spend=SpendPolicy(quotas=[Quota("day", requests=2 * n + 1)], quota_file=quota_file),
            concurrency=64,
        )
        async with flow:
            started = time.monotonic()

            async def ask(model: str, i: int) -> Result:
                content = f"fact {i}"
                messages = [{"role": "user", "content": content}]
                return await flow.create(model=model, max_tokens=32, messages=messages)

            calls = [ask("fast", i) for i in range(n)] + [ask("smart", i) for i in range(n)]
            results = await asyncio.gather(*calls)
            elapsed = time.monotonic() - started
            fallback = await ask("claude-retired-9", 0)
            try:
                await ask("fast", 1)
                over_quota = "not refused"
            except QuotaExceededError as error:
                over_quota = f"refused ({str(error)[:40]}...)"
            stats = flow.stats()
    per_key = {name: k.requests for name, k in stats.keys.items()}
    print(f"{len(results)} requests over two model classes in {elapsed:.1f} s")
    print("pools:", ", ".join(sorted(stats.pools)))
    print("requests per key:", per_key)
    print("retired key:", {n: k.retired_reason for n, k in stats.keys.items() if not k.active})
    print("fallback:", " -> ".join(fallback.tried))
    print("past the daily quota:", over_quota)
    return 0 if stats.failed == 0 and over_quota.startswith("refused") else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="claudeflow pools, keys and routes")
    parser.add_argument("--simulate", action="store_true", required=True, help="simulator")
    parser.add_argument("-n", type=int, default=200, help="requests per model class")
    sys.exit(asyncio.run(main(parser.parse_args().n)))
