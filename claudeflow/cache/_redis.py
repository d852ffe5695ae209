"""The shared cache backend: Redis (redis-py asyncio), so many processes share answers.

Every key carries one hash tag (``{prefix}``), so a cache lives in one cluster slot and
multi-key commands work on Redis Cluster too. An entry is ``SET key value PX ttl``: the
server's clock expires it, and Redis never returns it past its TTL. A tag is a set of
entry keys that lives as long as its newest entry. Memory is bounded by the server's
``maxmemory`` policy, not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from .._config import check_positive
from .._errors import ConfigError

__all__ = ["RedisBackend"]

_SCAN_COUNT = 500


class RedisBackend:
    """Entries in Redis under ``{prefix}:entry:<key>``; tags under ``{prefix}:tag:<tag>``.

    :param client: a ``redis.asyncio.Redis`` (the caller owns it and closes it)
    :param ttl_s: seconds an entry lives (millisecond precision)
    :param prefix: names this cache; caches with different prefixes never mix
    """

    def __init__(self, client: Any, *, ttl_s: float, prefix: str = "claudeflow-cache") -> None:
        check_positive("ttl_s", ttl_s, allow_none=False)
        if not prefix or any(c in prefix for c in "{}"):
            raise ConfigError("prefix", f"must be non-empty and without braces, got {prefix!r}")
        if not all(hasattr(client, name) for name in ("get", "set", "pipeline", "scan_iter")):
            raise ConfigError("redis", "must be a redis.asyncio.Redis client")
        self._client = client
        # At least 1 ms: PX 0 is an error to Redis.
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._base = "{" + prefix + "}"

    def _entry(self, key: str) -> str:
        return f"{self._base}:entry:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self._base}:tag:{tag}"

    async def get(self, key: str) -> bytes | None:
        value: bytes | None = await self._client.get(self._entry(key))
        return value

    async def set(self, key: str, value: bytes, *, tags: Iterable[str]) -> bool:
        # One transaction: an entry is never visible without its tags.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._entry(key), value, px=self._ttl_ms)
            for tag in tags:
                # Entries share one TTL, so the newest entry is the last to expire.
                pipe.sadd(self._tag(tag), key)
                pipe.pexpire(self._tag(tag), self._ttl_ms)
            await pipe.execute()
        return True

    async def delete(self, keys: Iterable[str]) -> int:
        names = [self._entry(key) for key in keys]
        return int(await self._client.delete(*names)) if names else 0

    async def keys_tagged(self, tag: str) -> list[str]:
        # Atomic: a key tagged between the read and the delete would be dropped unread.
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.smembers(self._tag(tag))
            pipe.delete(self._tag(tag))
            members, _ = await pipe.execute()
        return sorted(_text(m) for m in members)

    async def items(self) -> AsyncIterator[tuple[str, bytes]]:
        prefix = self._entry("")
        # SCAN, not KEYS: KEYS blocks a shared server for as long as it takes.
        names = [_text(n) async for n in self._client.scan_iter(f"{prefix}*", _SCAN_COUNT)]
        for start in range(0, len(names), _SCAN_COUNT):
            chunk = names[start : start + _SCAN_COUNT]
            for name, value in zip(chunk, await self._client.mget(chunk), strict=True):
                if value is not None:  # expired between SCAN and MGET
                    yield name.removeprefix(prefix), value

    async def clear(self) -> int:
        entries = 0
        names = [_text(n) async for n in self._client.scan_iter(f"{self._base}:*", _SCAN_COUNT)]
        for start in range(0, len(names), _SCAN_COUNT):
            chunk = names[start : start + _SCAN_COUNT]
            entries += sum(n.startswith(self._entry("")) for n in chunk)
            await self._client.delete(*chunk)
        return entries

    async def aclose(self) -> None:
        return None  # the client belongs to the caller


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
