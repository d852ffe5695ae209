"""Connection failures are classified by kind, and a repeating kind is logged as a WARNING."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from claudeflow import APIConnectionError, APITimeoutError, Flow, RetryPolicy, TokenCounting
from claudeflow.transport import AiohttpTransport
from claudeflow.transport._failures import RepeatedFailures, failure_kind

KEY = "sk-ant-api03-SECRET-never-log-me"
BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 5,
    "messages": [{"role": "user", "content": "hi"}],
}
LOGGER = "claudeflow.transport"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def server(behaviour: str) -> AsyncIterator[str]:
    """A local TCP server that hangs up at once ("reset") or never answers ("silent")."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        if behaviour == "reset":
            writer.transport.abort()
        else:
            held.append(writer)

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{srv.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.transport.abort()
        srv.close()
        await srv.wait_closed()


async def failure(url: str, *, timeout: float | None = None) -> APIConnectionError:
    async with AiohttpTransport(url, default_headers={"x-api-key": KEY}) as transport:
        with pytest.raises(APIConnectionError) as caught:
            await transport.send("POST", "/v1/messages", headers={}, json=BODY, timeout=timeout)
    return caught.value


async def test_a_refused_connection_is_kind_refused_and_keeps_its_cause() -> None:
    error = await failure(f"http://127.0.0.1:{closed_port()}")
    assert error.kind == "refused" and "connection refused" in str(error)
    assert isinstance(error.__cause__, aiohttp.ClientConnectorError)


async def test_an_unknown_host_is_kind_dns() -> None:
    error = await failure("http://no-such-host.invalid")  # .invalid never resolves (RFC 6761)
    assert error.kind == "dns" and "host name not found" in str(error)
    assert isinstance(error.__cause__, aiohttp.ClientConnectorError)


async def test_a_server_that_hangs_up_is_kind_reset() -> None:
    async with server("reset") as url:
        error = await failure(url)
    assert error.kind == "reset"


async def test_a_server_that_never_answers_is_a_timeout() -> None:
    async with server("silent") as url:
        error = await failure(url, timeout=0.05)
    assert isinstance(error, APITimeoutError) and error.kind == "timeout"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        pytest.param(ConnectionRefusedError(errno.ECONNREFUSED, "no"), "refused", id="refused"),
        pytest.param(socket.gaierror(-2, "Name or service not known"), "dns", id="gaierror"),
        pytest.param(aiohttp.ClientOSError(errno.ECONNRESET, "reset"), "reset", id="os-reset"),
        pytest.param(ConnectionResetError(errno.ECONNRESET, "reset"), "reset", id="reset"),
        pytest.param(BrokenPipeError(errno.EPIPE, "pipe"), "reset", id="pipe"),
        pytest.param(aiohttp.ServerDisconnectedError(), "reset", id="disconnected"),
        pytest.param(aiohttp.ClientPayloadError("cut"), "reset", id="payload"),
        pytest.param(TimeoutError(), "timeout", id="timeout"),
        pytest.param(aiohttp.InvalidURL("x"), "other", id="other"),
    ],
)
def test_failure_kinds(exc: BaseException, kind: str) -> None:
    assert failure_kind(exc) == kind


async def test_each_kind_warns_once_when_it_repeats_without_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    transport = AiohttpTransport(url, default_headers={"x-api-key": KEY})
    with caplog.at_level(logging.INFO, LOGGER):
        for _ in range(4):
            with pytest.raises(APIConnectionError):
                await transport.send("POST", "/v1/messages", headers={}, json=BODY)
        first_run = [r for r in caplog.records if r.name == LOGGER]
        await transport.aclose()  # a new run warns afresh
        for _ in range(2):
            with pytest.raises(APIConnectionError):
                await transport.send("POST", "/v1/messages", headers={}, json=BODY)
        await transport.aclose()
    records = [r for r in caplog.records if r.name == LOGGER]
    assert len(first_run) == 1 and len(records) == 2
    assert all(r.levelno == logging.WARNING for r in records)
    assert "repeated 'refused' failure at http://127.0.0.1:" in first_run[0].getMessage()
    assert KEY not in caplog.text


def test_repeated_failures_are_counted_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    notes = RepeatedFailures("https://user:secret@api.example:8443/base")
    with caplog.at_level(logging.WARNING, LOGGER):
        for kind in ("reset", "timeout", "reset", "timeout", "reset"):
            notes.note(APIConnectionError("x", kind=kind))
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith(
        "claudeflow: repeated 'reset' failure at https://api.example:8443"
    )
    assert "secret" not in caplog.text


async def test_a_wrong_base_url_fails_after_one_quick_retry_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    # Default policy but a tiny base delay, so the one retry costs no real time.
    flow = Flow(
        api_key=KEY,
        base_url=url,
        retry=RetryPolicy(base_delay=0.001),
        tokens=TokenCounting(calibrate=False),
    )
    with caplog.at_level(logging.WARNING):
        async with flow:
            with pytest.raises(APIConnectionError) as caught:
                await flow.create(**BODY)
    assert caught.value.kind == "refused" and caught.value.attempts == 2
    assert flow.stats().attempts == 2
    warnings = [r for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 1 and KEY not in caplog.text
