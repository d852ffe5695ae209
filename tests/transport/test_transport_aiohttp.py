"""AiohttpTransport unit tests (aioresponses) and the error mapping at the boundary."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from claudeflow import (
    APIConnectionError,
    APITimeoutError,
    ConfigError,
    TransportError,
)
from claudeflow.transport import AiohttpTransport, SseEvent, Transport, map_aiohttp_errors

KEY = "sk-ant-api03-SECRET-never-show-me"
BASE = "http://api.test"
MESSAGES = f"{BASE}/v1/messages"


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 predates aiohttp 3.14's required ``stream_writer`` argument."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class _Mocked(aioresponses):
    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:  # type: ignore[override]
        kwargs.setdefault("response_class", _CompatResponse)
        super().add(url, method, **kwargs)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with _Mocked() as m:
        yield m


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    async with AiohttpTransport(BASE, default_headers={"x-api-key": KEY}) as t:
        yield t


def sent(m: aioresponses, method: str, url: str) -> list[Any]:
    calls: list[Any] = m.requests[(method, URL(url))]
    return calls


# --- construction -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"base_url": "api.anthropic.com"}, "base_url", id="no-scheme"),
        pytest.param({"base_url": "ftp://host"}, "base_url", id="bad-scheme"),
        pytest.param({"base_url": "http://"}, "base_url", id="no-host"),
        pytest.param({"base_url": "http://[::1"}, "base_url", id="unparsable"),
        pytest.param({"base_url": 42}, "base_url", id="not-a-str"),
        pytest.param({"max_connections": 0}, "max_connections", id="zero-connections"),
        pytest.param({"max_connections": True}, "max_connections", id="bool-connections"),
        pytest.param({"max_connections": 2.5}, "max_connections", id="float-connections"),
        pytest.param({"timeouts": 30}, "timeouts", id="timeouts-not-a-Timeouts"),
    ],
)
def test_bad_configuration_names_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    kwargs = {"base_url": BASE, **kwargs}
    with pytest.raises(ConfigError) as info:
        AiohttpTransport(**kwargs)
    assert info.value.argument == argument


def test_it_satisfies_the_transport_protocol() -> None:
    assert isinstance(AiohttpTransport(BASE), Transport)


def test_repr_shows_base_url_only_and_never_the_key() -> None:
    t = AiohttpTransport(
        BASE + "/", default_headers={"x-api-key": KEY, "authorization": f"Bearer {KEY}"}
    )
    assert repr(t) == "AiohttpTransport(base_url='http://api.test')"
    assert KEY not in repr(t) and KEY not in str(t)


def test_construction_outside_a_loop_binds_to_no_loop(mocked: aioresponses) -> None:
    # Built with no running loop; then used from two separate loops in turn.
    t = AiohttpTransport(BASE)
    mocked.get(f"{BASE}/ping", body=b"pong", repeat=True)

    async def ping() -> bytes:
        return (await t.send("GET", "/ping", headers={})).body

    assert asyncio.run(ping()) == b"pong"
    assert asyncio.run(ping()) == b"pong"
    asyncio.run(t.aclose())


# --- send ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "path", "url"),
    [
        pytest.param("http://api.test", "/v1/messages", MESSAGES, id="no-slash+slash"),
        pytest.param("http://api.test/", "/v1/messages", MESSAGES, id="slash+slash"),
        pytest.param("http://api.test/", "v1/messages", MESSAGES, id="slash+none"),
        pytest.param("http://api.test", "v1/messages", MESSAGES, id="none+none"),
        pytest.param(
            "http://api.test/proxy", "/v1/messages", f"{BASE}/proxy/v1/messages", id="prefix"
        ),
        pytest.param(
            "http://api.test", "http://files.test/results", "http://files.test/results", id="abs"
        ),
    ],
)
async def test_paths_are_joined_to_the_base_url(
    mocked: aioresponses, base_url: str, path: str, url: str
) -> None:
    mocked.post(url, status=200, body=b"{}")
    async with AiohttpTransport(base_url) as t:
        response = await t.send("POST", path, headers={})
    assert response.status == 200
    assert len(sent(mocked, "POST", url)) == 1


async def test_send_returns_status_lower_cased_headers_and_body(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    mocked.post(
        MESSAGES,
        status=200,
        body=b'{"id": "msg_1"}',
        headers={"Request-Id": "req_1", "Anthropic-RateLimit-Requests-Remaining": "49"},
    )
    response = await transport.send("POST", "/v1/messages", headers={}, json={"a": 1})
    assert response.status == 200
    assert response.json() == {"id": "msg_1"}
    assert response.headers["request-id"] == "req_1"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "49"
    assert all(key == key.lower() for key in response.headers)


@pytest.mark.parametrize("status", [400, 401, 404, 413, 429, 500, 503, 529])
async def test_error_statuses_are_returned_not_raised(
    mocked: aioresponses, transport: AiohttpTransport, status: int
) -> None:
    mocked.post(MESSAGES, status=status, body=b'{"type": "error"}', headers={"retry-after": "3"})
    response = await transport.send("POST", "/v1/messages", headers={})
    assert (response.status, response.headers["retry-after"]) == (status, "3")
    assert response.body == b'{"type": "error"}'


async def test_headers_and_json_are_sent_and_call_headers_win(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    mocked.post(MESSAGES, status=200, body=b"{}")
    await transport.send(
        "POST",
        "/v1/messages",
        headers={"anthropic-version": "2023-06-01", "x-api-key": "per-call"},
        json={"model": "m"},
    )
    (call,) = sent(mocked, "POST", MESSAGES)
    assert call.kwargs["headers"] == {"x-api-key": "per-call", "anthropic-version": "2023-06-01"}
    assert call.kwargs["json"] == {"model": "m"}


async def test_a_per_call_timeout_overrides_the_total(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    mocked.post(MESSAGES, status=200, body=b"{}")
    await transport.send("POST", "/v1/messages", headers={}, timeout=7.5)
    (call,) = sent(mocked, "POST", MESSAGES)
    assert call.kwargs["timeout"].total == 7.5


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
async def test_a_bad_per_call_timeout_is_a_config_error(
    transport: AiohttpTransport, timeout: float
) -> None:
    with pytest.raises(ConfigError) as info:
        await transport.send("POST", "/v1/messages", headers={}, timeout=timeout)
    assert info.value.argument == "timeout"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(aiohttp.ServerDisconnectedError(), APIConnectionError, id="disconnected"),
        pytest.param(aiohttp.ClientOSError(104, "reset"), APIConnectionError, id="os"),
        pytest.param(ConnectionRefusedError(111, "refused"), APIConnectionError, id="refused"),
        pytest.param(aiohttp.ClientPayloadError("cut"), APIConnectionError, id="payload"),
        pytest.param(TimeoutError(), APITimeoutError, id="total-timeout"),
        pytest.param(aiohttp.ConnectionTimeoutError(), APITimeoutError, id="connect-timeout"),
        pytest.param(aiohttp.SocketTimeoutError(), APITimeoutError, id="read-timeout"),
    ],
)
async def test_send_failures_become_transport_errors(
    mocked: aioresponses,
    transport: AiohttpTransport,
    exc: Exception,
    expected: type[TransportError],
) -> None:
    mocked.post(MESSAGES, exception=exc)
    with pytest.raises(expected) as info:
        await transport.send("POST", "/v1/messages", headers={"x-api-key": KEY})
    assert type(info.value) is expected
    assert info.value.__cause__ is exc
    assert KEY not in str(info.value) and KEY not in repr(info.value)


# --- send(stream=True) ----------------------------------------------------------------

SSE_BODY = (
    b'event: message_start\r\ndata: {"type":"message_start"}\r\n\r\n'
    b": comment\r\n"
    b'event: message_stop\r\ndata: {"type":"message_stop"}\r\n\r\n'
)


async def test_stream_events_are_parsed(mocked: aioresponses, transport: AiohttpTransport) -> None:
    mocked.post(MESSAGES, status=200, body=SSE_BODY, headers={"Content-Type": "text/event-stream"})
    async with await transport.send("POST", "/v1/messages", headers={}, stream=True) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream"
        events = [event async for event in stream.events()]
    assert events == [
        SseEvent("message_start", '{"type":"message_start"}'),
        SseEvent("message_stop", '{"type":"message_stop"}'),
    ]


async def test_stream_read_returns_an_error_body(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    body = json.dumps({"type": "error", "error": {"type": "rate_limit_error"}}).encode()
    mocked.post(MESSAGES, status=429, body=body, headers={"retry-after": "9"})
    async with await transport.send("POST", "/v1/messages", headers={}, stream=True) as stream:
        assert (stream.status, stream.headers["retry-after"]) == (429, "9")
        assert await stream.read() == body


async def test_stream_open_failures_become_transport_errors(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    conn_key = SimpleNamespace(host="api.test", port=80, ssl=False, is_ssl=False)
    cause = aiohttp.ClientConnectorError(conn_key, OSError(111, "refused"))  # type: ignore[arg-type]
    mocked.post(MESSAGES, exception=cause)
    with pytest.raises(APIConnectionError) as info:
        async with await transport.send("POST", "/v1/messages", headers={}, stream=True):
            pytest.fail("the context must not be entered")
    assert info.value.__cause__ is cause


async def test_caller_errors_inside_the_stream_context_are_not_mapped(
    mocked: aioresponses, transport: AiohttpTransport
) -> None:
    mocked.post(MESSAGES, status=200, body=SSE_BODY)
    with pytest.raises(OSError, match="caller's own"):
        async with await transport.send("POST", "/v1/messages", headers={}, stream=True):
            raise OSError("caller's own")


# --- map_aiohttp_errors: every aiohttp client exception ---------------------------


def _subclasses(cls: type) -> Iterator[type]:
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        yield sub
        yield from _subclasses(sub)


AIOHTTP_CLIENT_ERRORS = sorted(
    {
        aiohttp.ClientError,
        *(c for c in _subclasses(aiohttp.ClientError) if c.__module__.startswith("aiohttp")),
    },
    key=lambda c: c.__name__,
)


def _instance(cls: type[BaseException]) -> BaseException:
    """Build ``cls`` with arguments its constructor accepts (some carry the API key)."""
    params = list(inspect.signature(cls.__init__).parameters)[1:]  # drop self
    conn_key = SimpleNamespace(host="api.test", port=443, ssl=True, is_ssl=True)
    url = URL(MESSAGES)
    info = aiohttp.RequestInfo(url, "POST", CIMultiDictProxy(CIMultiDict({"x-api-key": KEY})), url)
    by_signature: dict[tuple[str, ...], tuple[Any, ...]] = {
        ("request_info", "history", "code", "status", "message", "headers"): (info, ()),
        ("connection_key", "os_error"): (conn_key, OSError(111, "refused")),
        ("connection_key", "certificate_error"): (conn_key, ValueError("bad cert")),
        ("path", "connection_key", "os_error"): ("/sock", conn_key, OSError(2, "missing")),
        ("expected", "got", "host", "port"): (b"a", b"b", "api.test", 443),
        ("url", "description"): (MESSAGES,),
        ("message",): ("boom",),
    }
    args = by_signature.get(tuple(params), ("boom",))
    return cls(*args)


def test_the_enumeration_finds_aiohttp_client_errors() -> None:
    names = {cls.__name__ for cls in AIOHTTP_CLIENT_ERRORS}
    assert {"ClientResponseError", "ServerDisconnectedError", "ConnectionTimeoutError"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("cls", [pytest.param(c, id=c.__name__) for c in AIOHTTP_CLIENT_ERRORS])
def test_every_aiohttp_client_exception_is_mapped(cls: type[BaseException]) -> None:
    exc = _instance(cls)
    expected = APITimeoutError if isinstance(exc, TimeoutError) else APIConnectionError
    with pytest.raises(TransportError) as info, map_aiohttp_errors():
        raise exc
    assert type(info.value) is expected
    assert info.value.__cause__ is exc
    assert cls.__name__ in str(info.value)
    assert KEY not in str(info.value) and KEY not in repr(info.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(asyncio.TimeoutError(), APITimeoutError, id="asyncio-timeout"),  # noqa: UP041
        pytest.param(TimeoutError(), APITimeoutError, id="builtin-timeout"),
        pytest.param(OSError(101, "unreachable"), APIConnectionError, id="oserror"),
        pytest.param(ConnectionResetError(104, "reset"), APIConnectionError, id="reset"),
    ],
)
def test_timeouts_and_socket_errors_are_mapped(
    exc: BaseException, expected: type[TransportError]
) -> None:
    with pytest.raises(TransportError) as info, map_aiohttp_errors():
        raise exc
    assert type(info.value) is expected
    assert info.value.__cause__ is exc


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(ValueError("bug"), id="value-error"),
        pytest.param(asyncio.CancelledError(), id="cancelled"),
        pytest.param(KeyboardInterrupt(), id="keyboard-interrupt"),
    ],
)
def test_other_exceptions_pass_through_unchanged(exc: BaseException) -> None:
    with pytest.raises(type(exc)) as info, map_aiohttp_errors():
        raise exc
    assert info.value is exc


def test_an_exception_whose_str_breaks_is_still_mapped() -> None:
    class Broken(aiohttp.ClientError):
        def __str__(self) -> str:
            raise AttributeError("half-built exception")

    with pytest.raises(APIConnectionError) as info, map_aiohttp_errors():
        raise Broken()
    assert str(info.value) == "connection failed: Broken"
