"""The cheaper paths: the response cache with coalescing, and Message Batches.

Both answer a request before (or instead of) admission: a cache hit or a shared call
costs no capacity, and a batched request leaves the per-minute limits alone. Everything
here is made per Flow run, like the dispatcher.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from .._errors import InvalidRequestError
from ..batches import BatchApi, BatchRunner, BatchStats
from ..cache import CacheStats, SavingLayer
from ._parts import Parts
from ._result import Result
from ._stream import FlowStream

__all__ = ["CheaperPaths", "Signer"]

# A call's extra headers -> its headers with the key to use outside the pools.
Signer = Callable[[Mapping[str, str] | None], Mapping[str, str]]


class CheaperPaths:
    """The saving layer (cache and coalescing) and the Batches runner, when configured."""

    def __init__(self, parts: Parts, signed: Signer) -> None:
        self._signed = signed
        self._saving: SavingLayer[Result] | None = None
        # coalesce=None still coalesces deterministic requests, so only False turns it off.
        if parts.cache is not None or parts.coalesce is not False:
            self._saving = SavingLayer(
                cache=parts.cache, coalesce=parts.coalesce, make_result=Result
            )
        self._batching: BatchRunner[Result] | None = None
        if parts.batches is not None:
            # The Flow's own transport and retry policy: one connection pool, one back-off.
            api = BatchApi(
                parts.transports.main, retry=parts.retry, clock=parts.clock, rng=parts.rng
            )
            self._batching = BatchRunner(
                parts.batches, api=api, clock=parts.clock, prices=parts.prices, make_result=Result
            )

    def batches(self, batch: bool | None, priority: int, queue_timeout: float | None) -> bool:
        """Whether this request goes through Message Batches (``batch`` wins over the rule)."""
        if self._batching is None:
            if batch:
                raise InvalidRequestError("batch=True needs Flow(batches=BatchOffload(...))")
            return False
        return self._batching.wants(batch, priority, queue_timeout)

    def saves(self, body: Mapping[str, Any]) -> bool:
        """Whether the cache or coalescing could answer ``body`` cheaper than a call."""
        return self._saving is not None and self._saving.saves(body)

    @property
    def caches(self) -> bool:
        """Whether a response cache is on (streams are replayed from it)."""
        return self._saving is not None and self._saving.cache is not None

    async def create(
        self,
        body: dict[str, Any],
        priority: int,
        extra_headers: Mapping[str, str] | None,
        batching: bool,
        queued: Callable[[], Awaitable[Result]],
    ) -> Result:
        """Batches (or ``queued``, the ordinary path), with the saving layer around either."""
        headers = self._signed(extra_headers)
        send = queued
        if batching:
            assert self._batching is not None
            send = functools.partial(self._batching.submit, body, headers, priority)
        if self._saving is not None and self._saving.saves(body):
            return await self._saving.create(body, headers, priority, send)
        return await send()

    def stream(
        self,
        body: dict[str, Any],
        priority: int,
        extra_headers: Mapping[str, str] | None,
        opened: Callable[[], AbstractAsyncContextManager[FlowStream]],
    ) -> AbstractAsyncContextManager[FlowStream]:
        """A cached answer replayed as events, or ``opened`` (stored when it ends)."""
        assert self._saving is not None
        headers = self._signed(extra_headers)
        return self._saving.stream(body, headers, priority, opened, FlowStream)

    async def aclose(self, *, cancel: bool) -> None:
        """End the batches (before the transport closes); the saving layer holds nothing."""
        if self._batching is not None:
            await self._batching.aclose(cancel=cancel)

    def stats(self) -> tuple[CacheStats | None, BatchStats | None]:
        """What the saving layer and the batches saved, when they are on."""
        return (
            self._saving.stats() if self._saving is not None else None,
            self._batching.stats() if self._batching is not None else None,
        )
