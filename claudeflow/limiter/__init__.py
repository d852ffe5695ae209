"""How fast may we go: token buckets, concurrency, all-or-nothing admission."""

from __future__ import annotations

from ._admission import DIMENSIONS as DIMENSIONS
from ._admission import Admission as Admission
from ._admission import BucketState as BucketState
from ._admission import Permit as Permit
from ._bucket import TokenBucket as TokenBucket

__all__ = ["DIMENSIONS", "Admission", "BucketState", "Permit", "TokenBucket"]
