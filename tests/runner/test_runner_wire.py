"""WireTracker: one send, tracked until its answer is back (a stream: until it is closed)."""

from __future__ import annotations

import pytest

from claudeflow import APIConnectionError
from claudeflow.runner._wire import TICKET_HEADER, WireTracker
from claudeflow.transport import ApiResponse, MockRequest, MockStream, MockTransport, SseEvent

ERROR = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}'


async def test_a_tagged_request_is_on_the_wire_until_it_lands() -> None:
    seen: list[tuple[str, bool]] = []
    tracker: WireTracker

    def handler(request: MockRequest) -> ApiResponse:
        assert tracker.on_wire == {"t1"}  # noted before the request goes out
        assert TICKET_HEADER not in request.headers  # the ticket never leaves
        return ApiResponse(429, {}, ERROR)

    tracker = WireTracker(MockTransport(handler))
    tracker.landed = lambda ticket, ok: seen.append((ticket, ok))
    response = await tracker.send("POST", "/v1/messages", headers={TICKET_HEADER: "t1"})
    assert await response.read() == ERROR  # the body is still there for the Flow
    assert tracker.on_wire == set() and seen == [("t1", False)]
    assert tracker.failed_attempts == 1
    assert tracker.last_error is not None and tracker.last_error.status_code == 429  # type: ignore[attr-defined]


async def test_a_transport_failure_lands_the_ticket_and_is_kept() -> None:
    def handler(request: MockRequest) -> ApiResponse:
        raise APIConnectionError("reset")

    tracker = WireTracker(MockTransport(handler))
    seen: list[tuple[str, bool]] = []
    tracker.landed = lambda ticket, ok: seen.append((ticket, ok))
    with pytest.raises(APIConnectionError):
        await tracker.send("POST", "/v1/messages", headers={TICKET_HEADER: "t2"})
    assert seen == [("t2", False)] and tracker.on_wire == set()
    assert isinstance(tracker.last_error, APIConnectionError)


async def test_a_stream_is_on_the_wire_until_it_is_closed() -> None:
    events = [SseEvent("message_stop", "{}")]
    inner = MockTransport(lambda request: MockStream(200, {}, events))
    tracker = WireTracker(inner)
    seen: list[tuple[str, bool]] = []
    tracker.landed = lambda ticket, ok: seen.append((ticket, ok))
    response = await tracker.send("POST", "/", headers={TICKET_HEADER: "t3"}, stream=True)
    async with response:
        assert [e async for e in response.events()] == events
        assert tracker.on_wire == {"t3"} and seen == []  # read, not yet closed
    assert inner.requests[0].stream is True
    assert TICKET_HEADER not in inner.requests[0].headers
    assert tracker.on_wire == set() and seen == [("t3", True)]
    await response.aclose()  # closed twice: it landed once
    assert seen == [("t3", True)] and tracker.failed_attempts == 0


async def test_a_stream_left_on_an_error_lands_failed_and_is_kept() -> None:
    events = [SseEvent("message_stop", "{}")]
    tracker = WireTracker(MockTransport(lambda request: MockStream(200, {}, events)))
    seen: list[tuple[str, bool]] = []
    tracker.landed = lambda ticket, ok: seen.append((ticket, ok))
    response = await tracker.send("POST", "/", headers={TICKET_HEADER: "t4"}, stream=True)
    with pytest.raises(APIConnectionError):
        async with response:
            raise APIConnectionError("cut mid-stream")
    assert seen == [("t4", False)] and tracker.on_wire == set()
    assert tracker.failed_attempts == 1 and isinstance(tracker.last_error, APIConnectionError)
