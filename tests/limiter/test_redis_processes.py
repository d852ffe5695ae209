"""Many OS processes on one pool: the shared bucket never admits more than it holds.

Each worker records, for every grant, the server's time just before its reserve call
and just after the grant; the grant itself happened in between. Counting only grants
whose whole interval lies in a window gives a lower bound on what that window admitted,
so ``certain <= limit x burst + limit`` is an exact check with no timing slack.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from redis.asyncio import Redis

from claudeflow.testing import RedisServer

RPM, WINDOW_S, BURST = 60, 1.0, 0.5  # 60 requests per 1 s window; the bucket holds 30
RUN_S, PROCESSES, COROUTINES = 3.0, 3, 4
ROOT = str(Path(__file__).resolve().parents[2])  # the checkout the workers import

WORKER = """
import asyncio, sys
from redis.asyncio import Redis
from claudeflow import Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend

RECORD = "return redis.call('RPUSH', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. " \\
    "table.concat(redis.call('TIME'), '.'))"

async def now(raw):
    seconds, micros = await raw.time()
    return f"{seconds}.{micros:06d}"

async def coroutine(pool, raw, pid, changed, stop_at):
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        before = await now(raw)
        wake = changed[0]
        wait = await pool.reserve(Cost(1, 100, 0), priority=1)
        if wait == 0:
            await raw.eval(RECORD, 1, "grants", pid, before)
            pool.give_back(Cost(0, 40, 0))  # used less than reserved
        else:
            await asyncio.wait([wake], timeout=min(wait, stop_at - loop.time()))

async def main(url, rpm, window_s, burst, run_s, coroutines):
    backend = RedisBackend(url, heartbeat_s=0.2)
    limits = RateLimits(rpm=rpm, input_tpm=10**7, window_s=window_s, burst=burst, lead_s=0)
    pool = backend.pool("shared", limits, clock=LoopClock())
    loop = asyncio.get_running_loop()
    changed = [loop.create_future()]
    def on_change():
        changed[0].set_result(None)
        changed[0] = loop.create_future()
    pool.on_change = on_change
    raw = Redis.from_url(url, decode_responses=True)
    await backend.start()
    print(backend.pid, flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # everyone starts together
    stop_at = loop.time() + run_s
    await asyncio.gather(*(coroutine(pool, raw, backend.pid, changed, stop_at)
                           for _ in range(coroutines)))
    await backend.aclose()
    await raw.aclose()

asyncio.run(main(sys.argv[1], *map(float, sys.argv[2:6]), int(sys.argv[6])))
"""


async def spawn(url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": ROOT}
    args = [str(a) for a in (RPM, WINDOW_S, BURST, RUN_S, COROUTINES)]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        url,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def server_time(raw: Redis) -> float:
    seconds, micros = await raw.time()
    return seconds + micros / 1e6


def most_in_any_window(grants: list[tuple[float, float]]) -> int:
    """The most grants certainly inside one window [start, start + WINDOW_S]."""
    return max(
        sum(1 for b, r in grants if b >= start and r <= start + WINDOW_S) for start, _ in grants
    )


async def test_processes_share_one_bucket_and_survive_a_killed_peer(
    redis: RedisServer, raw: Redis
) -> None:
    workers = [await spawn(redis.url) for _ in range(PROCESSES)]
    pids = []
    for worker in workers:
        assert worker.stdout is not None
        pids.append((await asyncio.wait_for(worker.stdout.readline(), timeout=60)).decode().strip())
    for worker in workers:  # all connected: go
        assert worker.stdin is not None
        worker.stdin.write(b"go\n")
        await worker.stdin.drain()
    await asyncio.sleep(RUN_S / 3)  # mid-run
    workers[0].send_signal(signal.SIGKILL)
    killed_at = await server_time(raw)
    codes = [await asyncio.wait_for(w.wait(), timeout=30) for w in workers]
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0] * (PROCESSES - 1)

    rows = [line.split() for line in await raw.lrange("grants", 0, -1)]
    grants = [(float(b), float(r)) for _, b, r in rows]
    limit = RPM  # per window
    assert most_in_any_window(grants) <= limit * BURST + limit
    assert len(grants) > limit * BURST  # past the burst: refill was shared, and used
    for pid in pids[1:]:  # the survivors went on after the kill
        assert any(p == pid and float(b) > killed_at for p, b, _ in rows)
    # The killed process's heartbeat entry died with it.
    assert await raw.zscore("claudeflow:{shared}:procs", pids[0]) is None
