"""Losing Redis: "fail" refuses with a typed error, "degrade" serves a 1/N share; both
reconnect by themselves and go back to the shared state. Passwords never show."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import pytest

from claudeflow import BackendUnavailableError, ConfigError, Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend
from claudeflow.testing import RedisServer, redis_server

BackendFactory = Callable[..., RedisBackend]
LIMITS = RateLimits(rpm=20, window_s=600, lead_s=0)  # 20 requests, 1 per 30 s refill


async def test_fail_mode_raises_while_redis_is_gone_then_recovers(
    redis: RedisServer, backends: BackendFactory, caplog: pytest.LogCaptureFixture
) -> None:
    backend = backends(on_failure="fail", reconnect_max_s=0.1, fail_after_s=0)
    pool = backend.pool("p", LIMITS, clock=LoopClock())
    await backend.start()
    assert await pool.reserve(Cost(1, 0, 0), priority=1) == 0.0
    redis.stop()
    with caplog.at_level(logging.WARNING, logger="claudeflow.limiter.redis"):
        with pytest.raises(BackendUnavailableError, match="unavailable"):
            await pool.reserve(Cost(1, 0, 0), priority=1)
        with pytest.raises(BackendUnavailableError):  # still failed; logged only once
            await pool.reserve(Cost(1, 0, 0), priority=1)
        assert pool.statistics().mode == "failed"
        redis.start()
        await asyncio.wait_for(backend.until_mode("shared"), timeout=10)
    changes = [r.getMessage() for r in caplog.records]
    assert len(changes) == 2  # one line per change of mode, not one per refusal
    assert "failed (ConnectionError" in changes[0]
    assert "shared limits again (was failed)" in changes[1]
    assert pool.statistics().mode == "shared"
    assert await pool.reserve(Cost(1, 0, 0), priority=1) == 0.0  # a fresh, full pool


async def test_fail_mode_waits_out_a_short_outage_before_failing(
    redis: RedisServer, backends: BackendFactory
) -> None:
    backend = backends(on_failure="fail", reconnect_max_s=0.1, fail_after_s=0.3)
    pool = backend.pool("p", LIMITS, clock=LoopClock())
    await backend.start()
    assert await pool.reserve(Cost(1, 0, 0), priority=1) == 0.0
    redis.stop()
    # Within the grace the head is told to look again soon, not failed.
    wait = await pool.reserve(Cost(1, 0, 0), priority=1)
    assert 0 < wait <= 0.25 and pool.statistics().mode == "failed"
    await asyncio.sleep(0.35)  # the grace (0.3 s) is over and Redis is still down
    with pytest.raises(BackendUnavailableError, match="unavailable"):
        await pool.reserve(Cost(1, 0, 0), priority=1)
    redis.start()
    await asyncio.wait_for(backend.until_mode("shared"), timeout=10)
    assert await pool.reserve(Cost(1, 0, 0), priority=1) == 0.0
    with pytest.raises(ConfigError, match="fail_after_s"):
        RedisBackend(redis.url, fail_after_s=-1)


async def test_degrade_mode_serves_one_nth_then_goes_back_to_shared(
    redis: RedisServer, backends: BackendFactory
) -> None:
    a = backends(on_failure="degrade", reconnect_max_s=0.1)
    b = backends(on_failure="degrade")
    pa = a.pool("p", LIMITS, clock=LoopClock())
    b.pool("p", LIMITS, clock=LoopClock())
    await a.start()
    await b.start()
    assert await pa.reserve(Cost(1, 0, 0), priority=1) == 0.0  # sees 2 live processes
    redis.stop()
    admitted = 0
    while await pa.reserve(Cost(1, 0, 0), priority=1) == 0.0:
        admitted += 1
    stats = pa.statistics()
    assert stats.mode == "degraded"
    assert stats.buckets["requests"].capacity == 10  # 20 / 2 processes
    assert admitted == 9  # 19 left in the shared view, half of it is ours
    redis.start()
    await asyncio.wait_for(a.until_mode("shared"), timeout=10)
    assert await pa.reserve(Cost(1, 0, 0), priority=1) == 0.0
    assert pa.statistics().buckets["requests"].capacity == 20


async def test_unreachable_at_start(redis: RedisServer) -> None:
    url = redis.url
    redis.stop()
    failing = RedisBackend(url, on_failure="fail")
    degrading = RedisBackend(url, on_failure="degrade")
    pf = failing.pool("p", LIMITS, clock=LoopClock())
    pd = degrading.pool("p", LIMITS, clock=LoopClock())
    try:
        await asyncio.wait_for(failing.start(), timeout=5)  # returns: nothing hangs
        await asyncio.wait_for(degrading.start(), timeout=5)
        with pytest.raises(BackendUnavailableError, match="ConnectionError"):
            await pf.reserve(Cost(1, 0, 0), priority=1)
        assert pf.statistics().mode == "failed"
        assert await pd.reserve(Cost(20, 0, 0), priority=1) == 0.0  # alone: N = 1
        assert pd.statistics().mode == "degraded"
    finally:
        await failing.aclose()
        await degrading.aclose()
        await failing.aclose()  # twice is fine


async def test_the_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    secret = "s3cr3t-hunter2"
    with redis_server(password=secret) as server:
        backend = RedisBackend(server.url, reconnect_max_s=0.1, fail_after_s=0)
        pool = backend.pool("p", LIMITS, clock=LoopClock())
        with caplog.at_level(logging.DEBUG):
            await backend.start()
            assert await pool.reserve(Cost(1, 0, 0), priority=1) == 0.0
            server.stop()
            with pytest.raises(BackendUnavailableError) as raised:
                await pool.reserve(Cost(1, 0, 0), priority=1)
            await backend.aclose()
    seen = [repr(backend), str(raised.value), repr(pool.statistics()), caplog.text]
    assert "redis://:***@127.0.0.1" in repr(backend)
    assert all(secret not in text for text in seen)


async def test_wrong_password_is_a_clear_failure() -> None:
    with redis_server(password="right") as server:
        url = server.url.replace(":right@", ":wrong@")
        backend = RedisBackend(url)
        pool = backend.pool("p", LIMITS, clock=LoopClock())
        await backend.start()
        try:
            with pytest.raises(BackendUnavailableError) as raised:
                await pool.reserve(Cost(1, 0, 0), priority=1)
        finally:
            await backend.aclose()
    assert "wrong" not in str(raised.value)
    assert "Authentication" in str(raised.value) or "password" in str(raised.value)


async def test_a_server_that_never_answers_does_not_hang_anything() -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        backend = RedisBackend(f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
        pool = backend.pool("p", LIMITS, clock=LoopClock())
        try:
            await asyncio.wait_for(backend.start(), timeout=5)
            with pytest.raises(BackendUnavailableError, match="Timeout"):
                await asyncio.wait_for(pool.reserve(Cost(1, 0, 0), priority=1), timeout=5)
        finally:
            await asyncio.wait_for(backend.aclose(), timeout=5)
