"""The transport seam: how a request's bytes reach the API and come back.

A transport sends one HTTP request and returns what the server said; it never retries
and never raises for an HTTP status (the caller decides what a 429 means). Failures with
no response (connect errors, resets, timeouts) are raised as
:class:`claudeflow.TransportError` subclasses; no foreign exception leaves a transport.
"""

from __future__ import annotations

import json as _json
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .._errors import ConfigError, InvalidRequestError

__all__ = [
    "CREDENTIAL_HEADERS",
    "ApiResponse",
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
        if not isinstance(name, str) or not name or not name.isprintable():
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
class ApiResponse:
    """A complete HTTP response. ``headers`` keys are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def json(self) -> Any:
        return _json.loads(self.body)


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One server-sent event: its ``event:`` name and its (joined) ``data:`` lines."""

    event: str
    data: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return _json.loads(self.data)


class StreamResponse(Protocol):
    """An open streaming response. Read ``events()`` on a 200, ``read()`` otherwise."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def events(self) -> AsyncIterator[SseEvent]:
        """The server-sent events in order; ends when the server closes the stream."""
        ...

    async def read(self) -> bytes:
        """The whole remaining body (used for error responses)."""
        ...


@runtime_checkable
class Transport(Protocol):
    """Sends requests to the API. ``path`` is relative to the transport's base URL."""

    async def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        timeout: float | None = None,
    ) -> ApiResponse: ...

    def open_stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        json: Any = None,
        timeout: float | None = None,
    ) -> AbstractAsyncContextManager[StreamResponse]: ...

    async def aclose(self) -> None: ...
