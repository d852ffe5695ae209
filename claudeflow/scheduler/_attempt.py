"""One HTTP attempt of a job and its meaning: an :class:`Answer` or a typed status error.

One path for plain and streamed attempts: the transport's one ``send`` returns a
response whose body is read whole (plain) or pumped as events (streamed). Nothing here
retries or waits; the runner decides what happens next.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from .._errors import APIConnectionError, APIStatusError, status_error
from .._message import Message
from .._types import Cost
from ..tokens import Usage
from ..transport import SseEvent, Transport
from ._stream import MessageAccumulator

__all__ = ["MESSAGES_PATH", "Answer", "Observe", "Pump", "consumed_by_failure", "exchange"]

MESSAGES_PATH = "/v1/messages"

# Sees each response's headers and status before its body is read.
Observe: TypeAlias = Callable[[Mapping[str, str], int], None]
# Reads a stream's events into the accumulator it returns.
Pump: TypeAlias = Callable[[AsyncIterator[SseEvent]], Awaitable[MessageAccumulator]]


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful response, parsed."""

    message: Message
    usage: Usage
    headers: Mapping[str, str]


async def exchange(
    transport: Transport,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: float | None,
    *,
    observe: Observe,
    pump: Pump | None = None,
) -> Answer | APIStatusError:
    """POST ``body`` to /v1/messages, streamed through ``pump`` if given; say what came back.

    Transport failures, and a stream's own failures, propagate as
    :class:`claudeflow.ClaudeflowError`.
    """
    stream = pump is not None
    response = await transport.send(
        "POST",
        MESSAGES_PATH,
        headers=headers,
        json={**body, "stream": True} if stream else body,
        timeout=timeout,
        stream=stream,
    )
    async with response:
        # Before the body: a stream's headers teach the limits minutes before its end.
        observe(response.headers, response.status)
        if response.status >= 300:
            return status_error(response.status, response.headers, await response.read())
        if pump is None:
            return parse_success(response.headers, await response.read())
        acc = await pump(response.events())
        return Answer(acc.final(), Usage.from_api(acc.usage), response.headers)


def parse_success(headers: Mapping[str, str], body: bytes) -> Answer | APIStatusError:
    """A 2xx Message body, parsed."""
    try:
        data = json.loads(body)
        usage = Usage.from_api(data["usage"])
    except (ValueError, KeyError, TypeError) as exc:
        # A 2xx we cannot read is a server fault, not a result: let retry policy see a 5xx.
        return APIStatusError(
            f"unreadable success response ({exc.__class__.__name__}: {exc})",
            status_code=502,
            headers=headers,
            request_id=headers.get("request-id"),
        )
    return Answer(Message(data), usage, headers)


def consumed_by_failure(error: BaseException, reserved: Cost) -> Cost:
    """What a failed attempt most likely cost on the server, to settle the permit with.

    A 429 or a 529 consumed nothing (the API rejects before counting; an overload is not
    a quota signal, so charging it would only slow the recovery). Another 4xx was refused
    after the request was counted but before tokens were. For a 5xx or a lost
    connection we cannot know, so keep the request and its input (the safe side) and
    return the output reservation, since no output reached us.
    """
    if isinstance(error, APIStatusError):
        if error.status_code in (429, 529):
            return Cost(0, 0, 0)
        if error.status_code < 500:
            return Cost(1, 0, 0)
        return Cost(1, reserved.input_tokens, 0)
    if isinstance(error, APIConnectionError):
        return Cost(1, reserved.input_tokens, 0)
    return Cost(0, 0, 0)
