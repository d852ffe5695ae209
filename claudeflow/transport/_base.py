"""The transport seam: how a request's bytes reach the API and come back.

A transport sends one HTTP request and returns what the server said; it never retries
and never raises for an HTTP status (the caller decides what a 429 means). Failures with
no response (connect errors, resets, timeouts) are raised as
:class:`claudeflow.TransportError` subclasses; no foreign exception leaves a transport.

There is one way to send, as in httpx: :meth:`Transport.send` returns a
:class:`Response` whose status and headers are known at once and whose body is read
whole (``read()``) or as server-sent events (``events()``); ``aclose()`` or
``async with`` gives the connection back. ``stream=False`` (the default) reads the body
before returning, so the response holds nothing open; ``stream=True`` leaves it open,
and a timeout then bounds each read instead of the whole reply.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

from .._errors import ConfigError, InvalidRequestError

__all__ = [
    "CREDENTIAL_HEADERS",
    "ApiResponse",
    "AsyncClosing",
    "BaseTransport",
    "Request",
    "Response",
    "SseEvent",
    "StreamResponse",
    "Transport",
    "check_headers",
    "lower_names",
    "masked",
]

# Lower-case names of the headers that carry the API key.
CREDENTIAL_HEADERS = frozenset({"x-api-key", "authorization"})


def lower_names(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with lower-case names (HTTP header names are case-insensitive).

    A name given more than once (a multidict's repeats, or ``"A"`` beside ``"a"``) keeps
    every value, joined with ``", "`` as HTTP allows.
    """
    out: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def check_headers(argument: str, value: object, *, config: bool = False) -> dict[str, str]:
    """``value`` as headers with lower-case names; refused with an error naming ``argument``.

    ``None`` is no headers. Names and values must be one-line strings: aiohttp would fail
    on anything else only after admission, with an error that names no argument. A
    refused value is described by its type only, since it may hold the API key.

    :param argument: the caller's name for ``value`` (``extra_headers``)
    :param config: raise :class:`ConfigError` (a constructor argument) instead of
        :class:`InvalidRequestError` (a request's)
    """
    if value is None:
        return {}
    problem = _header_problem(value)
    if problem is None:
        return lower_names(value)  # type: ignore[arg-type]  # checked just above
    if config:
        raise ConfigError(argument, problem)
    raise InvalidRequestError(f"{argument}: {problem}")


def _header_problem(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return f"must be a mapping of header names to values, got {type(value).__name__}"
    for name, text in value.items():
        # Printable only: a control character would corrupt the header line.
        if not isinstance(name, str) or not name or not name.isprintable():
            # Bounded: a huge bad name must not make a huge error message.
            shown = repr(name[:60]) if isinstance(name, str) else type(name).__name__
            return f"header names must be non-empty printable strings, got {shown}"
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            what = "a line break" if isinstance(text, str) else type(text).__name__
            return f"the value of {name[:60]!r} must be a one-line str, got {what}"
    return None


def masked(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` (lower-case names) with credentials replaced, for reprs and logs."""
    return {k: "***" if k in CREDENTIAL_HEADERS else v for k, v in headers.items()}


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: its ``event:`` name and its (joined) ``data:`` lines."""

    event: str
    data: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return _json.loads(self.data)


class Response(Protocol):
    """What :meth:`Transport.send` returns. ``headers`` keys are lower-case.

    Read the body once, whole or as events; then ``aclose()`` (or leave the
    ``async with`` block). Leaving on an exception drops the connection, since a body
    abandoned half-read cannot be reused.
    """

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes:
        """The whole (remaining) body."""
        ...

    def events(self) -> AsyncIterator[SseEvent]:
        """The body as server-sent events, in order; ends when the server closes it."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


# The name of the streaming half before ``send`` took both halves; kept for importers.
StreamResponse = Response


class AsyncClosing:
    """``async with`` for anything that has ``aclose()``: leaving the block closes it."""

    __slots__ = ()

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass(frozen=True, slots=True)
class ApiResponse(AsyncClosing):
    """A complete HTTP response, already read: a :class:`Response` holding nothing open.

    ``headers`` keys are lower-case. ``aclose()`` does nothing: the body was read before
    this was built.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return _json.loads(self.body)

    async def read(self) -> bytes:
        return self.body

    async def events(self) -> AsyncIterator[SseEvent]:
        # A whole body read as events: one handler serves plain and streaming callers alike.
        from ._sse import SseParser  # _sse builds on this module's SseEvent

        parser = SseParser()
        for event in parser.feed(self.body) + parser.close():
            yield event


@runtime_checkable
class Transport(Protocol):
    """Sends requests to the API. ``path`` is relative to the transport's base URL.

    ``timeout`` bounds the whole reply, or each read when ``stream`` is true (``inf``:
    no limit; ``None``: the transport's default).
    """

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> Response: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True, repr=False)
class Request:
    """One call of :meth:`Transport.send`, as a transport receives it.

    ``headers`` keys are lower-cased. The repr masks credentials, so a failing test's
    output never shows a key.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    json: Any = None
    timeout: float | None = None
    stream: bool = False  #: True when sent with ``send(..., stream=True)``

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, path={self.path!r}, "
            f"headers={masked(self.headers)!r}, "
            f"json={self.json!r}, timeout={self.timeout!r}, stream={self.stream!r})"
        )


class BaseTransport(AsyncClosing):
    """A :class:`Transport` written as one method: :meth:`handle` of a :class:`Request`.

    ``send``'s keyword arguments are gathered here once, so a transport only says what
    it does with a request; ``async with`` closes it.
    """

    __slots__ = ()

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> Response:
        """Send one request (any status); read its body now unless ``stream`` is true."""
        # Lower-cased once, here: every transport then merges and masks headers by exact name.
        return await self.handle(Request(method, path, lower_names(headers), json, timeout, stream))

    async def handle(self, request: Request) -> Response:
        raise NotImplementedError
