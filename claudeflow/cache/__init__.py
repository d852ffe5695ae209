"""Have we answered this before: the response cache and in-flight coalescing."""

from __future__ import annotations

from .._replay import replay_events as replay_events
from ._backend import CacheBackend as CacheBackend
from ._cache import ResponseCache as ResponseCache
from ._coalesce import Coalescer as Coalescer
from ._entry import CacheEntry as CacheEntry
from ._key import canonical_request as canonical_request
from ._key import request_key as request_key
from ._layer import SavingLayer as SavingLayer
from ._layer import coalesces as coalesces
from ._memory import MemoryBackend as MemoryBackend
from ._redis import RedisBackend as RedisBackend
from ._stats import CacheStats as CacheStats
from ._stats import prompt_cache_share as prompt_cache_share

__all__ = [
    "CacheBackend",
    "CacheEntry",
    "CacheStats",
    "Coalescer",
    "MemoryBackend",
    "RedisBackend",
    "ResponseCache",
    "SavingLayer",
    "canonical_request",
    "coalesces",
    "prompt_cache_share",
    "replay_events",
]
