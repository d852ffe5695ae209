"""A transport that calls a function instead of the network: the seam for unit tests.

The handler sees a :class:`MockRequest` and returns an :class:`ApiResponse` (a complete
response) or a :class:`MockStream` (a streaming one), directly or as an awaitable; it may
also raise a :class:`claudeflow.TransportError` to simulate a network failure.
Either kind of answer is served either way: a stream asked for with ``stream=False``
is encoded as an SSE body, and a complete response asked for with ``stream=True``
becomes the events of its Message (or is parsed as SSE), so one handler serves plain
and streaming callers alike.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from .._errors import ConfigError
from .._replay import replay_events
from ._base import (
    ApiResponse,
    AsyncClosing,
    BaseTransport,
    Request,
    Response,
    SseEvent,
    lower_names,
)
from ._sse import SseParser, encode_event

__all__ = ["MockHandler", "MockRequest", "MockStream", "MockTransport"]


# What the code under test sent: the request every transport receives.
MockRequest = Request


@dataclass(frozen=True, slots=True)
class MockStream:
    """A streaming answer: ``events`` (a list, or an async iterator read once) or ``body``."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    events: Sequence[SseEvent] | AsyncIterator[SseEvent] = ()
    body: bytes = b""


MockResult: TypeAlias = ApiResponse | MockStream
MockHandler: TypeAlias = Callable[[MockRequest], MockResult | Awaitable[MockResult]]


class _Stream(AsyncClosing):
    """The open :class:`Response` of ``send(..., stream=True)``; it holds nothing open."""

    __slots__ = ("_body", "_events", "headers", "status")

    def __init__(self, result: MockResult) -> None:
        self.status = result.status
        self.headers: Mapping[str, str] = lower_names(result.headers)
        if isinstance(result, MockStream):
            self._events = result.events
            self._body = result.body
        else:
            # A whole Message becomes the events the API would have streamed; any other
            # body is taken to be SSE text already.
            self._events = _message_events(result) or _parse_body(result.body)
            self._body = result.body

    async def events(self) -> AsyncIterator[SseEvent]:
        if isinstance(self._events, Sequence):
            for event in self._events:
                yield event
        else:
            async for event in self._events:
                yield event

    async def read(self) -> bytes:
        return self._body


class MockTransport(BaseTransport):
    """A :class:`Transport` whose answers come from ``handler``; records every request.

    >>> transport = MockTransport(lambda request: ApiResponse(200, {}, b"{}"))
    >>> transport.requests
    []
    """

    __slots__ = ("_handler", "closed", "requests")

    def __init__(self, handler: MockHandler) -> None:
        if not callable(handler):
            raise ConfigError("handler", "must be callable")
        self._handler = handler
        self.requests: list[MockRequest] = []
        self.closed = False

    async def handle(self, request: Request) -> Response:
        result = await self._call(request)
        if request.stream:
            return _Stream(result)
        if isinstance(result, ApiResponse):
            return ApiResponse(result.status, lower_names(result.headers), result.body)
        return ApiResponse(result.status, lower_names(result.headers), await _stream_body(result))

    async def aclose(self) -> None:
        self.closed = True

    async def _call(self, request: MockRequest) -> MockResult:
        self.requests.append(request)
        # Sync or async handlers alike, as httpx's MockTransport allows.
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        # A clear TypeError now beats an AttributeError deep inside the code under test.
        if not isinstance(result, ApiResponse | MockStream):
            raise TypeError(
                f"MockTransport handler must return ApiResponse or MockStream, "
                f"got {type(result).__name__}"
            )
        return result

    def __repr__(self) -> str:
        return f"MockTransport(requests={len(self.requests)}, closed={self.closed})"


def _message_events(result: ApiResponse) -> list[SseEvent]:
    """A complete 2xx Message opened as a stream: the events the API would have sent."""
    if result.status >= 300:
        return []
    try:
        message = json.loads(result.body)
    except ValueError:
        return []
    if not isinstance(message, dict) or message.get("type") != "message":
        return []
    return [SseEvent(event=d["type"], data=json.dumps(d)) for d in replay_events(message)]


def _parse_body(body: bytes) -> list[SseEvent]:
    parser = SseParser()
    return parser.feed(body) + parser.close()


async def _stream_body(stream: MockStream) -> bytes:
    # An explicit body wins: tests use it for malformed streams that events cannot express.
    if stream.body:
        return stream.body
    if isinstance(stream.events, Sequence):
        return b"".join(encode_event(event) for event in stream.events)
    return b"".join([encode_event(event) async for event in stream.events])
