"""The storage seam of the response cache: memory (one process) or Redis (shared)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol

__all__ = ["CacheBackend"]


class CacheBackend(Protocol):
    """Stores encoded entries under request keys, each with a TTL and tags.

    The backend enforces the TTL with its own clock (the Flow's clock in memory, the
    server's in Redis) and never returns an entry whose TTL has run out.
    """

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, tags: Iterable[str]) -> bool:
        """Store ``value`` for the backend's TTL; ``False`` if it was not kept (too large)."""
        ...

    async def delete(self, keys: Iterable[str]) -> int:
        """Remove ``keys``; return how many existed."""
        ...

    async def keys_tagged(self, tag: str) -> list[str]: ...

    def items(self) -> AsyncIterator[tuple[str, bytes]]:
        """Every live entry (for invalidation by predicate)."""
        ...

    async def clear(self) -> int:
        """Remove everything; return how many entries there were."""
        ...

    async def aclose(self) -> None: ...
