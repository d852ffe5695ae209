"""``claudeflow serve --workers 2``: two real processes on one port sharing the account's
limits through a real redis-server, in front of the real simulator.

The upstream allows 30 requests per (long) window. Forty requests on forty connections
reach both workers; if each worker kept its own limits both would admit up to 30 and the
simulator would answer 429s. Shared through Redis, exactly 30 go upstream and none is
refused there. SIGHUP reaches both workers, SIGTERM stops both.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from gw_helpers import HI, KEYS, MODEL, UPSTREAM_KEY, client_table, config_text

from claudeflow.testing import redis_server, simulator

pytestmark = pytest.mark.integration

WINDOW = 'rpm = 30\nwindow_s = 600\nqueue_timeout_s = 0.5\nredis = "{url}"\n'


def _env() -> dict[str, Any]:
    return {**os.environ, "PYTHONPATH": str(Path.cwd())}


async def _spawn(path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claudeflow.cli", "serve", str(path), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_env(),
    )  # fmt: skip


async def _collect(stream: asyncio.StreamReader, lines: list[str]) -> None:
    # One line at a time: the test reads ``lines`` while the process still runs.
    async for line in stream:
        lines.append(line.decode())  # noqa: PERF401


async def _until(lines: list[str], text: str, count: int) -> None:
    for _ in range(500):  # bounded: at most 10 s
        if sum(text in line for line in lines) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never saw {count} x {text!r} in {lines[-5:]}")


async def _statuses(url: str, key: str, n: int) -> list[int]:
    """``n`` requests at once, each on its own connection (so both workers get some)."""
    body = {"model": MODEL, "max_tokens": 16, "messages": HI}
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> int:
            async with session.post(
                f"{url}/v1/messages", json=body, headers={"x-api-key": key}
            ) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one() for _ in range(n))))


async def test_two_workers_share_limits_reload_and_stop_together(tmp_path: Path) -> None:
    with redis_server() as redis:
        sim_config = {"api_keys": frozenset({UPSTREAM_KEY}), "rpm": 30, "minute_seconds": 600}
        async with simulator(**sim_config) as sim:
            upstream = WINDOW.format(url=redis.url)
            path = tmp_path / "gw.toml"
            path.write_text(config_text(sim.url, upstream=upstream, clients=client_table("alpha")))
            process = await _spawn(path, "--workers", "2")
            assert process.stdout is not None and process.stderr is not None
            errors: list[str] = []
            reader = asyncio.create_task(_collect(process.stderr, errors))
            try:
                line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
                assert line.endswith("(2 workers)\n"), line
                url = line.split()[-3]
                statuses = await _statuses(url, KEYS["alpha"], 40)
                assert statuses.count(200) == 30, statuses
                assert set(statuses) <= {200, 429, 503}
                assert sim.stats()["rate_limited"] == 0 and sim.stats()["admitted"] == 30
                served = {json.loads(e)["pid"] for e in errors if e.startswith('{"request_id"')}
                assert len(served) == 2  # both workers answered

                clients = client_table("alpha") + client_table("beta")
                path.write_text(config_text(sim.url, upstream=upstream, clients=clients))
                process.send_signal(signal.SIGHUP)
                await _until(errors, "config reloaded: 2 clients", 2)  # each worker
                assert 401 not in await _statuses(url, KEYS["beta"], 10)

                process.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(process.wait(), 30) == 0
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                await reader
            for pid in served:
                with pytest.raises(ProcessLookupError):
                    os.kill(pid, 0)  # reaped: no worker outlives the parent
            text = "".join(errors)
            assert UPSTREAM_KEY not in text and KEYS["alpha"] not in text


async def test_more_than_one_worker_without_redis_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(config_text("http://127.0.0.1:9"))
    process = await _spawn(path, "--workers", "3")
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"--workers: 3 workers need shared limits: set upstream.redis" in stderr
