"""Run the load-benchmark suite into ``benchmarks/results/`` (the committed results).

Usage::

    python benchmarks/run_suite.py [any `claudeflow bench` option]

It only calls ``claudeflow bench --out benchmarks/results`` (options pass through), so
the command line stays the one way to run the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

from claudeflow.cli import main

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    sys.exit(main(["bench", "--out", str(RESULTS), *sys.argv[1:]]))
