"""claudeflow itself as a benchmark client: ``Flow.create``, ``Flow.stream``, learned limits."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from ..scheduler import Flow, Result
from ._record import Delivery, Send
from ._target import Target
from ._workload import WorkItem

__all__ = ["FlowMode", "flow_client"]

FlowMode = Literal["create", "stream", "learned"]


@asynccontextmanager
async def flow_client(target: Target, mode: FlowMode = "create") -> AsyncIterator[Send]:
    """A :class:`Flow` configured with the scenario's limits (none in ``learned`` mode).

    The queue is unbounded (``max_queue=None``) because the driver submits whole
    backlogs at once, as a batch job would with ``wait_for_space``.
    """
    limits = None if mode == "learned" else target.limits.rate_limits()
    flow = Flow(
        api_key=target.api_key,
        base_url=target.base_url,
        limits=limits,
        concurrency=target.concurrency,
        max_queue=None,
        rng=random.Random(target.seed),
    )

    async def send(item: WorkItem) -> Delivery:
        params = item.params(target.model)
        try:
            if mode == "stream":
                async with flow.stream(priority=item.priority, **params) as stream:
                    result = await stream.result()
            else:
                result = await flow.create(priority=item.priority, **params)
        except Exception as exc:  # every API outcome is data here, not a crash
            return Delivery(ok=False, error=type(exc).__name__, queue_wait_s=None)
        return _delivery(result)

    async with flow:
        yield send


def _delivery(result: Result) -> Delivery:
    return Delivery(
        ok=True,
        queue_wait_s=result.queue_wait_s,
        attempts=result.attempts,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
