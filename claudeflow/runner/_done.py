"""Which custom_ids are already done, in 8 bytes per id.

Resuming a run over a million lines must not hold a million strings. Each id is kept
as a 64-bit BLAKE2b digest in one sorted ``array('Q')`` and looked up by bisection.
Two different ids share a digest with probability about ``n**2 / 2**65`` (3e-8 for a
million ids); the cost of such a collision is one request skipped as already done.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable

__all__ = ["DoneIndex", "IdSet", "id_digest"]


def id_digest(custom_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(custom_id.encode(), digest_size=8).digest(), "little")


class DoneIndex:
    """A frozen set of custom_ids, built once from the ids already in the output file."""

    __slots__ = ("_digests",)

    def __init__(self, custom_ids: Iterable[str] = ()) -> None:
        digests = array("Q", (id_digest(custom_id) for custom_id in custom_ids))
        # sorted() briefly holds Python ints; the index itself keeps 8 bytes per id.
        self._digests = array("Q", sorted(digests))

    @classmethod
    def from_digests(cls, digests: array[int]) -> DoneIndex:
        """An index of the ids whose :func:`id_digest` values are ``digests``."""
        index = cls()
        index._digests = array("Q", sorted(digests))
        return index

    def __contains__(self, custom_id: object) -> bool:
        if isinstance(custom_id, int):
            digest = custom_id  # already a digest
        elif isinstance(custom_id, str):
            digest = id_digest(custom_id)
        else:
            return False
        i = bisect_left(self._digests, digest)
        return i < len(self._digests) and self._digests[i] == digest

    def __len__(self) -> int:
        return len(self._digests)


class IdSet:
    """A growing set of custom_ids, in about 16 bytes per id.

    Open addressing over 64-bit digests in an ``array('Q')`` (0 marks a free slot),
    kept at most half full. Used to find duplicate ids while the input streams by; the
    chance that two different ids share a digest is as for :class:`DoneIndex`.
    """

    __slots__ = ("_count", "_slots")

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._count = 0

    def add(self, custom_id: str) -> bool:
        """Add ``custom_id``; return whether it was new."""
        digest = id_digest(custom_id) or 1
        # (0 marks a free slot, so a digest of 0 is stored as 1: one more rare collision.)
        if not _place(self._slots, digest):
            return False
        self._count += 1
        # At most half full: probes stay short, and a free slot always ends a probe.
        if 2 * self._count > len(self._slots):
            self._grow()
        return True

    def __contains__(self, custom_id: object) -> bool:
        if not isinstance(custom_id, str):
            return False
        digest = id_digest(custom_id) or 1
        return self._slots[_probe(self._slots, digest)] == digest

    def __len__(self) -> int:
        return self._count

    def _grow(self) -> None:
        old = self._slots
        # Doubled: the size stays a power of two, so a mask replaces the modulo in _probe.
        self._slots = array("Q", bytes(16 * len(old)))
        for digest in old:
            if digest:
                _place(self._slots, digest)


def _probe(slots: array[int], digest: int) -> int:
    """The slot holding ``digest``, else the free one where it belongs (linear probing)."""
    mask = len(slots) - 1
    i = digest & mask
    while slots[i] and slots[i] != digest:
        i = (i + 1) & mask
    return i


def _place(slots: array[int], digest: int) -> bool:
    """Put ``digest`` in ``slots``; ``False`` if it was there already."""
    i = _probe(slots, digest)
    if slots[i]:
        return False
    slots[i] = digest
    return True
