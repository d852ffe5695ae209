"""Fixtures for the Redis backend's tests: a real ``redis-server`` per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from redis.asyncio import Redis

from claudeflow.limiter._redis import RedisBackend
from claudeflow.testing import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    """A fresh server on a free port (fails, never skips, without ``redis-server``)."""
    with redis_server() as server:
        yield server


@pytest.fixture
async def raw(redis: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on the same server, to look at (or break) what the backend wrote."""
    client = Redis.from_url(redis.url, decode_responses=True)
    yield client
    await client.aclose()


BackendFactory = Callable[..., RedisBackend]


@pytest.fixture
async def backends(redis: RedisServer) -> AsyncIterator[BackendFactory]:
    """Make backends ("processes") on the server; every one is closed at the end."""
    made: list[RedisBackend] = []

    def make(**kwargs: object) -> RedisBackend:
        kwargs.setdefault("heartbeat_s", 0.2)
        backend = RedisBackend(redis.url, **kwargs)  # type: ignore[arg-type]
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
