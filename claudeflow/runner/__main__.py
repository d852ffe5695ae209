"""``python -m claudeflow.runner requests.jsonl -o results.jsonl``: same as ``claudeflow run``."""

from __future__ import annotations

import sys

from ._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
