"""Streaming through the scheduler: accumulate SSE events into a Message, hand them over.

The attempt that runs the stream lives in the Flow's job task (so admission, priority,
retries, cancellation and closing work exactly as for ``create``). It forwards events
to the caller through a :class:`FlowStream`. Events are held back until the first
content event, so an attempt that fails before any content can be retried without the
caller ever seeing the failed attempt's ``message_start``.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._errors import StreamError
from .._message import ApiObject, Message
from ._result import Result

__all__ = ["FlowStream", "MessageAccumulator", "stream_error"]

_CONTENT_EVENTS = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})


class MessageAccumulator:
    """Builds the final message from stream events, like a non-streamed response."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.content_started = False
        self.finished = False
        self.generated_chars = 0  # text, thinking and tool input received so far
        self._partial_json: dict[int, str] = {}

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self.message = dict(event["message"])
            self.message["content"] = list(self.message.get("content") or [])
            self.message["usage"] = dict(self.message.get("usage") or {})
        elif kind in _CONTENT_EVENTS:
            self.content_started = True
            self._apply_content(kind, event)
        elif kind == "message_delta":
            self.message.update(event.get("delta") or {})
            # usage in message_delta is cumulative: take the latest values as they are.
            self.message.setdefault("usage", {}).update(event.get("usage") or {})
        elif kind == "message_stop":
            self.finished = True

    def _apply_content(self, kind: str, event: dict[str, Any]) -> None:
        content: list[dict[str, Any]] = self.message.setdefault("content", [])
        index = int(event.get("index", 0))
        if kind == "content_block_start":
            while len(content) <= index:
                content.append({})
            content[index] = dict(event["content_block"])
            return
        block = content[index]
        if kind == "content_block_stop":
            if index in self._partial_json:
                raw = self._partial_json.pop(index)
                block["input"] = json.loads(raw) if raw else {}
            return
        delta = event.get("delta") or {}
        kind = delta.get("type", "")
        if kind == "text_delta":
            text = delta.get("text", "")
            block["text"] = block.get("text", "") + text
            self.generated_chars += len(text)
        elif kind == "input_json_delta":
            part = delta.get("partial_json", "")
            self._partial_json[index] = self._partial_json.get(index, "") + part
            self.generated_chars += len(part)
        elif kind == "thinking_delta":
            thinking = delta.get("thinking", "")
            block["thinking"] = block.get("thinking", "") + thinking
            self.generated_chars += len(thinking)
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature", "")
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def generated_tokens(self, chars_per_token: float) -> int:
        """Output tokens generated so far, estimated from the deltas' characters (the
        final usage corrects it)."""
        return math.ceil(self.generated_chars / chars_per_token)

    @property
    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = self.message.get("usage") or {}
        return usage

    def final(self) -> Message:
        return Message(self.message)


_END = object()


class FlowStream:
    """What ``async with flow.stream(...) as stream`` gives: the events, then the result.

    Iterate it for the API's events (as :class:`ApiObject`, ``ping`` excluded); after the
    loop, :meth:`result` gives the same :class:`Result` a ``create`` call would. A
    mid-stream ``error`` event is raised from the iteration as :class:`StreamError`.
    """

    def __init__(self, job_future: asyncio.Future[Any]) -> None:
        self._future = job_future
        # Unbounded: the network read paces the producer, and close() must never block.
        self._events: asyncio.Queue[Any] = asyncio.Queue()

    def finished(self) -> Result | None:
        """The result once the stream has ended successfully, else ``None`` (never waits)."""
        f = self._future
        return f.result() if f.done() and not f.cancelled() and f.exception() is None else None

    def put(self, event: dict[str, Any]) -> None:
        self._events.put_nowait(event)

    def close(self) -> None:
        """Called by the attempt when no more events will come (any outcome)."""
        self._events.put_nowait(_END)

    async def __aiter__(self) -> AsyncIterator[ApiObject]:
        block, snapshot = None, ""
        while True:
            item = await self._next()
            if item is _END:
                break
            yield ApiObject(item)
            text = _text_delta(item)
            if text is not None:
                # As the SDK's MessageStream does: a "text" event with the block so far.
                if item.get("index") != block:
                    block, snapshot = item.get("index"), ""
                snapshot += text
                yield ApiObject({"type": "text", "text": text, "snapshot": snapshot})
        if self._future.done() and not self._future.cancelled():
            error = self._future.exception()
            if error is not None:
                raise error

    async def _next(self) -> Any:
        # Either an event arrives or the job ends without one (e.g. failed before content).
        if not self._events.empty():
            return self._events.get_nowait()
        getter = asyncio.ensure_future(self._events.get())
        await asyncio.wait({getter, self._future}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        return self._events.get_nowait() if not self._events.empty() else _END

    @property
    def text_stream(self) -> AsyncGenerator[str, None]:
        """Only the text deltas, in order (``async for text in stream.text_stream``)."""
        return self._texts()

    async def _texts(self) -> AsyncGenerator[str, None]:
        async for event in self:
            if event.get("type") == "text":
                yield event["text"]

    async def result(self) -> Result:
        """Wait for the end of the stream and return the accumulated result."""
        async for _ in self:
            pass
        result: Result = await self._future
        return result

    async def get_final_message(self) -> Message:
        """The accumulated message, as the SDK's ``get_final_message`` gives it."""
        return (await self.result()).message

    async def get_final_text(self) -> str:
        """The concatenated text of the final message."""
        return (await self.result()).text


def _text_delta(event: dict[str, Any]) -> str | None:
    if event.get("type") != "content_block_delta":
        return None
    delta = event.get("delta") or {}
    return delta.get("text") if delta.get("type") == "text_delta" else None


def stream_error(data: dict[str, Any]) -> StreamError:
    err = data.get("error") or {}
    return StreamError(
        str(err.get("message") or "error event in stream"),
        type=err.get("type"),
        request_id=data.get("request_id"),
        body=data,
    )
