"""claudeflow itself as a benchmark client: ``Flow.create``, ``Flow.stream``, learned limits,
and one summed bucket over several model classes (what users configure today)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Literal

from ..limiter import Backend
from ..limiter._classes import model_class
from ..retry import RetryPolicy
from ..routing import LimitsSpec
from ..scheduler import Flow, QueuePolicy, Result, TokenCounting
from ..tokens import OutputReservation
from ._record import Delivery, Send
from ._target import Target
from ._workload import WorkItem

__all__ = ["SUMMED_POOL", "FlowMode", "flow_client", "flow_limits", "scaled_retry"]

FlowMode = Literal["create", "stream", "learned", "summed"]
SUMMED_POOL = "summed"  # the one pool every model is mapped to in "summed" mode


@asynccontextmanager
async def flow_client(
    target: Target, mode: FlowMode = "create", *, backend: Backend | None = None
) -> AsyncIterator[Send]:
    """A :class:`Flow` configured with the scenario's limits (none in ``learned`` mode).

    The queue is unbounded (``QueuePolicy(max_size=None)``) because the driver submits whole
    backlogs at once, as a batch job would with ``wait_for_space``. ``backend`` (e.g. a
    ``RedisBackend`` shared with other processes) holds the pools' buckets.
    """
    limits, pools = flow_limits(target, mode)
    flow = Flow(
        api_key=target.api_key,
        base_url=target.base_url,
        limits=limits,
        pools=pools,
        backend=backend,
        concurrency=target.concurrency,
        queue=QueuePolicy(max_size=None),
        retry=scaled_retry(target.time_scale),
        tokens=_tokens(target),
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


def scaled_retry(time_scale: float) -> RetryPolicy:
    """The default back-off, on the scenario's time scale.

    A user tunes back-off to a real minute; the scenarios compress the minute, so the
    delays shrink with it (the baselines scale tenacity's back-off the same way).
    """
    default = RetryPolicy()
    return replace(
        default,
        base_delay=default.base_delay * time_scale,
        max_delay=default.max_delay * time_scale,
        probe_delay=default.probe_delay * time_scale,
        max_probe_delay=default.max_probe_delay * time_scale,
    )


def _tokens(target: Target) -> TokenCounting:
    """Output charged as generated where the server counts it so (the 2026 rule)."""
    if target.otpm_mode == "actual":
        return TokenCounting(output_reservation=OutputReservation(mode="as_generated"))
    return TokenCounting()


def flow_limits(target: Target, mode: FlowMode) -> tuple[LimitsSpec, dict[str, str] | None]:
    """The Flow's ``limits`` and ``pools`` for ``mode``.

    With several model classes the server keeps ``target.limits`` per class: ``create``
    names each class's limits (one pool each); ``summed`` maps every model to one pool
    holding the sum, as a user who knows only "the account's limits" would.
    """
    if mode == "learned":
        return None, None
    limits = target.limits.rate_limits()
    if not target.models:
        return limits, None
    if mode == "summed":
        classes = len({model_class(m) for m in target.models})
        summed = target.limits.times(classes).rate_limits()
        return summed, dict.fromkeys(target.models, SUMMED_POOL)
    return dict.fromkeys(target.models, limits), None


def _delivery(result: Result) -> Delivery:
    return Delivery(
        ok=True,
        queue_wait_s=result.queue_wait_s,
        attempts=result.attempts,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
