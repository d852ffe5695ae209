"""Server-sent events of a streamed Messages reply (api doc §5).

Order: ``message_start``, ``content_block_start``, ``content_block_delta``...,
``content_block_stop``, ``ping``, ``message_delta`` (cumulative usage),
``message_stop``. A mid-stream fault replaces the rest with one ``error`` event.
"""

from __future__ import annotations

from typing import Any

from ._output import words
from ._reply import Chunk
from ._wire import dumps

__all__ = ["StreamTiming", "event", "stream_chunks"]


def event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE frame; the JSON's ``type`` equals the event name."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


_PING = event("ping", {"type": "ping"})
_STOP = event("message_stop", {"type": "message_stop"})
_BLOCK_STOP = event("content_block_stop", {"type": "content_block_stop", "index": 0})
_BLOCK_START = event(
    "content_block_start",
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
)


class StreamTiming:
    """Latency and chunking of a stream: ``ttft`` before the first token, then
    ``per_token`` seconds per token, ``chunk_tokens`` tokens per delta."""

    __slots__ = ("chunk_tokens", "per_token", "ttft")

    def __init__(self, ttft: float, per_token: float, chunk_tokens: int) -> None:
        self.ttft = ttft
        self.per_token = per_token
        self.chunk_tokens = chunk_tokens


def stream_chunks(
    message: dict[str, Any], timing: StreamTiming, *, fail_half_way: bool = False
) -> list[Chunk]:
    """The timed chunks of ``message`` (its final form, with full usage)."""
    usage = message["usage"]
    total: int = usage["output_tokens"]
    head = _message_start(message) + _BLOCK_START
    deltas = _deltas(total, timing.chunk_tokens)
    if fail_half_way:
        deltas = deltas[: max(1, len(deltas) // 2)] if deltas else []
    chunks: list[Chunk] = []
    produced = 0
    for index, (data, size) in enumerate(deltas):
        produced += size
        if index == 0:
            chunks.append((timing.ttft, head + data, produced))
        else:
            chunks.append((timing.per_token * size, data, produced))
    if not chunks:
        chunks.append((timing.ttft, head, 0))
    if fail_half_way:
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        chunks.append((0.0, event("error", error), produced))
        return chunks
    chunks.append((0.0, _tail(message, usage), total))
    return chunks


def _message_start(message: dict[str, Any]) -> bytes:
    usage = dict(message["usage"])
    usage["output_tokens"] = min(1, usage["output_tokens"])
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=usage)
    return event("message_start", {"type": "message_start", "message": start})


def _deltas(total: int, size: int) -> list[tuple[bytes, int]]:
    out = []
    for start in range(0, total, size):
        stop = min(total, start + size)
        delta = {"type": "text_delta", "text": words(start, stop)}
        data = {"type": "content_block_delta", "index": 0, "delta": delta}
        out.append((event("content_block_delta", data), stop - start))
    return out


def _tail(message: dict[str, Any], usage: dict[str, Any]) -> bytes:
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
        "usage": delta_usage,
    }
    return b"".join((_BLOCK_STOP, _PING, event("message_delta", delta), _STOP))
