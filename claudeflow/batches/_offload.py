"""The batch path of a Flow: collect requests, submit batches, poll, resolve callers.

Requests that may wait collect in a group (one per set of headers) until the group is
full (count or bytes, api doc §7.4) or ``linger_s`` has passed; the group then becomes
one batch run by its own task: create, poll with growing pauses (the injected clock),
read the results file and resolve each caller's future with the Flow's result type at
the batch price. Batched requests never touch the per-minute limits. A caller who
cancels leaves its batch alone unless it was the last one waiting on it; then the batch
is cancelled on the API at once, since the API cancels whole batches only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .._clock import Clock, TimerHandle
from .._errors import BatchError, ClaudeflowError, FlowClosedError
from .._snapshot import snapshot
from ..tokens import PriceTable
from ._api import BatchApi
from ._config import BatchOffload
from ._results import error_of, parse_results, price_result
from ._stats import BatchStats

__all__ = ["BatchRunner"]

log = logging.getLogger("claudeflow.batches")

R = TypeVar("R")
_Headers = tuple[tuple[str, str], ...]
_ENTRY_OVERHEAD = 64  # bytes of JSON around each entry's params (custom_id, commas)


@dataclass(slots=True, eq=False)
class _Item:
    custom_id: str
    body: Mapping[str, Any]
    priority: int
    size: int
    queued_at: float
    future: asyncio.Future[Any]


@dataclass(slots=True, eq=False)
class _Group:
    headers: Mapping[str, str]
    items: list[_Item] = field(default_factory=list)
    size: int = 0
    timer: TimerHandle | None = None


class BatchRunner(Generic[R]):
    """Runs one Flow's batch path (built per Flow run; see module docstring)."""

    def __init__(
        self,
        config: BatchOffload,
        *,
        api: BatchApi,
        clock: Clock,
        prices: PriceTable,
        make_result: Callable[..., R],
    ) -> None:
        self.config = config
        self._api = api
        self._clock = clock
        self._prices = prices
        self._make_result = make_result
        self._groups: dict[_Headers, _Group] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._counts: Counter[str] = Counter()
        self._cost = [0.0, 0.0]  # spent, saved
        self._closing = False

    def wants(self, batch: bool | None, priority: int, queue_timeout: float | None) -> bool:
        """Whether this request takes the batch path (``batch`` wins over the rule)."""
        return batch if batch is not None else self.config.rule(priority, queue_timeout)

    async def submit(self, body: Mapping[str, Any], headers: Mapping[str, str], priority: int) -> R:
        """Queue ``body`` for the next batch and wait for its result."""
        if self._closing:
            raise FlowClosedError("Flow is closing; no new batched requests")
        item = _Item(
            custom_id=f"cf-{next(self._ids)}",
            body=body,
            priority=priority,
            size=len(json.dumps(body, separators=(",", ":"))) + _ENTRY_OVERHEAD,
            queued_at=self._clock.now(),
            future=asyncio.get_running_loop().create_future(),
        )
        self._add(item, headers)
        result: R = await item.future  # cancelling the caller cancels the future only
        return result

    def _add(self, item: _Item, headers: Mapping[str, str]) -> None:
        # One group per set of headers: a batch is one API call, sent with one set of headers.
        key = tuple(sorted(headers.items()))
        group = self._groups.get(key)
        # Flushed before it would overflow: the API refuses a batch over its byte limit whole.
        if group is not None and group.size + item.size > self.config.max_bytes:
            self._flush(key)
            group = None
        if group is None:
            group = self._groups[key] = _Group(headers)
            # The first request starts the clock: none waits more than linger_s to be submitted.
            group.timer = self._clock.call_later(self.config.linger_s, lambda: self._flush(key))
        group.items.append(item)
        group.size += item.size
        if len(group.items) >= self.config.max_requests:
            self._flush(key)

    def _flush(self, key: _Headers) -> None:
        group = self._groups.pop(key, None)
        if group is None:
            return
        if group.timer is not None:
            group.timer.cancel()
        items = [i for i in group.items if not i.future.done()]  # cancelled while collecting
        if items:
            task = asyncio.get_running_loop().create_task(self._run(items, group.headers))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- one batch ---------------------------------------------------------------------

    async def _run(self, items: list[_Item], headers: Mapping[str, str]) -> None:
        batch_id: str | None = None
        try:
            requests = [{"custom_id": i.custom_id, "params": dict(i.body)} for i in items]
            created = await self._api.create(requests, headers)
            batch_id = str(created["id"])
            # Queue wait ends here; latency is measured from here to the results.
            submitted_at = self._clock.now()
            self._counts["batches_submitted"] += 1
            self._counts["submitted"] += len(items)
            batch = await self._wait_ended(created, items, headers)
            if batch is not None:
                body = await self._api.results(batch, headers)
                self._resolve(items, body, batch_id, submitted_at)
        except ClaudeflowError as error:
            _fail(items, error)
        except asyncio.CancelledError:
            if batch_id is not None:
                # Cancelled on the API too: an abandoned batch would still be billed as it runs.
                await self._cancel_quietly(batch_id, headers)
            _fail(items, FlowClosedError("cancelled: the Flow was closed with cancel=True"))
            raise
        finally:
            # Whatever is still unresolved here was not in the results file: never left hanging.
            _fail(
                items, BatchError("not in the results file", outcome="missing", batch_id=batch_id)
            )

    async def _wait_ended(
        self, batch: Mapping[str, Any], items: list[_Item], headers: Mapping[str, str]
    ) -> Mapping[str, Any] | None:
        """Poll until the batch has ended; ``None`` if every caller left (then cancel it)."""
        everyone_left = asyncio.Event()

        def on_done(_: object) -> None:
            if all(i.future.done() for i in items):
                everyone_left.set()

        for item in items:
            # A callback, not a poll: the last caller leaving wakes the loop below at once.
            item.future.add_done_callback(on_done)
        polls = 0
        while batch.get("processing_status") != "ended":
            # Sleep until the next poll, or stop at once when the last caller leaves.
            if await _first(self._clock.sleep(self.config.poll_delay(polls)), everyone_left):
                await self._cancel_quietly(str(batch["id"]), headers)
                return None
            polls += 1
            batch = await self._api.retrieve(str(batch["id"]), headers)
        return batch

    async def _cancel_quietly(self, batch_id: str, headers: Mapping[str, str]) -> None:
        # Best effort: the batch may have ended meanwhile, and nobody waits for its answer.
        with contextlib.suppress(ClaudeflowError):
            await self._api.cancel(batch_id, headers)
            log.info("batch %s cancelled: no caller is waiting for it", batch_id)

    def _resolve(self, items: list[_Item], body: bytes, batch_id: str, submitted_at: float) -> None:
        by_id = {i.custom_id: i for i in items}
        now = self._clock.now()
        for custom_id, result in parse_results(body):
            item = by_id.get(custom_id)
            kind = str(result.get("type"))
            self._counts[kind] += 1
            # Counted even so: the statistics describe the batch, not only the callers left.
            if item is None or item.future.done():
                continue
            if kind == "succeeded":
                item.future.set_result(self._succeeded(item, result, submitted_at, now))
            else:
                item.future.set_exception(error_of(result, batch_id))

    def _succeeded(
        self, item: _Item, result: Mapping[str, Any], submitted_at: float, now: float
    ) -> R:
        priced = price_result(result, self._prices, model=str(item.body["model"]))
        self._counts["input_tokens"] += priced.usage.total_input
        self._counts["output_tokens"] += priced.usage.output_tokens
        self._cost[0] += priced.cost_usd or 0.0
        self._cost[1] += priced.saved_usd
        return priced.result(
            self._make_result,
            priority=item.priority,
            queue_wait_s=submitted_at - item.queued_at,
            latency_s=now - submitted_at,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def aclose(self, *, cancel: bool = False) -> None:
        """Submit what is collecting and wait for every batch (or cancel them all)."""
        self._closing = True
        for key in list(self._groups):
            if cancel:
                group = self._groups.pop(key)
                if group.timer is not None:
                    group.timer.cancel()
                _fail(group.items, FlowClosedError("cancelled: the Flow was closed"))
            else:
                self._flush(key)
        tasks = list(self._tasks)
        if cancel:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stats(self) -> BatchStats:
        return snapshot(
            BatchStats,
            self._counts,
            collecting=sum(len(g.items) for g in self._groups.values()),
            batches_running=len(self._tasks),
            cost_usd=self._cost[0],
            saved_usd=self._cost[1],
        )


async def _first(sleep: Coroutine[Any, Any, None], event: asyncio.Event) -> bool:
    """Wait for ``sleep`` or ``event``; ``True`` if the event came first (or was set)."""
    # Already set: no tasks to make, and the sleep coroutine must be closed, not leaked.
    if event.is_set():
        sleep.close()
        return True
    sleeper = asyncio.ensure_future(sleep)
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Both cancelled, winner included: neither may outlive this call.
        sleeper.cancel()
        waiter.cancel()
    return event.is_set()


def _fail(items: list[_Item], error: BaseException) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(error)
