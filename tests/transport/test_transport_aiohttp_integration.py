"""AiohttpTransport over real sockets against a small aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import socket
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from claudeflow import APIConnectionError, APITimeoutError, Timeouts
from claudeflow.transport import AiohttpTransport, SseEvent

pytestmark = pytest.mark.integration

KEY = "sk-ant-api03-SECRET-never-show-me"
RELEASE = web.AppKey("release", asyncio.Event)

# An SSE body cut into awkward pieces: inside "\r\n", inside a 4-byte UTF-8 character.
EVENT_TEXT = 'data: {"text":"h\u00e9llo \U0001f30d"}'
SSE = (
    f"event: message_start\r\ndata: {{}}\r\n\r\nevent: content_block_delta\r\n{EVENT_TEXT}\r\n\r\n"
)
SSE_BYTES = SSE.encode()
_SPLIT = [0, 19, 20, 33, SSE_BYTES.index("\U0001f30d".encode()) + 2, len(SSE_BYTES)]
SSE_CHUNKS = [SSE_BYTES[a:b] for a, b in itertools.pairwise(_SPLIT)]
SSE_EVENTS = [
    SseEvent("message_start", "{}"),
    SseEvent("content_block_delta", EVENT_TEXT.removeprefix("data: ")),
]


async def echo(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else None
    seen = {"json": body, "headers": {k.lower(): v for k, v in request.headers.items()}}
    return web.json_response(
        seen, headers={"Request-Id": "req_1", "Anthropic-RateLimit-Requests-Remaining": "7"}
    )


async def stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    for chunk in SSE_CHUNKS:
        await response.write(chunk)
    await response.write_eof()
    return response


async def overloaded(request: web.Request) -> web.Response:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return web.json_response(body, status=529, headers={"x-should-retry": "true"})


async def hang(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()
    return web.Response(text="late")


async def slow_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"event: ping\ndata: {}\n\n")
    await request.app[RELEASE].wait()
    return response


async def cut(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"event: ping\ndata: {}\n\nevent: message_st")
    assert request.transport is not None
    request.transport.abort()  # the server goes away mid-body
    return response


def make_app() -> web.Application:
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_route("*", "/v1/messages", echo)
    app.router.add_post("/stream", stream)
    app.router.add_post("/overloaded", overloaded)
    app.router.add_post("/hang", hang)
    app.router.add_post("/slow-stream", slow_stream)
    app.router.add_post("/cut", cut)
    return app


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = make_app()
    test_server = TestServer(app, host="127.0.0.1")
    async with test_server:
        yield test_server
        app[RELEASE].set()  # let hanging handlers finish so shutdown is quick


@pytest.fixture
async def transport(server: TestServer) -> AsyncIterator[AiohttpTransport]:
    base = str(server.make_url("/"))
    async with AiohttpTransport(base, default_headers={"x-api-key": KEY}) as t:
        yield t


async def test_send_round_trip(transport: AiohttpTransport) -> None:
    response = await transport.send(
        "POST", "/v1/messages", headers={"anthropic-version": "2023-06-01"}, json={"n": 1}
    )
    seen = response.json()
    assert response.status == 200
    assert response.headers["request-id"] == "req_1"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "7"
    assert seen["json"] == {"n": 1}
    assert seen["headers"]["x-api-key"] == KEY
    assert seen["headers"]["anthropic-version"] == "2023-06-01"


async def test_stream_survives_awkward_chunk_boundaries(transport: AiohttpTransport) -> None:
    async with await transport.send("POST", "/stream", headers={}, stream=True) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [event async for event in response.events()]
    assert events == SSE_EVENTS
    assert events[1].json() == {"text": "h\u00e9llo \U0001f30d"}


async def test_stream_error_status_is_read_as_a_body(transport: AiohttpTransport) -> None:
    async with await transport.send("POST", "/overloaded", headers={}, stream=True) as response:
        assert (response.status, response.headers["x-should-retry"]) == (529, "true")
        body = json.loads(await response.read())
    assert body["error"]["type"] == "overloaded_error"


async def test_a_request_timeout_is_api_timeout_error(transport: AiohttpTransport) -> None:
    with pytest.raises(APITimeoutError) as info:
        await transport.send("POST", "/hang", headers={}, timeout=0.05)
    assert KEY not in str(info.value)


async def test_a_timeout_mid_stream_is_api_timeout_error(transport: AiohttpTransport) -> None:
    events: list[SseEvent] = []
    with pytest.raises(APITimeoutError):
        async with await transport.send(
            "POST", "/slow-stream", headers={}, timeout=0.1, stream=True
        ) as r:
            async for event in r.events():
                events.append(event)  # noqa: PERF401 (must survive the raise)
    assert events == [SseEvent("ping", "{}")]


async def test_a_server_that_vanishes_mid_body_is_a_connection_error(
    transport: AiohttpTransport,
) -> None:
    events: list[SseEvent] = []
    with pytest.raises(APIConnectionError) as info:
        async with await transport.send("POST", "/cut", headers={}, stream=True) as response:
            async for event in response.events():
                events.append(event)  # noqa: PERF401 (must survive the raise)
    assert type(info.value) is APIConnectionError
    assert events == [SseEvent("ping", "{}")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_a_connection_error_without_the_key() -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    async with AiohttpTransport(base, default_headers={"x-api-key": KEY}) as t:
        with pytest.raises(APIConnectionError) as info:
            await t.send("POST", "/v1/messages", headers={"authorization": f"Bearer {KEY}"})
    assert type(info.value) is APIConnectionError
    assert "ClientConnectorError" in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


async def _one_slot_transport(server: TestServer) -> AiohttpTransport:
    # One pooled connection: a connection that is not released blocks the next request.
    return AiohttpTransport(str(server.make_url("/")), max_connections=1)


async def test_a_cancelled_stream_releases_its_connection(server: TestServer) -> None:
    async with await _one_slot_transport(server) as t:
        first_event = asyncio.Event()

        async def consume() -> None:
            async with await t.send("POST", "/slow-stream", headers={}, stream=True) as response:
                async for _ in response.events():
                    first_event.set()

        task = asyncio.create_task(consume())
        await first_event.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        response = await asyncio.wait_for(t.send("GET", "/v1/messages", headers={}), 5)
    assert response.status == 200


async def test_leaving_a_stream_early_releases_its_connection(server: TestServer) -> None:
    async with await _one_slot_transport(server) as t:
        async with await t.send("POST", "/slow-stream", headers={}, stream=True) as response:
            first = await anext(aiter(response.events()))
        response2 = await asyncio.wait_for(t.send("GET", "/v1/messages", headers={}), 5)
    assert first == SseEvent("ping", "{}")
    assert response2.status == 200


async def test_a_fully_read_stream_returns_its_connection_to_the_pool(server: TestServer) -> None:
    async with await _one_slot_transport(server) as t:
        for _ in range(3):
            async with await t.send("POST", "/stream", headers={}, stream=True) as response:
                assert [event async for event in response.events()] == SSE_EVENTS


async def test_concurrent_first_use_and_reuse_after_aclose(server: TestServer) -> None:
    t = AiohttpTransport(str(server.make_url("/")))
    responses = await asyncio.gather(*(t.send("GET", "v1/messages", headers={}) for _ in range(5)))
    assert [r.status for r in responses] == [200] * 5
    await t.aclose()
    assert (await t.send("GET", "/v1/messages", headers={})).status == 200
    await t.aclose()


@contextmanager
def threaded_server() -> Iterator[int]:
    """A server in its own thread and loop, so it outlives each ``asyncio.run`` below."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app())

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port: int = runner.addresses[0][1]
        return port

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _run_twice_without_aclose(port: int) -> list[int]:
    transport = AiohttpTransport(f"http://127.0.0.1:{port}")  # no loop exists yet

    async def call() -> int:
        return (await transport.send("GET", "/v1/messages", headers={})).status

    # Each run leaves a keep-alive connection in the pool and never calls aclose().
    return [asyncio.run(call()), asyncio.run(call())]


def test_asyncio_run_twice_opens_a_fresh_session_and_leaks_no_socket() -> None:
    with threaded_server() as port, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _run_twice_without_aclose(port) == [200, 200]
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_timeouts_are_validated_by_their_own_class() -> None:
    with pytest.raises(ValueError, match="connect"):
        AiohttpTransport("http://127.0.0.1:1", timeouts=Timeouts(connect=0))
