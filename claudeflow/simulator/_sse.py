"""Server-sent events of a streamed Messages reply (api doc §5).

Order: ``message_start``; per content block ``content_block_start``, its deltas
(``text_delta``; ``thinking_delta`` then one ``signature_delta``; ``input_json_delta``
for a tool call, the first one empty), ``content_block_stop``; ``message_delta``
(cumulative usage); ``message_stop``. A ``ping`` follows the first
``content_block_start`` (as in the API's own examples) and then keeps a silent stream
alive every ``ping_interval`` seconds. A mid-stream fault replaces the rest with one
``error`` event.
"""

from __future__ import annotations

import math
from typing import Any

from ._output import Block, Plan, words
from ._reply import Chunk
from ._wire import dumps

__all__ = ["StreamTiming", "event", "stream_chunks"]

# (bytes, output tokens it carries): one event before timing is applied
_Item = tuple[bytes, int]


def event(name: str, data: dict[str, Any]) -> bytes:
    """One SSE frame; the JSON's ``type`` equals the event name."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


_PING = event("ping", {"type": "ping"})
_STOP = event("message_stop", {"type": "message_stop"})
_START_SHAPES = {"text": {"text": ""}, "thinking": {"thinking": "", "signature": ""}}
_DELTA_KEYS = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking")}


class StreamTiming:
    """Latency and chunking of a stream: ``ttft`` before the first token, then
    ``per_token`` seconds per token, ``chunk_tokens`` tokens per delta, and a ``ping``
    after ``ping_interval`` seconds without an event."""

    __slots__ = ("chunk_tokens", "per_token", "ping_interval", "ttft")

    def __init__(
        self, ttft: float, per_token: float, chunk_tokens: int, ping_interval: float = math.inf
    ) -> None:
        self.ttft = ttft
        self.per_token = per_token
        self.chunk_tokens = chunk_tokens
        self.ping_interval = ping_interval


def stream_chunks(
    message: dict[str, Any], plan: Plan, timing: StreamTiming, *, fail_half_way: bool = False
) -> list[Chunk]:
    """The timed chunks of ``message`` (its final form, with full usage) as ``plan`` made it."""
    # Built from the final message so the stream and the JSON reply can never disagree.
    items = [(_message_start(message), 0)]
    for index, (block, content) in enumerate(
        zip(plan.content_blocks(), message["content"], strict=True)
    ):
        start = {"type": "content_block_start", "index": index, "content_block": _start(content)}
        items.append((event("content_block_start", start), 0))
        if index == 0:
            items.append((_PING, 0))
        items.extend(_deltas(index, block, content, timing.chunk_tokens))
        items.append(
            (event("content_block_stop", {"type": "content_block_stop", "index": index}), 0)
        )
    if fail_half_way:
        items = _half(items)
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        # An error event ends the stream: no message_delta or message_stop follow (api doc §5.4).
        items.append((event("error", error), 0))
    else:
        items.append((_tail(message), 0))
    return _keep_alive(_timed(items, timing), timing.ping_interval)


def _start(content: dict[str, Any]) -> dict[str, Any]:
    kind = content["type"]
    if kind == "tool_use":
        return {"type": "tool_use", "id": content["id"], "name": content["name"], "input": {}}
    return {"type": kind, **_START_SHAPES[kind]}


def _deltas(index: int, block: Block, content: dict[str, Any], size: int) -> list[_Item]:
    if block.kind == "tool_use":
        return _json_deltas(index, dumps(content["input"]).decode(), block.tokens, size)
    kind, key = _DELTA_KEYS[block.kind]
    shown, limit = 0, len(content[key])
    out: list[_Item] = []
    for start in range(0, block.tokens, size):
        stop = min(block.tokens, start + size)
        piece = words(start, stop)[: limit - shown]  # a stop sequence cuts the text short
        shown += len(piece)
        data = {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: piece}}
        out.append((event("content_block_delta", data) if piece else b"", stop - start))
    if block.kind == "thinking":
        delta = {"type": "signature_delta", "signature": content["signature"]}
        data = {"type": "content_block_delta", "index": index, "delta": delta}
        out.append((event("content_block_delta", data), 0))
    return out


def _json_deltas(index: int, text: str, tokens: int, size: int) -> list[_Item]:
    """The input JSON in one piece per ``size`` tokens, after an empty first piece."""
    count = math.ceil(tokens / size)
    step = max(1, math.ceil(len(text) / count))
    pieces = [("", 0)]
    pieces += [
        (text[i * step : (i + 1) * step], min(size, tokens - i * size)) for i in range(count)
    ]
    out: list[_Item] = []
    for piece, cost in pieces:
        delta = {"type": "input_json_delta", "partial_json": piece}
        data = {"type": "content_block_delta", "index": index, "delta": delta}
        out.append((event("content_block_delta", data), cost))
    return out


def _half(items: list[_Item]) -> list[_Item]:
    """``items`` up to and including half of the token-bearing ones (at least one)."""
    bearing = [i for i, (_, tokens) in enumerate(items) if tokens > 0]
    # At least one token-bearing event, so the client has begun receiving before it fails.
    keep = bearing[max(1, len(bearing) // 2) - 1] if bearing else len(items) - 1
    return items[: keep + 1]


def _timed(items: list[_Item], timing: StreamTiming) -> list[Chunk]:
    """Delays: the head waits ``ttft`` with the first tokens, then ``per_token`` each."""
    chunks: list[Chunk] = []
    head: list[bytes] = []
    produced = 0
    for data, tokens in items:
        produced += tokens
        if not chunks:
            head.append(data)
            if tokens > 0:
                chunks.append((timing.ttft, b"".join(head), produced))
        else:
            # Cumulative tokens per chunk, so OTPM is debited as output is produced (§1.4).
            chunks.append((timing.per_token * tokens, data, produced))
    if not chunks:
        chunks.append((timing.ttft, b"".join(head), produced))
    return chunks


def _keep_alive(chunks: list[Chunk], interval: float) -> list[Chunk]:
    """A ``ping`` every ``interval`` seconds of silence between chunks (after the first)."""
    # The common case (no long silences) keeps the list as it is, without copying.
    if all(delay <= interval for delay, _, _ in chunks[1:]):
        return chunks
    out = chunks[:1]
    for delay, data, tokens in chunks[1:]:
        while delay > interval:
            out.append((interval, _PING, out[-1][2]))
            delay -= interval
        out.append((delay, data, tokens))
    return out


def _message_start(message: dict[str, Any]) -> bytes:
    usage = dict(message["usage"])
    # message_start has final input counts but only a token of output so far (api doc §5.2).
    usage["output_tokens"] = min(1, usage["output_tokens"])
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, usage=usage)
    return event("message_start", {"type": "message_start", "message": start})


def _tail(message: dict[str, Any]) -> bytes:
    usage = message["usage"]
    # Cumulative usage, repeating the input counts as 2026 streams do (api doc §5.3).
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": delta_usage,
    }
    return event("message_delta", delta) + _STOP
