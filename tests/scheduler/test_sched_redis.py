"""Flows in several OS processes share one account through Redis, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from claudeflow.simulator import SimulatorConfig, run_simulator
from claudeflow.testing import redis_server

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("redis_child.py")
ROOT = Path(__file__).resolve().parents[2]


async def child(sim_url: str, redis_url: str, n: int, priority: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), sim_url, redis_url, str(n), priority,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-2000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def test_two_processes_given_the_full_limits_share_them_without_429s() -> None:
    # The account: 60 requests per 2-second "minute". Each process is told the whole limit.
    config = SimulatorConfig(rpm=60, input_tpm=60_000, output_tpm=20_000, minute_seconds=2.0)
    with redis_server() as redis:
        async with run_simulator(config) as sim:
            runs = await asyncio.gather(
                child(sim.url, redis.url, 100, "normal"), child(sim.url, redis.url, 100, "normal")
            )
            server = sim.api.stats()
    assert [r["completed"] for r in runs] == [100, 100], runs
    assert all(not r["failed"] and r["mode"] == "shared" for r in runs)
    assert server["rate_limited"] == 0  # without Redis: dozens of 429s over 200 requests
