"""Prompt caching, simply and deterministically.

Every ``cache_control`` breakpoint names a prefix of the prompt (tools, system,
messages, in that order) ending at the marked block. On a request:

- the longest breakpoint prefix already in the cache is *read*
  (``cache_read_input_tokens``);
- the rest of the prompt up to the last breakpoint is *written*
  (``cache_creation_input_tokens``) once the request is admitted;
- everything after the last breakpoint is plain ``input_tokens``.

Prefixes shorter than ``cache_min_tokens`` are never cached (the API has a per-model
minimum). Entries are kept per API key and model and live ``ttl`` simulated minutes,
refreshed on every hit. A rejected request neither reads nor writes: :meth:`plan` only
looks, :meth:`commit` stores.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass

from ._tokenizer import Prompt

__all__ = ["CachePlan", "PromptCache"]

_MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class CachePlan:
    """How one prompt splits into read, written and plain input tokens."""

    input_tokens: int
    cache_read: int
    cache_creation: int
    creation_ttl: str
    # (digest, ttl) of every breakpoint prefix to store or refresh on admission
    entries: tuple[tuple[bytes, str], ...] = ()

    @staticmethod
    def uncached(total: int) -> CachePlan:
        return CachePlan(total, 0, 0, "5m")


class PromptCache:
    """Breakpoint prefixes seen recently, with their expiry times (clock seconds)."""

    __slots__ = ("_entries", "_min_tokens", "_minute_seconds", "_ttl_minutes")

    def __init__(self, *, min_tokens: int, minute_seconds: float, ttl_minutes: float) -> None:
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._min_tokens = min_tokens
        self._minute_seconds = minute_seconds
        self._ttl_minutes = ttl_minutes

    def __len__(self) -> int:
        return len(self._entries)

    def plan(self, prompt: Prompt, scope: str, now: float) -> CachePlan:
        """Split ``prompt`` for the cache ``scope`` (API key + model) without storing."""
        if not prompt.has_breakpoint:
            return CachePlan.uncached(prompt.total)
        # Seeded with the scope: one key's cache never serves another key or model.
        digest = hashlib.blake2b(scope.encode(), digest_size=16)
        prefix = 0
        points: list[tuple[int, bytes, str]] = []
        for unit in prompt.units:
            # One running digest: a prefix hits only if every block before it matches too.
            digest.update(json.dumps(unit.material, sort_keys=True).encode())
            prefix += unit.tokens
            if unit.ttl is not None and prefix >= self._min_tokens:
                points.append((prefix, digest.digest(), unit.ttl))
        if not points:
            return CachePlan.uncached(prompt.total)
        # Only the longest live prefix counts as read; shorter hits are inside it.
        read = max((size for size, key, _ in points if self._alive(key, now)), default=0)
        last = points[-1][0]
        creation = last - read
        entries = tuple((key, ttl) for _, key, ttl in points)
        return CachePlan(prompt.total - last, read, creation, points[-1][2], entries)

    def commit(self, plan: CachePlan, now: float) -> None:
        """Store (or refresh) the plan's prefixes: the request was admitted."""
        for key, ttl in plan.entries:
            minutes = 60.0 if ttl == "1h" else self._ttl_minutes
            self._entries[key] = now + minutes * self._minute_seconds
            # Moved to the end on every refresh, so eviction below drops the least recently used.
            self._entries.move_to_end(key)
        while len(self._entries) > _MAX_ENTRIES:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def _alive(self, key: bytes, now: float) -> bool:
        expiry = self._entries.get(key)
        return expiry is not None and expiry > now
