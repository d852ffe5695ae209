"""Four OS processes share one account: through Redis, each with the full limits, each
with a static quarter; then Redis killed and restarted mid-run.

Usage::

    python benchmarks/distributed.py [--setup redis --setup full ...] [--seed 1]

Runs :mod:`claudeflow.bench._distributed` (a fresh simulator per setup, a fresh
``redis-server`` per Redis setup), prints the table and the goals, and writes
``benchmarks/results/distributed.{json,md}``. About two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from claudeflow.bench._distributed import SETUPS, DistributedConfig, run_distributed
from claudeflow.bench._distributed_report import judge, markdown

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", action="append", choices=SETUPS, help="default: all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = DistributedConfig(setups=tuple(args.setup or SETUPS), seed=args.seed)
    results = asyncio.run(run_distributed(config))
    text = markdown(config, results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distributed.md").write_text(text)
    data = {
        "config": {k: v for k, v in asdict(config).items() if k != "api_key"},
        "results": [r.as_dict() for r in results],
        "goals": [{"goal": g, "met": m, "measured": s} for g, m, s in judge(results)],
    }
    (args.out / "distributed.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
