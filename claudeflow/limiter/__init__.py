"""How fast may we go: token buckets, pools and their backends, all-or-nothing admission."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._admission import Permit as Permit
from ._admission import Slots as Slots
from ._backend import Backend as Backend
from ._backend import BucketState as BucketState
from ._backend import PoolBuckets as PoolBuckets
from ._backend import PoolStatistics as PoolStatistics
from ._bucket import TokenBucket as TokenBucket
from ._classes import ModelClasses as ModelClasses
from ._classes import model_class as model_class
from ._local import DIMENSIONS as DIMENSIONS
from ._memory import MemoryBackend as MemoryBackend
from ._memory import MemoryPool as MemoryPool
from ._quota import Quota as Quota
from ._quota import QuotaBook as QuotaBook

if TYPE_CHECKING:
    from ._redis import RedisBackend as RedisBackend


def __getattr__(name: str) -> Any:
    # The Redis backend needs the optional ``redis`` package: import it only when asked.
    if name == "RedisBackend":
        from ._redis import RedisBackend

        return RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DIMENSIONS",
    "Backend",
    "BucketState",
    "MemoryBackend",
    "MemoryPool",
    "ModelClasses",
    "Permit",
    "PoolBuckets",
    "PoolStatistics",
    "Quota",
    "QuotaBook",
    "RedisBackend",
    "Slots",
    "TokenBucket",
    "model_class",
]
