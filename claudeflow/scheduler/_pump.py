"""Pumping one streamed attempt: events into a Message, to the caller, into the permit.

The permit is squared while the stream runs, not only at its end: input at
``message_start`` and output at the final ``message_delta``, so capacity a long
generation does not use goes back to the line minutes before the stream closes. When
output is charged as generated (``ahead``), the permit also grows with the deltas, a
step ahead of them, as the server's own count does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .._errors import APIConnectionError
from .._types import Cost
from ..limiter import Permit
from ..tokens import Usage
from ..transport import SseEvent
from ._stream import FlowStream, MessageAccumulator, stream_error

__all__ = ["pump", "used_so_far"]


async def pump(
    events: AsyncIterator[SseEvent],
    acc: MessageAccumulator,
    permit: Permit,
    channel: FlowStream | None,
    *,
    count_cache_reads: bool,
    ahead: int | None = None,
    max_tokens: int = 0,
    chars_per_token: float = 1.0,
) -> None:
    """Read ``events`` into ``acc``, forward them once content has begun, settle early.

    :raises StreamError: for an ``error`` event
    :param ahead: charge output as generated, this many tokens ahead (``None``: do not)
    :param max_tokens: the most the request can generate (caps those charges)
    :param chars_per_token: how the deltas' characters convert to tokens
    :raises APIConnectionError: if the stream ends before ``message_stop``
    """
    # Held until the first content event: an attempt that fails before it can be
    # retried without the caller ever seeing the failed attempt's message_start.
    held: list[dict[str, Any]] = []
    async for event in events:
        if event.event == "ping":
            continue
        data = event.json()
        if event.event == "error" or data.get("type") == "error":
            raise stream_error(data)
        acc.apply(data)
        _settle_progress(permit, acc, data, count_cache_reads)
        if ahead is not None and data.get("type") == "content_block_delta":
            _charge_generated(permit, acc.generated_tokens(chars_per_token), ahead, max_tokens)
        if channel is None:
            continue  # a plain request streamed as a probe: only the result matters
        if not acc.content_started:
            held.append(data)
            continue
        for early in held:
            channel.put(early)
        held.clear()
        channel.put(data)
    if not acc.finished:
        raise APIConnectionError("the stream ended before message_stop")


def used_so_far(acc: MessageAccumulator, count_cache_reads: bool) -> Cost:
    """What the stream has cost by now: the request, and the usage reported so far."""
    if not acc.message:
        return Cost(1, 0, 0)
    usage = Usage.from_api(acc.usage)
    return Cost(1, usage.itpm_tokens(count_cache_reads), usage.output_tokens)


def _charge_generated(permit: Permit, generated: int, ahead: int, max_tokens: int) -> None:
    """Keep the permit ``ahead`` tokens beyond what the stream has generated (once it
    has caught up with what the permit holds: one adjustment per ``ahead`` tokens)."""
    if generated >= permit.reserved.output_tokens:
        permit.adjust(output_tokens=min(max_tokens, generated + ahead))


def _settle_progress(
    permit: Permit, acc: MessageAccumulator, data: Any, count_cache_reads: bool
) -> None:
    kind = data.get("type")
    if kind == "message_start":
        permit.adjust(input_tokens=used_so_far(acc, count_cache_reads).input_tokens)
    elif kind == "message_delta" and (data.get("delta") or {}).get("stop_reason"):
        permit.adjust(output_tokens=used_so_far(acc, count_cache_reads).output_tokens)
