"""Which of the runner's requests are on the wire right now, and the latest error.

The Flow's ``stats()`` counts queued and in-flight requests but does not say which is
which. On a first Ctrl-C the runner must abandon the lines that are only queued (nothing
sent: cancelling them consumes nothing) and wait for the ones being answered. A
:class:`WireTracker` wraps the Flow's transport: the runner tags each request with a
ticket header (taken off again before anything is sent), and the tracker notes when that
request goes out and when its answer comes back. It also keeps the latest failed
attempt, for the progress line.

>>> tracker = WireTracker(AiohttpTransport(url))  # doctest: +SKIP
>>> flow = Flow(transport=tracker, ...)           # then run_jsonl(flow, files, wire=tracker)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Final, Self

from .._errors import ClaudeflowError, status_error
from ..transport import Response, SseEvent, Transport

__all__ = ["TICKET_HEADER", "WireTracker"]

TICKET_HEADER: Final = "x-claudeflow-runner-ticket"

# Called when a tagged request's answer is back: (ticket, whether it was a 2xx).
Landed = Callable[[str, bool], None]


def _ignore(ticket: str, ok: bool) -> None:
    return None


class WireTracker:
    """A :class:`~claudeflow.transport.Transport` that knows what is on the wire."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.on_wire: set[str] = set()
        self.failed_attempts = 0
        self.last_error: ClaudeflowError | None = None
        self.landed: Landed = _ignore

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
        ticket = headers.get(TICKET_HEADER)
        # The ticket is ours alone: it never reaches the API.
        plain = {k: v for k, v in headers.items() if k != TICKET_HEADER}
        if ticket is not None:
            self.on_wire.add(ticket)
        ok = handed_on = False
        try:
            response = await self._inner.send(
                method, path, headers=plain, json=json, timeout=timeout, stream=stream
            )
            ok = response.status < 300
            if not ok:
                body = await response.read()
                self.note_failure(status_error(response.status, response.headers, body))
            elif stream and ticket is not None:
                # A line the Flow streams under the hood (a probe, output charged as it is
                # generated, a pool timing its transit) stays on the wire until it is read.
                handed_on = True
                return _Landing(response, self, ticket)
            return response
        except ClaudeflowError as error:
            self.note_failure(error)
            raise
        finally:
            if ticket is not None and not handed_on:
                # In finally: a cancelled or failed send is off the wire as much as an answered one.
                self.off(ticket, ok)

    def off(self, ticket: str, ok: bool) -> None:
        """The request of ``ticket`` is off the wire (``ok``: with a 2xx answer)."""
        self.on_wire.discard(ticket)
        self.landed(ticket, ok)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def note_failure(self, error: ClaudeflowError) -> None:
        """Count a failed attempt and keep it as the latest error."""
        self.failed_attempts += 1
        self.last_error = error


class _Landing:
    """A streamed answer whose ticket leaves the wire once, when it is closed: landed
    well if it was read to the end, failed if it was left on an error."""

    def __init__(self, inner: Response, tracker: WireTracker, ticket: str) -> None:
        self._inner = inner
        self._tracker = tracker
        self._ticket: str | None = ticket

    @property
    def status(self) -> int:
        return self._inner.status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._inner.headers

    async def read(self) -> bytes:
        return await self._inner.read()

    def events(self) -> AsyncIterator[SseEvent]:
        return self._inner.events()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._land(None)

    async def __aenter__(self) -> Self:
        try:
            await self._inner.__aenter__()
        except BaseException as error:
            self._land(error)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            self._land(exc)

    def _land(self, error: BaseException | None) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is None:
            return
        if isinstance(error, ClaudeflowError):  # a stream cut or refused mid-way
            self._tracker.note_failure(error)
        self._tracker.off(ticket, error is None)
