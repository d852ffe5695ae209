"""Corrections reach Redis exactly once, even when a reply is lost on the wire.

A TCP proxy between the backend and redis-server cuts the connection instead of passing
on the server's reply to one script call: the script ran, the client never heard. The
backend reconnects, sends the same batch again, and the server skips what it applied.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from claudeflow import Cost, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend
from claudeflow.testing import RedisServer

LIMITS = RateLimits(input_tpm=100, window_s=600, lead_s=0)  # refill: 1/6 token per s


class ReplyCutter:
    """Forwards 127.0.0.1:port to the server; :meth:`cut_next` loses one script's reply."""

    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._armed = False
        self.cut = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    def cut_next(self) -> None:
        self._armed = True

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _pipe(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self._target)
        sent_script = asyncio.Event()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                if self._armed and b"EVALSHA" in data.upper():
                    sent_script.set()
                server_w.write(data)
                await server_w.drain()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if sent_script.is_set() and self._armed:
                    self._armed = False
                    self.cut += 1
                    return  # the reply dies here
                client_w.write(data)
                await client_w.drain()

        with contextlib.suppress(ConnectionError):
            _, pending = await asyncio.wait(
                [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in pending:
                task.cancel()
        for writer in (client_w, server_w):
            writer.close()


@pytest.fixture
async def cutter(redis: RedisServer) -> AsyncIterator[ReplyCutter]:
    proxy = ReplyCutter(redis.port)
    await proxy.start()
    yield proxy
    await proxy.close()


BackendFactory = Callable[..., RedisBackend]


async def test_a_give_back_whose_reply_was_lost_is_applied_once(
    redis: RedisServer, cutter: ReplyCutter
) -> None:
    a = RedisBackend(f"redis://127.0.0.1:{cutter.port}/0", reconnect_max_s=0.1)
    b = RedisBackend(redis.url)
    pa = a.pool("p", LIMITS, clock=LoopClock())
    pb = b.pool("p", LIMITS, clock=LoopClock())
    try:
        await a.start()
        await b.start()
        assert await pa.reserve(Cost(1, 100, 0), priority=1) == 0.0  # empty the bucket
        cutter.cut_next()
        pa.give_back(Cost(0, 40, 0))  # the flusher sends it; its reply is lost
        await asyncio.wait_for(a.until_mode("failed"), timeout=5)
        await asyncio.wait_for(a.until_mode("shared"), timeout=5)  # resent on reconnect
        assert cutter.cut == 1
        assert pa.pending == 0
        assert await pb.reserve(Cost(0, 0, 0), priority=1) == 0.0
        assert pb.statistics().buckets["input_tokens"].level == pytest.approx(40, abs=0.5)
    finally:
        await a.aclose()
        await b.aclose()


async def test_pending_corrections_are_flushed_on_close(backends: BackendFactory) -> None:
    a, b = backends(), backends()
    pa = a.pool("p", LIMITS, clock=LoopClock())
    pb = b.pool("p", LIMITS, clock=LoopClock())
    await a.start()
    await b.start()
    assert await pa.reserve(Cost(1, 100, 0), priority=1) == 0.0
    pa.give_back(Cost(0, 70, 0))
    await a.aclose()  # before the flusher had its turn
    assert await pb.reserve(Cost(0, 0, 0), priority=1) == 0.0
    assert pb.statistics().buckets["input_tokens"].level == pytest.approx(70, abs=0.5)


async def test_a_closed_process_leaves_the_line_and_the_count(
    backends: BackendFactory, raw: Redis
) -> None:
    a, b = backends(), backends()
    pa = a.pool("p", LIMITS, clock=LoopClock())
    pb = b.pool("p", LIMITS, clock=LoopClock())
    await a.start()
    await b.start()
    pa.waiting(0)
    await pa.flush()
    assert await pb.reserve(Cost(1, 0, 0), priority=1) > 0  # a's urgent head is ahead
    assert pb.processes == 2
    await a.aclose()
    assert await pb.reserve(Cost(1, 0, 0), priority=1) == 0.0
    assert pb.processes == 1
    assert await raw.hget("claudeflow:{p}:seen", a.pid) is None
