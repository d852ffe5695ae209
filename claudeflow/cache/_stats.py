"""Counters of the cheaper paths: cache hits, coalesced calls and what they saved."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CacheStats", "prompt_cache_share"]


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of a Flow's response cache and coalescing.

    :ivar hits: answered from the response cache
    :ivar misses: looked up and not found (then sent, or joined)
    :ivar coalesced: joined an identical call already in flight
    :ivar stores: answers put into the cache
    :ivar errors: backend failures (each treated as a miss)
    :ivar saved_calls: API calls not made (hits + coalesced)
    :ivar saved_input_tokens: prompt tokens (all kinds) not sent again
    :ivar saved_output_tokens: output tokens not generated again
    :ivar saved_usd: what those calls would have cost
    """

    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    stores: int = 0
    errors: int = 0
    saved_input_tokens: int = 0
    saved_output_tokens: int = 0
    saved_usd: float = 0.0

    @property
    def saved_calls(self) -> int:
        return self.hits + self.coalesced

    @property
    def hit_rate(self) -> float:
        """Share of look-ups answered from the cache (0 when nothing was looked up)."""
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


def prompt_cache_share(input_tokens: int, creation: int, read: int) -> float:
    """Share of the prompt served from the API's prompt cache (``cache_control``).

    >>> prompt_cache_share(100, 0, 900)
    0.9
    """
    total = input_tokens + creation + read
    return read / total if total else 0.0
