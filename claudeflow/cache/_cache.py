"""The response cache: answers to requests already made, served without an API call.

A hit never reaches admission, so it costs no rate-limit capacity and no money. Only
successful answers are stored; errors never are. If the backend fails (Redis down), the
cache counts the error, logs it and behaves as a miss: a cache must never lose a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._clock import Clock, LoopClock
from .._config import check_positive
from .._errors import ConfigError
from ._backend import CacheBackend
from ._entry import CacheEntry
from ._key import request_key
from ._memory import MemoryBackend
from ._redis import RedisBackend

__all__ = ["ResponseCache"]

log = logging.getLogger("claudeflow.cache")

# The Flow's default ``anthropic-version`` (a test checks the two agree).
DEFAULT_API_VERSION = "2023-06-01"

Tagger = Callable[[Mapping[str, Any]], Iterable[str]]


class ResponseCache:
    """Opt-in cache of successful answers, keyed by the canonical request (see ``_key``).

    >>> cache = ResponseCache(ttl_s=600, max_entries=1_000)
    >>> flow = Flow(cache=cache, ...)  # doctest: +SKIP

    :param ttl_s: seconds an answer may be served; never a moment longer
    :param max_entries: memory backend: most answers kept (least recently used go first)
    :param max_bytes: memory backend: most bytes of answers kept
    :param redis: a ``redis.asyncio.Redis`` client to share the cache between processes
        (then ``max_entries``/``max_bytes`` do not apply; Redis' ``maxmemory`` does)
    :param prefix: Redis key prefix (one hash tag, so Redis Cluster works)
    :param tags: request body -> extra tags for :meth:`invalidate_tag` (the model id is
        always a tag)
    :param clock: measures the memory TTL; a Flow gives its own clock when this is unset
    """

    def __init__(
        self,
        *,
        ttl_s: float = 3600.0,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 2**20,
        redis: Any = None,
        prefix: str = "claudeflow-cache",
        tags: Tagger | None = None,
        clock: Clock | None = None,
    ) -> None:
        check_positive("ttl_s", ttl_s, allow_none=False)
        if tags is not None and not callable(tags):
            raise ConfigError("tags", "must be a callable taking the request body")
        self.ttl_s = ttl_s
        self._clock = clock
        self._tags = tags
        self.errors = 0
        self._backend: CacheBackend
        if redis is not None:
            self._backend = RedisBackend(redis, ttl_s=ttl_s, prefix=prefix)
        else:
            self._backend = MemoryBackend(
                ttl_s=ttl_s, max_entries=max_entries, max_bytes=max_bytes, timer=self._now
            )

    @property
    def backend(self) -> CacheBackend:
        return self._backend

    def use_clock(self, clock: Clock) -> None:
        """Measure the TTL with ``clock`` unless a clock was given (the Flow calls this)."""
        if self._clock is None:
            self._clock = clock

    def _now(self) -> float:
        # Made on first use: a Flow that starts later may still give its own (use_clock).
        if self._clock is None:
            self._clock = LoopClock()
        return self._clock.now()

    @staticmethod
    def key(
        body: Mapping[str, Any],
        *,
        anthropic_version: str = DEFAULT_API_VERSION,
        anthropic_beta: str | None = None,
    ) -> str:
        """The key a Flow files the answer to ``body`` under (for :meth:`invalidate`).

        Pass the Flow's ``anthropic_version`` if it is not the default, and the
        ``anthropic-beta`` header if the request was sent with one.
        """
        headers = {"anthropic-version": anthropic_version}
        if anthropic_beta is not None:
            headers["anthropic-beta"] = anthropic_beta
        return request_key(body, headers)

    async def get(self, key: str) -> CacheEntry | None:
        """The live entry under ``key``, or ``None`` (also when the backend fails)."""
        try:
            raw = await self._backend.get(key)
            return None if raw is None else CacheEntry.decode(raw)
        except Exception as exc:  # a broken cache is a miss, never a failed request
            self._failed("get", exc)
            return None

    async def put(
        self,
        key: str,
        body: Mapping[str, Any],
        message: Mapping[str, Any],
        cost_usd: float | None,
    ) -> bool:
        """Store a successful answer; ``False`` if it was not kept."""
        # The model is always a tag: its answers are what one most often drops at once.
        tags = frozenset({str(body.get("model", "")), *(self._tags(body) if self._tags else ())})
        entry = CacheEntry(key, message, cost_usd, tags, self._now())
        try:
            return await self._backend.set(key, entry.encode(), tags=tags)
        # Same rule as get: a cache that cannot store loses the saving, never the answer.
        except Exception as exc:
            self._failed("put", exc)
            return False

    async def invalidate(self, key: str) -> bool:
        """Forget one answer; ``True`` if it was there."""
        return await self._backend.delete([key]) > 0

    async def invalidate_tag(self, tag: str) -> int:
        """Forget every answer tagged ``tag``; return how many were live."""
        return await self._backend.delete(await self._backend.keys_tagged(tag))

    async def invalidate_where(self, predicate: Callable[[CacheEntry], bool]) -> int:
        """Forget every answer for which ``predicate(entry)`` is true."""
        doomed = [
            key async for key, raw in self._backend.items() if predicate(CacheEntry.decode(raw))
        ]
        return await self._backend.delete(doomed)

    async def clear(self) -> int:
        """Forget everything; return how many answers there were."""
        return await self._backend.clear()

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        # Every failure, not once: a cache that keeps failing should keep showing it.
        log.warning(
            "response cache %s failed (%s: %s); treated as a miss", what, type(exc).__name__, exc
        )

    def __repr__(self) -> str:
        return f"ResponseCache(ttl_s={self.ttl_s!r}, backend={type(self._backend).__name__})"
