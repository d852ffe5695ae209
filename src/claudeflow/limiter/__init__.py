"""How fast may we go: token buckets, concurrency, all-or-nothing admission."""

from __future__ import annotations

from ._bucket import TokenBucket as TokenBucket

__all__ = ["TokenBucket"]
