"""The cache and coalescing in front of a Flow: consulted before admission.

The Flow hands over the request and a ``send`` callable (the ordinary path through
admission, or the batch path). The layer answers from the cache, joins an identical
call in flight, or sends and stores the answer. It knows the Flow's result type only
through ``make_result`` and the small :class:`Answered` protocol, so the dependency
points from the scheduler to here and not back.

Coalescing rule (``coalesce=None``, the default): identical requests are coalesced
only where sharing one answer cannot change meaning: when the response cache is on
(the later caller would get the cached answer anyway) or the request sets
``temperature=0``. Without either, two identical requests are two samples and each
gets its own call. ``coalesce=True`` coalesces every identical request, ``False`` none.
Streams are never coalesced (a joiner would miss the events already sent); they do
read and fill the cache.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from .._message import Message
from .._replay import replay_events
from .._snapshot import snapshot
from .._types import Cost
from ..tokens import Usage
from ._cache import ResponseCache
from ._coalesce import Coalescer
from ._entry import CacheEntry
from ._key import request_key
from ._stats import CacheStats

__all__ = ["Answered", "ReplayableStream", "SavingLayer", "coalesces"]


class Answered(Protocol):
    """What the layer reads from a Flow's result."""

    @property
    def message(self) -> Message: ...

    @property
    def usage(self) -> Usage: ...

    @property
    def cost_usd(self) -> float | None: ...


R = TypeVar("R", bound=Answered)


class ReplayableStream(Protocol[R]):  # type: ignore[misc]
    """What the layer needs of a Flow's stream object."""

    def put(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...

    def finished(self) -> R | None: ...


S = TypeVar("S", bound=ReplayableStream[Any])


def coalesces(setting: bool | None, body: Mapping[str, Any], *, cached: bool) -> bool:
    """Whether identical in-flight copies of ``body`` share one call (rule above)."""
    if setting is not None:
        return setting
    return cached or body.get("temperature") == 0


class SavingLayer(Generic[R]):
    """Cache plus coalescing for one Flow.

    :param make_result: builds the Flow's result type from its keyword fields
    """

    def __init__(
        self,
        *,
        cache: ResponseCache | None,
        coalesce: bool | None,
        make_result: Callable[..., R],
    ) -> None:
        self.cache = cache
        self.coalesce = coalesce
        self._make_result = make_result
        self._coalescer: Coalescer[R] = Coalescer()
        self._counts: Counter[str] = Counter()
        self._saved_usd = 0.0

    def stats(self) -> CacheStats:
        return snapshot(
            CacheStats,
            self._counts,
            errors=self.cache.errors if self.cache else 0,
            saved_usd=self._saved_usd,
        )

    def saves(self, body: Mapping[str, Any]) -> bool:
        """Whether :meth:`create` could answer ``body`` any cheaper than sending it."""
        return self.cache is not None or coalesces(self.coalesce, body, cached=False)

    async def create(
        self,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        priority: int,
        send: Callable[[], Awaitable[R]],
    ) -> R:
        """The answer to ``body``: cached, shared with an identical call, or sent now."""
        coalesce = coalesces(self.coalesce, body, cached=self.cache is not None)
        if self.cache is None and not coalesce:
            return await send()  # nothing to save: no key to compute
        key = request_key(body, headers)
        hit = await self._lookup(key, priority)
        if hit is not None:
            return hit
        if not coalesce:
            return await self._send_and_store(key, body, send)
        result, joined = await self._coalescer.run(
            key, lambda: self._send_and_store(key, body, send)
        )
        if joined:
            # Only a joiner saved anything: the first caller's call was really made.
            self._counts["coalesced"] += 1
            self._count_saved(result.usage, result.cost_usd)
        return result

    @contextlib.asynccontextmanager
    async def stream(
        self,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        priority: int,
        open_stream: Callable[[], AbstractAsyncContextManager[S]],
        make_stream: Callable[[asyncio.Future[R]], S],
    ) -> AsyncIterator[S]:
        """A cached answer replayed as events, or the real stream (stored when it ends)."""
        key = request_key(body, headers)
        hit = await self._lookup(key, priority)
        if hit is not None:
            done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            done.set_result(hit)
            replay = make_stream(done)
            for event in replay_events(hit.message.to_dict()):
                replay.put(event)
            # Closed before it is handed out: the whole answer is already there.
            replay.close()
            yield replay
            return
        async with open_stream() as stream:
            yield stream
        result = stream.finished()
        # Only a stream read to its end is stored: a cut-off one is no answer.
        if result is not None:
            await self._store(key, body, result)

    async def _lookup(self, key: str, priority: int) -> R | None:
        if self.cache is None:
            return None
        entry = await self.cache.get(key)
        if entry is None:
            self._counts["misses"] += 1
            return None
        self._counts["hits"] += 1
        self._count_saved(entry.usage, entry.cost_usd)
        return self._hit(entry, priority)

    def _hit(self, entry: CacheEntry, priority: int) -> R:
        # Nothing was sent or billed: no reservation, no attempt, no cost. ``usage`` is
        # the original answer's, so callers still see what the answer is made of.
        return self._make_result(
            message=Message(entry.message),
            usage=entry.usage,
            estimated_input_tokens=0,
            reserved=Cost(0, 0, 0),
            attempts=0,
            queue_wait_s=0.0,
            retry_wait_s=0.0,
            latency_s=0.0,
            cost_usd=0.0,
            request_id=None,
            priority=priority,
            cache_hit=True,
        )

    async def _send_and_store(
        self, key: str, body: Mapping[str, Any], send: Callable[[], Awaitable[R]]
    ) -> R:
        result = await send()  # an error propagates and is never stored
        await self._store(key, body, result)
        return result

    async def _store(self, key: str, body: Mapping[str, Any], result: R) -> None:
        # put() refuses an answer too large to keep; only kept ones count as stores.
        if self.cache is not None and await self.cache.put(
            key, body, result.message.to_dict(), result.cost_usd
        ):
            self._counts["stores"] += 1

    def _count_saved(self, usage: Usage, cost_usd: float | None) -> None:
        # The whole prompt, cached parts included: all of it would have been sent again.
        self._counts["saved_input_tokens"] += usage.total_input
        self._counts["saved_output_tokens"] += usage.output_tokens
        self._saved_usd += cost_usd or 0.0
