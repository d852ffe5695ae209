"""Shared limits across processes and hosts: :class:`RedisBackend`.

``Flow(backend=RedisBackend("redis://host:6379/0"))`` in every process makes pools of the
same name one set of buckets. The design, in the order a request meets it:

**One atomic step per operation.** Each pool operation is one Lua script over all three
buckets at once (``lua/reserve.lua``, ``lua/apply.lua``, with ``lua/common.lua`` as their
shared prelude), timed by the Redis server's ``TIME`` so that clients' clocks never
disagree about refill. Scripts are loaded once (``SCRIPT LOAD``) and run by SHA; a
``NOSCRIPT`` answer reloads them (see :mod:`._redis_scripts`). A reserve is one round
trip: it carries this process's pending corrections, applies them, then answers.

**Keys.** ``claudeflow:{<pool>}:state|heads|expiry|procs|seen|since``: the hash tag keeps a
pool on one Redis Cluster slot, and every script refreshes the keys' TTL, so an abandoned
pool disappears by itself (``key_ttl_s``).

**No polling.** A refused reserve returns the exact wait the script computed; the
process sleeps until then. A give-back or a learned limit anywhere publishes on the pool's
channel ``claudeflow:{<pool>}:wake``; every other process calls the pool's ``on_change``
and its waiting head asks again at once.

**Priority across processes.** Each process registers its waiting head per pool in a
sorted set (member: process id, score: class; lower is more urgent) with the time it
joined the line in that class, and an expiry kept alive by a heartbeat, so a crashed
process's entry dies within ``3 * heartbeat_s``. Heads go in (class, time in line)
order: the reserve script refuses a request while another process has a head ahead of
it (a more urgent class, or the same class and waiting longer), answering with the time
until that entry would expire (a bounded wait). Capacity therefore accumulates for the
head in front instead of being nibbled by other processes' backlogs, whether their
requests are less urgent or merely smaller; when that head is served (or leaves) its
entry is removed and a wake-up is published, so the others retry at once.

**Failure policy.** ``on_failure="fail"``: while Redis is unreachable ``reserve`` raises
:class:`~claudeflow.BackendUnavailableError`. ``on_failure="degrade"``: each pool admits
from a local 1/N share of its last known state, N = the live processes seen through the
heartbeats. Either way the backend reconnects by itself with exponential backoff and goes
back to the shared state; the mode (``shared``, ``degraded``, ``failed``) is in each
pool's ``statistics().mode`` and every change is logged once at WARNING. Socket timeouts
bound every call, so nothing hangs on a dead server.

**Caveats.** Every process on a pool should configure the same limits (each call carries
its own, and the last one wins). ``TIME`` is the server's wall clock: a step of it
shifts refill by as much. A restarted server without persistence starts every pool
full; the API's ``anthropic-ratelimit-*`` headers clamp it back within one response.

``benchmarks/redis_reserve.py`` measures the round trips per reserve, its latency, and
the urgent and same-class waits against another process's backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Any, Literal

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .._clock import Clock, LoopClock
from .._config import RateLimits
from .._errors import BackendUnavailableError
from ._redis_pool import LOST, RedisPool
from ._redis_settings import RedisSettings, check_url

if TYPE_CHECKING:
    from ._backend import Backend, PoolBuckets
from ._redis_scripts import Scripts

__all__ = ["RedisBackend"]

log = logging.getLogger("claudeflow.limiter.redis")

Mode = Literal["shared", "degraded", "failed"]


class RedisBackend:
    """Pools whose buckets live in Redis, shared by every process using the same names.

    :param url: ``redis://[[user]:password@]host[:port][/db]`` (``rediss://``, ``unix://``
        too); the password never appears in reprs, logs or errors.
    :param on_failure: ``"fail"`` (refuse to admit while Redis is unreachable) or
        ``"degrade"`` (admit from a local 1/N share of the limits meanwhile).
    :param fail_after_s: ``"fail"``: how long requests wait in line for a lost Redis to
        come back before they fail (a restart or failover takes seconds; 0: at once).
        Before the first connection there is no wait: nothing was ever shared.
    :param timeout_s: bound on connecting and on every call.
    :param heartbeat_s: how often an idle process proves it is alive; a process silent
        for three heartbeats counts as gone (its waiting head and its share).
    :param key_ttl_s: an unused pool's keys expire after this long.
    :param reconnect_max_s: the longest pause between reconnection attempts.
    :param clock: the clock for heartbeats and backoff (bucket time is Redis's own).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        on_failure: Literal["fail", "degrade"] = "fail",
        timeout_s: float = 1.0,
        heartbeat_s: float = 1.0,
        key_ttl_s: float = 3600.0,
        reconnect_max_s: float = 5.0,
        fail_after_s: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self._url, self._secret = check_url(url)
        # Kept apart from the masked one: only the connection may see the password.
        self._raw_url = url
        self._settings = RedisSettings(
            on_failure, timeout_s, heartbeat_s, key_ttl_s, reconnect_max_s, fail_after_s
        )
        self.on_failure = on_failure
        self._clock = clock or LoopClock()
        #: this process's id in the pools' registries (host, pid and a random part)
        self.pid = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._scripts = Scripts()
        self._pools: dict[str, RedisPool] = {}
        self._client: Redis | None = None
        self._pubsub: PubSub | None = None
        # Not shared until the first connection succeeds: admission before start follows the policy.
        self._mode: Mode = "failed" if on_failure == "fail" else "degraded"
        self._why = "not started"
        self._lost_at: float | None = None  # when shared limits were last lost
        self._tasks: set[asyncio.Task[None]] = set()
        self._joining: dict[str, asyncio.Task[None]] = {}  # pools made after start
        self._listener: asyncio.Task[None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._mode_waiters: list[asyncio.Future[None]] = []
        self._started = False

    # -- Backend ---------------------------------------------------------------------

    def pool(self, name: str, limits: RateLimits | None, *, clock: Clock) -> RedisPool:
        if name in self._pools:
            return self._pools[name]
        pool = RedisPool(
            self,
            name,
            limits,
            clock=clock,
            key_ttl_s=self._settings.key_ttl_s,
            head_ttl_s=3 * self._settings.heartbeat_s,
        )
        self._pools[name] = pool
        if self._pubsub is not None and self._mode == "shared":
            # Subscribed in the background: pool() is synchronous; reserve waits for it (joined).
            task = asyncio.get_running_loop().create_task(self._subscribe(pool))
            self._joining[name] = task
            task.add_done_callback(lambda _: self._joining.pop(name, None))
        return pool

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._wake = asyncio.Event()
        self._spawn(self._flusher())
        self._spawn(self._heartbeats())
        try:
            await self._connect()
        except LOST as exc:
            self.lost(exc)
        else:
            self._set_mode("shared")

    async def aclose(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._mode == "shared":
            for pool in list(self._pools.values()):
                pool.leave()  # hold nobody back, and no longer count in anyone's 1/N
                with contextlib.suppress(*LOST):
                    await pool.flush()
        tasks = [*self._tasks, *self._joining.values(), self._listener, self._reconnecting]
        for task in tasks:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
        await self._disconnect()

    # -- state -----------------------------------------------------------------------

    @property
    def mode(self) -> Mode:
        """``shared`` (Redis answers), ``degraded`` (local 1/N share) or ``failed``."""
        return self._mode

    async def until_mode(self, mode: Mode) -> None:
        """Return once the backend is in ``mode`` (e.g. ``shared`` after a reconnect)."""
        # A loop: the mode may change again between the wake-up and this check.
        while self._mode != mode:
            waiter = asyncio.get_running_loop().create_future()
            self._mode_waiters.append(waiter)
            await waiter

    # -- Link (what the pools call) --------------------------------------------------

    async def run(self, script: str, keys: list[str], args: list[str]) -> Any:
        if self._client is None:
            raise BackendUnavailableError(self._describe())
        return await self._scripts.run(self._client, script, keys, args)

    async def joined(self, pool: RedisPool) -> None:
        """Wait until a pool made after start hears wake-ups (before it can wait for one)."""
        task = self._joining.get(pool.name)
        if task is not None:
            # Shielded: one caller's cancellation must not cancel the subscription the pool shares.
            await asyncio.shield(task)

    def lost(self, exc: BaseException) -> None:
        """A call failed for want of the server: change mode and start reconnecting."""
        self._why = self._hide(f"{type(exc).__name__}: {exc}")
        # Only the first failure changes mode; later ones while reconnecting just update the reason.
        if self._mode == "shared":
            self._set_mode("failed" if self.on_failure == "fail" else "degraded")
            for pool in self._pools.values():
                pool.lose()
        # One reconnect loop at a time, and none once closed.
        if self._started and (self._reconnecting is None or self._reconnecting.done()):
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def grace_left(self) -> float:
        """Seconds requests may still wait for a lost Redis before failing (0: none)."""
        if self._lost_at is None or self._mode != "failed":
            return 0.0
        return max(0.0, self._lost_at + self._settings.fail_after_s - self._clock.now())

    def unavailable(self) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"{self._describe()}; on_failure='fail' admits nothing without the shared "
            "limits (reconnecting in the background)"
        )

    def poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    @property
    def script_loads(self) -> int:
        """How many times the scripts were loaded (1 + reloads after ``NOSCRIPT``)."""
        return self._scripts.loads

    # -- connection ------------------------------------------------------------------

    async def _connect(self) -> None:
        # A half-open client from the last attempt would leak its sockets.
        await self._disconnect()
        client = Redis.from_url(
            self._raw_url,
            decode_responses=True,
            socket_timeout=self._settings.timeout_s,
            socket_connect_timeout=self._settings.timeout_s,
            retry=Retry(NoBackoff(), 0),  # the backend's own reconnect loop is the retry
        )
        self._client = client
        await client.ping()
        await self._scripts.load(client)
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        channels = [pool.channel for pool in self._pools.values()]
        # One channel of our own keeps the subscription open while there is no pool yet.
        await self._pubsub.subscribe(*channels, f"claudeflow:process:{self.pid}")
        self._listener = asyncio.get_running_loop().create_task(self._listen(self._pubsub))
        for pool in list(self._pools.values()):
            await pool.flush()  # register this process (and send what waited)

    async def _disconnect(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and listener is not asyncio.current_task():
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        pubsub, self._pubsub = self._pubsub, None
        client, self._client = self._client, None
        with contextlib.suppress(*LOST):
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(*LOST):
            if client is not None:
                await client.aclose()

    async def _reconnect(self) -> None:
        longest = self._settings.reconnect_max_s
        # Start fast, so a short blip costs little, then back off to reconnect_max_s.
        delay = min(0.05, longest)
        while self._started:
            await self._clock.sleep(delay)
            try:
                await self._connect()
            except LOST as exc:
                self._why = self._hide(f"{type(exc).__name__}: {exc}")
                delay = min(2 * delay, longest)
                continue
            self._set_mode("shared")
            return

    async def _subscribe(self, pool: RedisPool) -> None:
        try:
            if self._pubsub is not None:
                await self._pubsub.subscribe(pool.channel)
                await pool.flush()
        except LOST as exc:
            self.lost(exc)

    # -- background ------------------------------------------------------------------

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            while True:
                message = await pubsub.get_message(timeout=None)
                if message is None or message.get("data") == self.pid:
                    continue  # our own publications: this process already knows
                pool = self._find(message["channel"])
                if pool is not None:
                    pool.on_change()
        except LOST as exc:
            self.lost(exc)

    async def _flusher(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            # Cleared before flushing: a poke during the flush sets it again.
            self._wake.clear()
            if self._mode == "shared":
                await self._flush_all(only_pending=True)

    async def _heartbeats(self) -> None:
        while True:
            await self._clock.sleep(self._settings.heartbeat_s)
            if self._mode == "shared":
                # Every pool, pending or not: the call is the heartbeat that keeps us alive.
                await self._flush_all(only_pending=False)

    async def _flush_all(self, *, only_pending: bool) -> None:
        for pool in list(self._pools.values()):
            # A busy pool's call in flight will carry its pending corrections anyway.
            if not only_pending or (pool.pending and not pool.busy):
                try:
                    await pool.flush(heartbeat=not only_pending)
                except LOST as exc:
                    self.lost(exc)
                    # One lost call means the server is gone; the other pools would fail alike.
                    return

    # -- helpers ---------------------------------------------------------------------

    def _set_mode(self, mode: Mode) -> None:
        if mode == self._mode:
            return
        previous, self._mode = self._mode, mode
        self._lost_at = None if mode == "shared" else self._clock.now()
        if mode == "shared":
            if self._why != "not started":  # the first connection is no change of mode
                log.warning("Redis backend %s: shared limits again (was %s)", self._url, previous)
            for pool in self._pools.values():
                pool.restore()
            self.poke()
        else:
            log.warning("Redis backend %s: %s (%s)", self._url, mode, self._why)
        # Swapped first: a woken waiter that waits again joins the new list, not this one.
        waiters, self._mode_waiters = self._mode_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _find(self, channel: str) -> RedisPool | None:
        return next((p for p in self._pools.values() if p.channel == channel), None)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _describe(self) -> str:
        return f"the shared limits at {self._url} are unavailable ({self._why})"

    def _hide(self, text: str) -> str:
        # The reason is logged and raised (_why): a password quoted in it must not go along.
        return text.replace(self._secret, "***") if self._secret else text

    def __repr__(self) -> str:
        return f"RedisBackend({self._url!r}, on_failure={self.on_failure!r}, mode={self._mode!r})"


if TYPE_CHECKING:

    def _conforms(backend: RedisBackend, pool: RedisPool) -> tuple[Backend, PoolBuckets]:
        return backend, pool  # mypy checks both against the seam's protocols
