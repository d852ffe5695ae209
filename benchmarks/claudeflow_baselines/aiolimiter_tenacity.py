"""Baseline: aiolimiter + tenacity around the SDK, written from their documented usage.

One ``AsyncLimiter(limit, minute)`` per dimension (requests, input tokens estimated
with cl100k as tiktoken users do, ``max_tokens`` for output), acquired one after the
other inside a tenacity ``@retry`` with ``wait_random_exponential`` on 429/5xx and
connection errors; the SDK's own retries are off (``max_retries=0``) so tenacity is the
only retry loop. tenacity's time constants (``multiplier=1, max=60`` in its docs) are
multiplied by the scenario's time scale, as a user would tune them to a real minute.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anthropic
from aiolimiter import AsyncLimiter
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_random_exponential

from claudeflow._clock import LoopClock
from claudeflow.bench._record import Delivery, Send
from claudeflow.bench._target import Target
from claudeflow.bench._workload import WorkItem
from claudeflow.tokens import count_text

from ._delivery import delivery

__all__ = ["aiolimiter_client"]

_ATTEMPTS = 6  # the tenacity docs' stop_after_attempt(6) example


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    return isinstance(exc, anthropic.APIConnectionError)


@asynccontextmanager
async def aiolimiter_client(target: Target) -> AsyncIterator[Send]:
    clock = LoopClock()
    limits = target.limits
    period = limits.minute_seconds
    rpm = AsyncLimiter(limits.rpm, period) if limits.rpm else None
    itpm = AsyncLimiter(limits.input_tpm, period) if limits.input_tpm else None
    otpm = AsyncLimiter(limits.output_tpm, period) if limits.output_tpm else None
    client = anthropic.AsyncAnthropic(
        api_key=target.api_key, base_url=target.base_url, max_retries=0
    )
    semaphore = asyncio.Semaphore(target.concurrency)
    scale = target.time_scale

    @retry(
        retry=retry_if_exception(_retryable),
        wait=wait_random_exponential(multiplier=1 * scale, max=60 * scale),
        stop=stop_after_attempt(_ATTEMPTS),
        reraise=True,
    )
    async def call(item: WorkItem, state: dict[str, float]) -> anthropic.types.Message:
        if rpm is not None:
            await rpm.acquire()
        if itpm is not None:
            await itpm.acquire(count_text(item.prompt))
        if otpm is not None:
            await otpm.acquire(item.max_tokens)
        state.setdefault("first", clock.now())
        state["attempts"] = state.get("attempts", 0) + 1
        message: anthropic.types.Message = await client.messages.create(**item.params(target.model))
        return message

    async def send(item: WorkItem) -> Delivery:
        state: dict[str, float] = {}
        submitted = clock.now()
        result: anthropic.types.Message | anthropic.APIError
        try:
            async with semaphore:
                result = await call(item, state)
        except anthropic.APIError as exc:
            result = exc
        attempts = int(state.get("attempts", 0))
        return delivery(
            result, submitted=submitted, first_sent=state.get("first"), attempts=attempts
        )

    try:
        yield send
    finally:
        await client.close()
