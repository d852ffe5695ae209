"""The production transport: aiohttp, one pooled session per event loop.

aiohttp's exceptions stop here: :func:`map_aiohttp_errors` turns every one of them (and
the timeouts and ``OSError`` they may let through) into :class:`APIConnectionError` or
:class:`APITimeoutError`, chained with ``raise ... from``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from .._checks import check_count, check_instance, check_positive
from .._config import Timeouts
from .._errors import APIConnectionError, APITimeoutError, ConfigError
from ._base import (
    ApiResponse,
    AsyncClosing,
    BaseTransport,
    Request,
    Response,
    SseEvent,
    check_headers,
    lower_names,
)
from ._failures import RepeatedFailures, describe, failure_kind
from ._sse import SseParser

__all__ = ["AiohttpTransport", "map_aiohttp_errors"]


def map_aiohttp_errors(
    on_failure: Callable[[APIConnectionError], None] | None = None,
) -> AbstractContextManager[None]:
    """Re-raise aiohttp, timeout and socket failures as claudeflow transport errors.

    The error's ``kind`` says what failed (see :func:`failure_kind`); ``on_failure``, if
    given, sees each error before it is raised.

    :raises APITimeoutError: for any timeout (connect, read or total)
    :raises APIConnectionError: for every other aiohttp client error or ``OSError``
    """
    return _ErrorMap(on_failure)


class _ErrorMap(AbstractContextManager[None]):
    # A class, not @contextmanager: entered once per request, and a generator-based
    # context manager costs several times more to build and enter.
    __slots__ = ("_on_failure",)

    def __init__(self, on_failure: Callable[[APIConnectionError], None] | None) -> None:
        self._on_failure = on_failure

    def __enter__(self) -> None:
        return None  # as the generator it replaces yielded nothing

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # TimeoutError is an OSError, and aiohttp's timeout classes are TimeoutErrors too.
        if isinstance(exc, aiohttp.ClientError | OSError):
            error = _mapped(exc)
            if self._on_failure is not None:
                self._on_failure(error)
            raise error from exc


def _mapped(exc: BaseException) -> APIConnectionError:
    kind = failure_kind(exc)
    cls = APITimeoutError if kind == "timeout" else APIConnectionError
    return cls(_describe(describe(kind), exc), kind=kind)


def _describe(what: str, exc: BaseException) -> str:
    # str(), never repr(): a ClientResponseError's repr includes the request headers,
    # and with them the API key.
    try:
        detail = str(exc)
    except Exception:  # a broken __str__ must not replace the error we are reporting
        detail = ""
    return f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else "")


class _OpenResponse(AsyncClosing):
    """A :class:`Response` over an aiohttp response whose body is still on the wire."""

    __slots__ = ("_note", "_response", "headers", "status")

    def __init__(
        self, response: aiohttp.ClientResponse, note: Callable[[APIConnectionError], None]
    ) -> None:
        self._response = response
        self._note = note
        self.status = response.status
        self.headers: Mapping[str, str] = lower_names(response.headers)

    async def events(self) -> AsyncIterator[SseEvent]:
        parser = SseParser()
        while True:
            with map_aiohttp_errors(self._note):
                chunk = await self._response.content.readany()
            if not chunk:
                break
            for event in parser.feed(chunk):
                yield event
        for event in parser.close():
            yield event

    async def read(self) -> bytes:
        with map_aiohttp_errors(self._note):
            return await self._response.read()

    async def aclose(self) -> None:
        self._response.release()  # back to the pool (aiohttp closes it if the body is unread)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._response.close()  # abandoned mid-body (error or cancellation): drop it
        else:
            await self.aclose()


class AiohttpTransport(BaseTransport):
    """Sends requests with aiohttp; loop-safe and lazily connected.

    Nothing is opened at construction. The first call inside a running loop opens a
    pooled ``aiohttp.ClientSession`` bound to that loop; a call from another loop (for
    example a second ``asyncio.run``) opens a fresh session there. ``path`` arguments are
    joined to ``base_url``; an absolute ``http(s)://`` URL is used as is.

    :param base_url: e.g. ``"https://api.anthropic.com"`` (a trailing ``/`` is optional)
    :param timeouts: connect and per-attempt total timeouts (``Timeouts()`` by default)
    :param max_connections: size of the connection pool
    :param default_headers: sent with every request; per-call headers win
    :raises ConfigError: for a bad argument, naming it

    >>> transport = AiohttpTransport("http://127.0.0.1:8765")
    >>> transport
    AiohttpTransport(base_url='http://127.0.0.1:8765')
    """

    __slots__ = (
        "_base_url",
        "_default_headers",
        "_failures",
        "_guard",
        "_limit",
        "_loop",
        "_session",
        "_timeouts",
        "_total_timeout",
    )

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts | None = None,
        max_connections: int = 100,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._base_url = _check_base_url(base_url)
        self._failures = RepeatedFailures(self._base_url)
        check_instance("timeouts", timeouts, Timeouts)
        self._timeouts = timeouts or Timeouts()
        check_count("max_connections", max_connections)
        self._limit = max_connections
        self._default_headers = check_headers("default_headers", default_headers, config=True)
        # sock_connect, not connect: aiohttp's ``connect`` also counts the wait for a free
        # pooled connection, which is our own queueing, not a network failure.
        self._total_timeout = aiohttp.ClientTimeout(
            total=self._timeouts.total, sock_connect=self._timeouts.connect
        )
        self._session: aiohttp.ClientSession | None = None
        self._guard: AsyncGenerator[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def base_url(self) -> str:
        return self._base_url

    async def handle(self, request: Request) -> Response:
        session = await self._current_session()
        kwargs = self._request_kwargs(request)
        with map_aiohttp_errors(self._failures.note):
            response = await session.request(request.method, self._url(request.path), **kwargs)
            if request.stream:
                return _OpenResponse(response, self._failures.note)
            async with response:
                body = await response.read()
            return ApiResponse(response.status, lower_names(response.headers), body)

    async def aclose(self) -> None:
        """Close the session; a later call opens a new one."""
        guard, loop = self._guard, self._loop
        self._session = self._guard = self._loop = None
        self._failures.reset()  # the next run warns afresh
        if guard is not None and loop is not None:
            await _close_guard(guard, loop)

    def __repr__(self) -> str:
        # base_url only: default headers carry the API key.
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def _current_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        old_guard, old_loop = self._guard, self._loop
        if old_loop is not loop:
            self._failures.reset()  # a new loop is a new run
        session = self._new_session()
        guard = _close_at_loop_shutdown(session)
        # Assigned before any await, so concurrent callers in this loop share the session;
        # starting the guard runs straight to its ``yield`` without suspending.
        self._session, self._guard, self._loop = session, guard, loop
        await anext(guard)
        if old_guard is not None and old_loop is not None:
            await _close_guard(old_guard, old_loop)
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._limit)
        return aiohttp.ClientSession(connector=connector, timeout=self._total_timeout)

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self._base_url}/{path.lstrip('/')}"

    def _request_kwargs(self, request: Request) -> dict[str, Any]:
        # The request's names are lower-case already, so a call's header replaces the
        # default of the same name whatever case either was written in.
        headers = request.headers
        if self._default_headers:
            headers = {**self._default_headers, **headers}
        kwargs: dict[str, Any] = {"headers": headers}
        if request.json is not None:
            kwargs["json"] = request.json
        if request.timeout is not None or request.stream:
            kwargs["timeout"] = self._client_timeout(request.timeout, request.stream)
        return kwargs

    def _client_timeout(self, timeout: float | None, stream: bool) -> aiohttp.ClientTimeout:
        """``timeout`` bounds the whole reply, or each read of a stream (as the SDK does);
        ``inf`` means no limit, ``None`` the configured ``Timeouts.total``."""
        if not stream and (timeout is None or timeout == self._timeouts.total):
            return self._total_timeout  # the common case: checked and built once
        if timeout is None:
            timeout = self._timeouts.total
        elif timeout != math.inf:
            check_positive("timeout", timeout)
        limit = None if timeout == math.inf else timeout
        if stream:
            # A long generation may stream for many minutes: only silence is a timeout.
            return aiohttp.ClientTimeout(sock_read=limit, sock_connect=self._timeouts.connect)
        return aiohttp.ClientTimeout(total=limit, sock_connect=self._timeouts.connect)


async def _close_at_loop_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None]:
    """Keep ``session`` until this generator is closed, then close the session.

    The generator is started in the session's loop, so the loop tracks it; ``asyncio.run``
    (and ``asyncio.Runner``) close such generators before closing the loop. A session the
    caller forgot to ``aclose()`` thus still closes its sockets in its own loop, instead of
    leaking them when a later ``asyncio.run`` starts a new loop (principle 10).
    """
    try:
        yield
    finally:
        await session.close()


async def _close_guard(guard: AsyncGenerator[None], loop: asyncio.AbstractEventLoop) -> None:
    """Close a session through its guard; ``loop`` (the session's) may not be running."""
    if loop is asyncio.get_running_loop() or loop.is_closed():
        # On a closed loop aiohttp only marks the pool closed, which is safe from here.
        await guard.aclose()
    elif loop.is_running():
        # Another thread's loop: let it close its own sockets.
        asyncio.run_coroutine_threadsafe(guard.aclose(), loop)
    # else: an idle loop that is still open; its futures cannot be awaited from here, and
    # its own shutdown_asyncgens() will close the guard.


def _check_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise ConfigError("base_url", f"must be a str, got {type(base_url).__name__}")
    try:
        url = urlsplit(base_url)
    except ValueError as exc:
        raise ConfigError("base_url", f"is not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError("base_url", f"must be an http(s) URL with a host, got {base_url!r}")
    return base_url.rstrip("/")
