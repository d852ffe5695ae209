"""MockTransport: the test seam for every layer above the transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

import claudeflow.transport as transport_pkg
from claudeflow import APIConnectionError, ConfigError
from claudeflow.transport import (
    ApiResponse,
    MockRequest,
    MockStream,
    MockTransport,
    SseEvent,
    Transport,
)

EVENTS = [SseEvent("message_start", '{"type":"message_start"}'), SseEvent("message_stop", "{}")]
SSE_BODY = (
    b'event: message_start\ndata: {"type":"message_start"}\n\nevent: message_stop\ndata: {}\n\n'
)


def ok(request: MockRequest) -> ApiResponse:
    return ApiResponse(200, {"Request-Id": "req_1"}, b'{"ok": true}')


async def ok_async(request: MockRequest) -> ApiResponse:
    return ok(request)


def test_it_satisfies_the_transport_protocol() -> None:
    assert isinstance(MockTransport(ok), Transport)


def test_a_non_callable_handler_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        MockTransport(42)  # type: ignore[arg-type]
    assert info.value.argument == "handler"


@pytest.mark.parametrize(
    "handler", [pytest.param(ok, id="sync"), pytest.param(ok_async, id="async")]
)
async def test_send_calls_the_handler_and_records_the_request(handler: object) -> None:
    t = MockTransport(handler)  # type: ignore[arg-type]
    response = await t.send(
        "POST", "/v1/messages", headers={"X-Api-Key": "k"}, json={"model": "m"}, timeout=3.0
    )
    assert response == ApiResponse(200, {"request-id": "req_1"}, b'{"ok": true}')
    assert t.requests == [
        MockRequest("POST", "/v1/messages", {"x-api-key": "k"}, {"model": "m"}, 3.0)
    ]


async def test_a_transport_error_from_the_handler_propagates() -> None:
    def fail(request: MockRequest) -> ApiResponse:
        raise APIConnectionError("reset by peer")

    t = MockTransport(fail)
    with pytest.raises(APIConnectionError, match="reset by peer"):
        await t.send("POST", "/v1/messages", headers={})
    assert len(t.requests) == 1


async def test_a_wrong_handler_result_is_a_type_error() -> None:
    t = MockTransport(lambda request: {"status": 200})  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="dict"):
        await t.send("GET", "/", headers={})


async def _async_events() -> AsyncIterator[SseEvent]:
    for event in EVENTS:
        yield event


@pytest.mark.parametrize(
    "make_stream",
    [
        pytest.param(
            lambda: MockStream(200, {"Content-Type": "text/event-stream"}, EVENTS), id="list"
        ),
        pytest.param(
            lambda: MockStream(200, {"Content-Type": "text/event-stream"}, _async_events()),
            id="async-iterator",
        ),
        pytest.param(
            lambda: ApiResponse(200, {"Content-Type": "text/event-stream"}, SSE_BODY),
            id="api-response-body",
        ),
    ],
)
async def test_a_stream_yields_the_events(make_stream: object) -> None:
    t = MockTransport(lambda request: make_stream())  # type: ignore[operator]
    async with await t.send(
        "POST", "/v1/messages", headers={}, json={"stream": True}, stream=True
    ) as r:
        assert r.status == 200
        assert r.headers == {"content-type": "text/event-stream"}
        assert [event async for event in r.events()] == EVENTS
    assert t.requests[0].stream is True
    assert t.requests[0].json == {"stream": True}


async def test_stream_read_returns_the_error_body() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error"}}'
    t = MockTransport(lambda request: MockStream(529, {"x-should-retry": "true"}, body=body))
    async with await t.send("POST", "/v1/messages", headers={}, stream=True) as r:
        assert (r.status, r.headers["x-should-retry"]) == (529, "true")
        assert await r.read() == body


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(MockStream(200, {}, EVENTS), id="list"),
        pytest.param(MockStream(200, {}, body=SSE_BODY), id="body"),
    ],
)
async def test_send_encodes_a_stream_answer_as_an_sse_body(stream: MockStream) -> None:
    response = await MockTransport(lambda request: stream).send("POST", "/", headers={})
    assert response.status == 200
    assert response.body == SSE_BODY


async def test_send_drains_an_async_iterator_stream() -> None:
    t = MockTransport(lambda request: MockStream(200, {}, _async_events()))
    assert (await t.send("POST", "/", headers={})).body == SSE_BODY


async def test_aclose_and_context_manager_mark_it_closed() -> None:
    async with MockTransport(ok) as t:
        open_inside = not t.closed
    assert open_inside
    assert t.closed
    assert repr(t) == "MockTransport(requests=0, closed=True)"


def test_package_exports() -> None:
    assert set(transport_pkg.__all__) >= {
        "AiohttpTransport",
        "ApiResponse",
        "MockRequest",
        "MockStream",
        "MockTransport",
        "Response",
        "SseEvent",
        "SseParser",
        "StreamResponse",
        "Transport",
    }
    assert transport_pkg.__all__ == sorted(transport_pkg.__all__)
    for name in transport_pkg.__all__:
        assert getattr(transport_pkg, name) is not None


async def test_a_whole_message_streams_as_the_api_would_send_it_tool_input_included() -> None:
    message = {
        "type": "message",
        "id": "msg_1",
        "model": "m",
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "tu_1", "name": "f", "input": {"x": 1}}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    answer = ApiResponse(200, {}, json.dumps(message).encode())
    t = MockTransport(lambda request: answer)
    response = await t.send("POST", "/v1/messages", headers={}, stream=True)
    events = [(e.event, e.json()) async for e in response.events()]
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[1][1]["content_block"]["input"] == {}
    assert json.loads(events[2][1]["delta"]["partial_json"]) == {"x": 1}
    assert events[4][1]["usage"] == {"input_tokens": 3, "output_tokens": 2}
