"""Baseline: the official SDK, ``asyncio.gather`` under a semaphore, as most users write it.

No client-side rate limiting at all: the SDK's own retry loop (default 2 retries, or
``max_retries=10``) is all that stands between the workload and the server's 429s.
An httpx request hook records when each request's first attempt leaves and how many
attempts it took (keyed by an ``x-bench-id`` header); it does not change behaviour.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anthropic

from claudeflow._clock import LoopClock
from claudeflow.bench._record import Delivery, Send
from claudeflow.bench._target import Target
from claudeflow.bench._workload import WorkItem

from ._delivery import delivery

__all__ = ["sdk_client"]

_ID_HEADER = "x-bench-id"


@asynccontextmanager
async def sdk_client(target: Target, max_retries: int | None = None) -> AsyncIterator[Send]:
    """``AsyncAnthropic`` with default retries (``None``) or ``max_retries``."""
    clock = LoopClock()
    first_sent: dict[str, float] = {}
    sends: Counter[str] = Counter()

    async def on_request(request: Any) -> None:  # an httpx request (httpx2 in SDK 2.x)
        key = request.headers.get(_ID_HEADER)
        if key is not None:
            first_sent.setdefault(key, clock.now())
            sends[key] += 1

    http = anthropic.DefaultAsyncHttpxClient(event_hooks={"request": [on_request]})
    options: dict[str, Any] = {} if max_retries is None else {"max_retries": max_retries}
    client = anthropic.AsyncAnthropic(
        api_key=target.api_key, base_url=target.base_url, http_client=http, **options
    )
    semaphore = asyncio.Semaphore(target.concurrency)

    async def send(item: WorkItem) -> Delivery:
        key = str(item.index)
        submitted = clock.now()
        result: anthropic.types.Message | anthropic.APIError
        try:
            async with semaphore:
                result = await client.messages.create(
                    **item.params(target.model), extra_headers={_ID_HEADER: key}
                )
        except anthropic.APIError as exc:
            result = exc
        return delivery(
            result, submitted=submitted, first_sent=first_sent.get(key), attempts=sends[key]
        )

    try:
        yield send
    finally:
        await client.close()
