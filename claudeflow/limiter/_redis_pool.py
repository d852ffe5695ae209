"""One pool's buckets in Redis: :class:`RedisPool`, the shared :class:`PoolBuckets`.

``reserve`` is one script call (one round trip) that first applies this process's pending
corrections, then answers all-or-nothing. The corrections (give-back, clamp, learn,
pause, waiting head) are synchronous: they change the local view at once and join a queue
that the backend's flusher sends in order; each carries a sequence number, so a call
retried after a lost reply is never applied twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._clock import Clock
from .._config import RateLimits
from .._errors import BackendUnavailableError, ConfigError
from .._types import Cost
from ._backend import PoolStatistics
from ._local import DIMENSIONS, LIMIT_FIELD, LocalBuckets, amounts

__all__ = ["LOST", "Link", "RedisPool", "pool_keys"]

# While a lost Redis may still come back, a waiting head looks again this often.
_RECHECK_S = 0.25

#: What "the server is gone" looks like (refused, reset, timed out, not authenticated).
# OSError too: a refused or reset socket may reach us below redis-py's own errors.
LOST = (RedisConnectionError, RedisTimeoutError, OSError)

_UNSET = object()


class Link(Protocol):
    """What a pool needs from its backend: the connection, the mode and the flusher."""

    pid: str

    @property
    def mode(self) -> str: ...

    async def run(self, script: str, keys: list[str], args: list[str]) -> Any: ...

    async def joined(self, pool: RedisPool) -> None: ...

    def lost(self, exc: BaseException) -> None: ...

    def unavailable(self) -> BackendUnavailableError: ...

    def grace_left(self) -> float: ...

    def poke(self) -> None: ...


def pool_keys(name: str) -> tuple[list[str], str]:
    """The pool's keys and channel, hash-tagged so a Redis Cluster keeps them on one slot."""
    if not isinstance(name, str) or not name or "{" in name or "}" in name:
        raise ConfigError("name", f"must be a non-empty str without braces, got {name!r}")
    tag = f"claudeflow:{{{name}}}"
    keys = [f"{tag}:{part}" for part in ("state", "heads", "expiry", "procs", "seen", "since")]
    return keys, f"{tag}:wake"


class RedisPool:
    """The buckets of pool ``name``, shared by every process that names the same pool."""

    def __init__(
        self,
        link: Link,
        name: str,
        limits: RateLimits | None,
        *,
        clock: Clock,
        key_ttl_s: float,
        head_ttl_s: float,
    ) -> None:
        self.name = name
        self.keys, self.channel = pool_keys(name)
        self.on_change: Callable[[], None] = _noop
        #: live processes on this pool at the last reply (the N of a degraded 1/N share)
        self.processes = 1
        self._link = link
        self._limits = limits or RateLimits()
        self._view = LocalBuckets(self._limits, clock)
        self._degraded: LocalBuckets | None = None
        self._ops: list[dict[str, Any]] = []
        self._seq = 0
        self._head: object = _UNSET
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._config = json.dumps(_config(self._limits, key_ttl_s, head_ttl_s))

    # -- questions -------------------------------------------------------------------

    def check_fits(self, cost: Cost) -> None:
        self._view.check_fits(cost)

    async def reserve(self, cost: Cost, *, priority: int) -> float:
        if self._link.mode == "shared":
            try:
                return await self._reserve_shared(cost, priority)
            except LOST as exc:
                self._link.lost(exc)
        return self._reserve_local(cost)

    def statistics(self) -> PoolStatistics:
        local = self._degraded or self._view
        return PoolStatistics(
            name=self.name,
            buckets=local.states(),
            paused_for_s=max(0.0, local.paused_until - self._view.now()),
            paused_reason=local.paused_reason,
            backend="redis",
            mode=self._link.mode,
        )

    # -- corrections (synchronous; sent in the background, exactly once) ------------

    def give_back(self, amount: Cost) -> None:
        for local in self._locals():
            local.give_back(amount)
        # A degraded reservation came from the local share, so its refund stays local
        # (refunds of earlier shared reservations are then lost to the server: the safe
        # side). "failed" admits nothing, so what is settled then was taken from Redis.
        if self._link.mode != "degraded":
            self._queue({"k": "give", "a": list(amounts(amount))})
        self.on_change()

    def clamp(self, dim: str, remaining: float) -> None:
        for local in self._locals():
            local.clamp(dim, remaining)
        self._queue({"k": "clamp", "d": dim, "v": float(remaining)})

    def learn(
        self, dim: str, limit: float, remaining: float, *, window_s: float | None = None
    ) -> None:
        changed = [local.learn(dim, limit, remaining, window_s) for local in self._locals()]
        # The shared view's answer decides; a degraded slice only follows it.
        if changed[0]:
            op: dict[str, Any] = {"k": "learn", "d": dim, "l": float(limit), "v": float(remaining)}
            if window_s is not None:
                op["w"] = float(window_s)  # the server's measured window (time-scaled)
            self._queue(op)
            self.on_change()

    @property
    def limits(self) -> RateLimits:
        return self._limits

    def pause(self, seconds: float, reason: str) -> None:
        for local in self._locals():
            local.pause(seconds, reason)
        self._queue({"k": "pause", "v": float(seconds), "r": str(reason)})

    def sent(self) -> int | None:
        return None  # the shared lead stays whole: other processes' requests are unseen

    def answered(self, token: int | None) -> None:
        return None

    def withdrawn(self) -> None:
        return None

    def early_headers(self) -> bool:
        return False

    def waiting(self, priority: int | None) -> None:
        # Unchanged heads are not sent: each would be one more write to the pool's sorted set.
        if priority == self._head:
            return
        self._head = priority
        self._queue({"k": "head"} if priority is None else {"k": "head", "p": int(priority)})

    # -- for the backend -------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._ops)

    @property
    def busy(self) -> bool:
        """A call is in flight; what is pending goes with the next one (or when idle)."""
        return self._lock is not None and self._lock[1].locked()

    async def flush(self, *, heartbeat: bool = True) -> None:
        """Send the pending corrections in one script call (a heartbeat even with none).

        ``heartbeat=False``: only if some are still pending once the lock is ours, since
        a reserve that held it may have carried them already.
        """
        async with self._lock_here():
            batch = list(self._ops)
            if not batch and not heartbeat:
                return
            reply = await self._link.run("apply", self.keys, self._args(batch))
            # Only what was sent goes: corrections queued during the call wait for the next one.
            del self._ops[: len(batch)]
        self._mirror(reply)

    def leave(self) -> None:
        """This process is closing: its waiting head and its heartbeat go with the next call."""
        self._queue({"k": "bye"})

    def restore(self) -> None:
        """The server is back: drop the local share and let waiting heads ask it again."""
        self._degraded = None
        self.on_change()

    def lose(self) -> None:
        """The server is gone: the next local reserve cuts a fresh share of the last view."""
        self._degraded = None

    # -- internals -------------------------------------------------------------------

    async def _reserve_shared(self, cost: Cost, priority: int) -> float:
        await self._link.joined(self)  # a refusal is only as good as the wake-up after it
        async with self._lock_here():
            batch = list(self._ops)
            args = [*self._args(batch), str(int(priority)), *(str(a) for a in amounts(cost))]
            reply = await self._link.run("reserve", self.keys, args)
            del self._ops[: len(batch)]
        if self._ops:
            self._link.poke()  # what came in meanwhile: the next reserve or the flusher
        return self._mirror(reply)

    def _reserve_local(self, cost: Cost) -> float:
        if self._link.mode != "degraded":
            grace = self._link.grace_left()
            if grace > 0:
                # The line waits for the reconnect (it wakes the lanes) or the grace's end.
                return min(grace, _RECHECK_S)
            raise self._link.unavailable()
        if self._degraded is None:
            # Cut once per outage, from the last shared view.
            self._degraded = self._view.share(self.processes)
        return self._degraded.reserve(cost)

    def _args(self, batch: list[dict[str, Any]]) -> list[str]:
        return [self._link.pid, self.channel, self._config, json.dumps(batch)]

    def _mirror(self, reply: list[Any]) -> float:
        wait, pause_left, reason, processes, *fields = reply
        self.processes = max(1, int(processes))
        self._view.mirror(fields, float(pause_left), str(reason))
        return float(wait)

    def _queue(self, op: dict[str, Any]) -> None:
        # Numbered: the script skips numbers it has seen, so a retried call applies nothing twice.
        self._seq += 1
        op["s"] = self._seq
        self._ops.append(op)
        self._link.poke()

    def _locals(self) -> list[LocalBuckets]:
        return [self._view] if self._degraded is None else [self._view, self._degraded]

    def _lock_here(self) -> asyncio.Lock:
        # One lock per event loop: a Flow may run in a second loop after the first ended.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock[0] is not loop:
            self._lock = (loop, asyncio.Lock())
        return self._lock[1]

    def __repr__(self) -> str:
        return f"RedisPool({self.name!r}, mode={self._link.mode!r})"


def _config(limits: RateLimits, key_ttl_s: float, head_ttl_s: float) -> dict[str, Any]:
    rates = [limits.per_second(LIMIT_FIELD[d]) or 0.0 for d in DIMENSIONS]
    caps = [limits.capacity(LIMIT_FIELD[d]) or 0.0 for d in DIMENSIONS]
    return {
        "r": rates,
        "c": caps,
        "w": limits.window_s,
        "b": limits.burst,
        "l": list(limits.leads),  # per dimension, in DIMENSIONS order
        # Milliseconds, for PEXPIRE: short TTLs (tests) stay exact.
        "t": int(key_ttl_s * 1000),
        "h": head_ttl_s,
    }


def _noop() -> None:
    return None
