"""Shared pieces for the runner tests: input files, reading results, the CLI subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from claudeflow.runner import read_items

MODEL = "claude-haiku-4-5"
API_KEY = "sk-ant-test-SECRET-0123456789"


def body(i: int, *, max_tokens: int = 16) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": f"question number {i}"}],
    }


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Write ``lines`` (dicts become JSON, strings are written as they are)."""
    with path.open("w") as file:
        for line in lines:
            file.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def write_requests(path: Path, n: int, *, ids: bool = False) -> Path:
    lines = [({"custom_id": f"req-{i}"} if ids else {}) | body(i) for i in range(n)]
    return write_lines(path, lines)


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def id_counts(path: Path) -> Counter[str]:
    return Counter(record["custom_id"] for record in records(path))


def each_input_line_once(path: Path) -> Counter[str]:
    """What the results of ``path`` should hold: every line's key, once."""
    return Counter(item.custom_id for item in read_items(path, max_line_bytes=1 << 20))


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANTHROPIC_API_KEY"] = API_KEY
    env.pop("ANTHROPIC_BASE_URL", None)
    return env


async def start_cli(*args: str | Path) -> asyncio.subprocess.Process:
    """Start ``python -m claudeflow.runner ARGS`` without blocking the test's loop."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "claudeflow.runner",
        *map(str, args),
        env=cli_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait (bounded) for ``process``; return its exit status and stderr."""
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stderr.decode()
