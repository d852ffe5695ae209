"""In-flight coalescing: identical requests under way at once share one API call.

Each caller awaits the shared call through :func:`asyncio.shield`, so cancelling one
caller leaves the call running for the others; only when the last caller has gone is
the call itself cancelled (and its capacity given back by the Flow).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Coalescer"]

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class _Call(Generic[T]):
    task: asyncio.Future[T]
    callers: int = 0


class Coalescer(Generic[T]):
    """Runs at most one ``start()`` per key at a time; every caller gets its outcome."""

    def __init__(self) -> None:
        self._calls: dict[str, _Call[T]] = {}

    def __len__(self) -> int:
        """Calls in flight."""
        return len(self._calls)

    async def run(self, key: str, start: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The outcome of the call for ``key``, and whether we joined one already running."""
        call = self._calls.get(key)
        joined = call is not None
        if call is None:
            call = _Call(asyncio.ensure_future(start()))
            self._calls[key] = call
            call.task.add_done_callback(lambda _: self._forget(key, call))
        call.callers += 1
        try:
            # Shielded: one caller's cancellation must not cancel the call the others wait on.
            return await asyncio.shield(call.task), joined
        except asyncio.CancelledError:
            if not call.task.done():  # this caller was cancelled, not the call
                call.callers -= 1
                # The last caller gone: nobody wants the answer, so its capacity goes back.
                if call.callers == 0:
                    call.task.cancel()
            raise

    def _forget(self, key: str, call: _Call[T]) -> None:
        # A later call for the same key may already be in the table; only our own entry goes.
        if self._calls.get(key) is call:
            del self._calls[key]
        if not call.task.cancelled():
            call.task.exception()  # seen: every caller has received it already
