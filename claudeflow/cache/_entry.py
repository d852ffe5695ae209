"""What the response cache stores: one successful answer, as compact JSON bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..tokens import Usage

__all__ = ["CacheEntry"]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached answer.

    :ivar key: the request key (:func:`request_key`)
    :ivar message: the API's response JSON
    :ivar cost_usd: what the original request cost (what each hit saves); ``None`` if
        the model is unpriced
    :ivar tags: labels for :meth:`ResponseCache.invalidate_tag` (the model id by default)
    :ivar stored_at: the cache's clock when stored
    """

    key: str
    message: Mapping[str, Any]
    cost_usd: float | None
    tags: frozenset[str]
    stored_at: float

    @property
    def model(self) -> str:
        return str(self.message.get("model", ""))

    @property
    def usage(self) -> Usage:
        return Usage.from_api(self.message.get("usage"))

    def encode(self) -> bytes:
        data = {
            "key": self.key,
            "message": self.message,
            "cost_usd": self.cost_usd,
            "tags": sorted(self.tags),
            "stored_at": self.stored_at,
        }
        # Compact: the memory backend bounds its bytes, and Redis stores every one of them.
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def decode(cls, raw: bytes) -> CacheEntry:
        data = json.loads(raw)
        return cls(
            key=data["key"],
            message=data["message"],
            cost_usd=data["cost_usd"],
            tags=frozenset(data["tags"]),
            stored_at=float(data["stored_at"]),
        )
