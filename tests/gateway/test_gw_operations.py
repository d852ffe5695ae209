"""Operations: SIGHUP reloads clients without dropping requests; SIGTERM drains."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from gw_helpers import HI, KEYS, MODEL, UPSTREAM_KEY, client_table, config_text, stack

from claudeflow.gateway import reload_config
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

BODY = {"model": MODEL, "max_tokens": 32, "messages": HI}


async def _post(session: aiohttp.ClientSession, url: str, key: str) -> int:
    async with session.post(f"{url}/v1/messages", json=BODY, headers={"x-api-key": key}) as r:
        await r.read()
        return r.status


async def test_reload_keeps_unchanged_clients_usage_and_rejects_bad_files(
    tmp_path: Path,
) -> None:
    async with stack(clients=client_table("alpha", rpm=1) + client_table("beta", rpm=1)) as s:
        path = tmp_path / "gw.toml"
        gateway = s.gw.gateway
        async with aiohttp.ClientSession() as session:
            assert await _post(session, s.url, KEYS["alpha"]) == 200
            assert await _post(session, s.url, KEYS["beta"]) == 200
            # alpha unchanged (its used minute stays used), beta's quota raised, batch new.
            clients = client_table("alpha", rpm=1) + client_table("beta", rpm=5)
            path.write_text(config_text(s.sim.url, clients=clients + client_table("batch")))
            gateway.config = dataclasses.replace(gateway.config, source=str(path))
            assert reload_config(gateway)
            assert await _post(session, s.url, KEYS["alpha"]) == 429
            assert await _post(session, s.url, KEYS["beta"]) == 200
            assert await _post(session, s.url, KEYS["batch"]) == 200
            path.write_text("[[clients]]\nname = 1\n")
            assert not reload_config(gateway)  # logged; the old clients stay
            assert await _post(session, s.url, KEYS["batch"]) == 200


async def _started(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert b"listening on" in line, line
    return line.decode().split()[-1]


async def _until_status(session: aiohttp.ClientSession, url: str, key: str, status: int) -> None:
    for _ in range(300):  # bounded: at most 300 tries, 20 ms apart
        if await _post(session, url, key) == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never got {status}")


async def test_sighup_reloads_and_sigterm_drains(tmp_path: Path) -> None:
    async with simulator(api_keys=frozenset({UPSTREAM_KEY}), ttft_s=0.5) as sim:
        path = tmp_path / "gw.toml"
        path.write_text(config_text(sim.url, clients=client_table("alpha")))
        env: dict[str, Any] = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "claudeflow.cli", "serve", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        try:
            url = await _started(process)
            async with aiohttp.ClientSession() as session:
                assert await _post(session, url, KEYS["beta"]) == 401
                slow = asyncio.create_task(_post(session, url, KEYS["alpha"]))
                await asyncio.sleep(0.1)  # let it reach the upstream (it takes 0.5 s there)
                clients = client_table("alpha") + client_table("beta")
                path.write_text(config_text(sim.url, clients=clients))
                process.send_signal(signal.SIGHUP)
                await _until_status(session, url, KEYS["beta"], 200)
                assert await slow == 200  # the reload dropped nothing
                draining = asyncio.create_task(_post(session, url, KEYS["alpha"]))
                await asyncio.sleep(0.1)
                process.send_signal(signal.SIGTERM)
                assert await draining == 200  # shutdown let it finish
            assert await asyncio.wait_for(process.wait(), 30) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        assert "config reloaded: 2 clients" in stderr
        assert UPSTREAM_KEY not in stderr and KEYS["alpha"] not in stderr
