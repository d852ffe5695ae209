"""One HTTP attempt of a job: send it, read the answer, turn failures into typed errors.

Kept apart from the Flow so the Flow reads as scheduling only. Nothing here retries or
waits; the Flow decides what happens next.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import APIConnectionError, APIStatusError, status_error
from .._message import Message
from .._types import Cost
from ..tokens import Usage
from ..transport import ApiResponse, Transport

__all__ = ["Answer", "consumed_by_failure", "send_message"]

MESSAGES_PATH = "/v1/messages"


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful response, parsed."""

    message: Message
    usage: Usage
    headers: Mapping[str, str]


async def send_message(
    transport: Transport,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    timeout: float | None,
) -> tuple[ApiResponse, Answer | APIStatusError]:
    """POST ``body`` to /v1/messages; return the raw response and its parsed meaning.

    Transport failures propagate as :class:`claudeflow.TransportError`.
    """
    response = await transport.send(
        "POST", MESSAGES_PATH, headers=headers, json=body, timeout=timeout
    )
    if response.status >= 300:
        return response, status_error(response.status, response.headers, response.body)
    return response, parse_success(response)


def parse_success(response: ApiResponse) -> Answer | APIStatusError:
    try:
        data = json.loads(response.body)
        usage = Usage.from_api(data["usage"])
    except (ValueError, KeyError, TypeError) as exc:
        # A 2xx we cannot read is a server fault, not a result: let retry policy see a 5xx.
        return APIStatusError(
            f"unreadable success response ({exc.__class__.__name__}: {exc})",
            status_code=502,
            headers=response.headers,
            request_id=response.headers.get("request-id"),
        )
    return Answer(Message(data), usage, response.headers)


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
