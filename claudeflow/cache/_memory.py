"""The in-process cache backend: a ``cachetools.TTLCache`` bounded by entries and bytes.

The TTL timer is the Flow's :class:`Clock`, so expiry is testable in virtual time
(``TTLCache`` treats an entry as gone from the instant ``now >= stored + ttl``). The
size of a value is its length in bytes (``getsizeof=len``), which bounds memory; the
entry count is bounded separately by evicting expired, then least recently used entries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable

from cachetools import TTLCache

from .._config import check_positive
from .._errors import ConfigError

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """Entries live in this process; ``timer`` gives the time TTLs are measured in.

    :param ttl_s: seconds an entry lives
    :param max_entries: most entries kept
    :param max_bytes: most bytes of encoded entries kept
    """

    def __init__(
        self, *, ttl_s: float, max_entries: int, max_bytes: int, timer: Callable[[], float]
    ) -> None:
        check_positive("ttl_s", ttl_s, allow_none=False)
        for name, value in (("max_entries", max_entries), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be an int >= 1, got {value!r}")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: TTLCache[str, bytes] = TTLCache(
            maxsize=max_bytes, ttl=ttl_s, timer=timer, getsizeof=len
        )
        self._tags: dict[str, set[str]] = {}

    async def get(self, key: str) -> bytes | None:
        return self._entries.get(key)

    async def set(self, key: str, value: bytes, *, tags: Iterable[str]) -> bool:
        if len(value) > self._max_bytes:
            return False  # TTLCache would raise; an oversized answer is simply not kept
        self._entries[key] = value
        while len(self._entries) > self._max_entries:
            self._entries.popitem()
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)
        self._prune_tags()
        return True

    async def delete(self, keys: Iterable[str]) -> int:
        return sum(self._entries.pop(key, None) is not None for key in keys)

    async def keys_tagged(self, tag: str) -> list[str]:
        # Popped: the keys are about to be deleted, so the tag has nothing left to name.
        return sorted(self._tags.pop(tag, set()))

    async def items(self) -> AsyncIterator[tuple[str, bytes]]:
        # Swept first, so expired entries are neither listed nor counted.
        self._entries.expire()
        for key, value in list(self._entries.items()):
            yield key, value

    async def clear(self) -> int:
        self._entries.expire()
        count = len(self._entries)
        self._entries.clear()
        self._tags.clear()
        return count

    async def aclose(self) -> None:
        return None

    @property
    def size(self) -> tuple[int, int]:
        """(entries, bytes) currently held, expired ones included until they are swept."""
        return len(self._entries), int(self._entries.currsize)

    def _prune_tags(self) -> None:
        """Forget evicted keys once the tag index has grown past twice the entries."""
        # Pruned rarely: evicted keys linger in the index, harmless until it grows large.
        if sum(len(keys) for keys in self._tags.values()) <= 2 * len(self._entries) + 64:
            return
        live = set(self._entries.keys())
        for tag in list(self._tags):
            self._tags[tag] &= live
            if not self._tags[tag]:
                del self._tags[tag]
