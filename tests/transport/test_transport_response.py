"""One send, one Response: read whole or as events, closed by aclose() or ``async with``."""

from __future__ import annotations

import json

from claudeflow.transport import ApiResponse, MockRequest, MockStream, MockTransport, SseEvent

SSE_BODY = b'event: message_start\ndata: {"a": 1}\n\n: comment\n\nevent: message_stop\ndata: {}\n\n'
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 2},
}


async def test_an_api_response_is_a_response_read_whole_or_as_events() -> None:
    response = ApiResponse(200, {"content-type": "text/event-stream"}, SSE_BODY)
    async with response as same:
        assert same is response
        assert await response.read() == SSE_BODY
        assert [e async for e in response.events()] == [
            SseEvent("message_start", '{"a": 1}'),
            SseEvent("message_stop", "{}"),
        ]
    await response.aclose()  # nothing is open: closing again is harmless
    assert await response.read() == SSE_BODY


async def test_one_handler_answer_is_served_plain_or_streamed() -> None:
    message = ApiResponse(200, {}, json.dumps(MESSAGE).encode())
    transport = MockTransport(lambda request: message)
    plain = await transport.send("POST", "/v1/messages", headers={})
    streamed = await transport.send("POST", "/v1/messages", headers={}, stream=True)
    assert json.loads(await plain.read()) == MESSAGE
    async with streamed:
        kinds = [event.event async for event in streamed.events()]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in kinds
    assert [r.stream for r in transport.requests] == [False, True]


async def test_a_streamed_error_answer_is_read_as_its_body() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}'

    def handler(request: MockRequest) -> MockStream:
        return MockStream(529, {"X-Should-Retry": "true"}, body=body)

    response = await MockTransport(handler).send("POST", "/", headers={}, stream=True)
    async with response:
        assert (response.status, response.headers) == (529, {"x-should-retry": "true"})
        assert await response.read() == body
