"""An incremental, tolerant parser for server-sent events (``text/event-stream``).

Bytes arrive in chunks that may split anything: a line, a ``\\r\\n`` pair, or a multi-byte
UTF-8 sequence. :class:`SseParser` keeps what it cannot finish yet and returns each event
as soon as its terminating blank line arrives. It follows the WHATWG event-stream rules,
loosened where real streams are sloppy (see :class:`SseParser`).
"""

from __future__ import annotations

import codecs
import re

from ._base import SseEvent

__all__ = ["SseParser", "encode_event"]

# One line terminator: CRLF, LF or a lone CR (WHATWG "end of line").
_LINE_END = re.compile(r"\r\n|\r|\n")
# Fields kept in ``SseEvent.extra``; others are ignored, as the standard says.
_EXTRA_FIELDS = frozenset({"id", "retry"})
_DEFAULT_EVENT = "message"


class SseParser:
    """Turns a byte stream into :class:`SseEvent` objects, one chunk at a time.

    Tolerances beyond the standard:

    - an event with an ``event:`` line but no ``data:`` is still delivered (``data=""``);
    - surrounding spaces of the event name are dropped (``event: ping `` is ``ping``);
    - :meth:`close` delivers a last event even if the stream ended without a blank line;
    - invalid UTF-8 becomes U+FFFD instead of an exception.

    ``id`` and ``retry`` fields of an event are put in its ``extra`` mapping.

    >>> parser = SseParser()
    >>> parser.feed(b"event: ping\\ndata: {}\\n")
    []
    >>> parser.feed(b"\\n")
    [SseEvent(event='ping', data='{}', extra={})]
    """

    __slots__ = (
        "_data",
        "_decoder",
        "_event",
        "_extra",
        "_has_fields",
        "_skip_lf",
        "_started",
        "_tail",
    )

    def __init__(self) -> None:
        # Incremental: a multi-byte character split across two chunks must not become two U+FFFDs.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""  # an unfinished line
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it
        self._started = False  # a BOM is only stripped at the very start of the stream
        self._reset_event()

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Parse ``chunk`` and return the events it completed (possibly none)."""
        return self._consume(self._decoder.decode(chunk))

    def close(self) -> list[SseEvent]:
        """End of stream: parse what is left and return the events it completes."""
        events = self._consume(self._decoder.decode(b"", final=True))
        if self._tail:
            # A stream cut without its final newline still delivers its last line.
            self._line(self._tail, events)
            self._tail = ""
        self._dispatch(events)
        return events

    def _consume(self, text: str) -> list[SseEvent]:
        events: list[SseEvent] = []
        if not text:
            return events  # e.g. only half a UTF-8 sequence arrived; keep ``_skip_lf`` as is
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf:
            self._skip_lf = False
            text = text.removeprefix("\n")
        buffer = self._tail + text
        start = 0
        for match in _LINE_END.finditer(buffer):
            self._line(buffer[start : match.start()], events)
            start = match.end()
        self._tail = buffer[start:]
        # A CR at the very end may be the first half of a CRLF split across chunks.
        self._skip_lf = start == len(buffer) and buffer.endswith("\r")
        return events

    def _line(self, line: str, events: list[SseEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return  # a comment (Anthropic sends none, proxies send keep-alives)
        name, sep, value = line.partition(":")
        # Stripped, beyond the standard: real streams pad field names.
        name = name.strip()
        # Only one space, as the standard says: the rest may be part of the data.
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_fields = True
        elif name == "event":
            self._event = value.strip()
            self._has_fields = True
        elif name in _EXTRA_FIELDS:
            self._extra[name] = value.strip()

    def _dispatch(self, events: list[SseEvent]) -> None:
        # A lone blank line (keep-alive) is no event.
        if self._has_fields:
            data = "\n".join(self._data)
            events.append(SseEvent(self._event or _DEFAULT_EVENT, data, self._extra))
        self._reset_event()

    def _reset_event(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._extra: dict[str, str] = {}
        self._has_fields = False

    def __repr__(self) -> str:
        return f"SseParser(buffered={len(self._tail)}, pending_lines={len(self._data)})"


def encode_event(event: SseEvent) -> bytes:
    """The wire form of ``event`` (``event:``, ``id:``/``retry:``, ``data:`` lines, blank line)."""
    lines = [f"event: {event.event}"]
    lines.extend(f"{name}: {value}" for name, value in event.extra.items())
    # One data: line per line of data: the parser joins them back with newlines.
    lines.extend(f"data: {part}" for part in event.data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode()
