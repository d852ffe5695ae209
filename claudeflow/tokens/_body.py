"""Take a Messages request body apart into pieces whose tokens can be counted.

Collecting is cheap (it only walks the structure); counting is the expensive part, so the
two are separate and :class:`~claudeflow.tokens.TokenEstimator` can move counting to a
worker thread when there is a lot of it.

What the model sees is the text of every part plus a little markup around each turn,
block and tool. The overhead constants below are priors, not measurements of Claude's
tokenizer (which is not public); :class:`~claudeflow.tokens.Calibrator` learns the
per-model error of the whole estimate from real ``usage``. Walking never raises: an
unknown or malformed part is counted by its JSON text, the way it would go on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._coerce import as_mapping, to_json
from ._encoding import count_text
from ._media import (
    IMAGE_HEADER_CHARS,
    IMAGE_UNKNOWN_TOKENS,
    PDF_PAGE_TOKENS,
    image_tokens_from_base64,
    pdf_tokens_from_base64,
)

__all__ = [
    "BLOCK_OVERHEAD",
    "MESSAGE_OVERHEAD",
    "REQUEST_OVERHEAD",
    "TOOLS_OVERHEAD",
    "TOOL_OVERHEAD",
    "Parts",
    "collect",
]

# Start/end of the prompt.
REQUEST_OVERHEAD = 3
# Role marker and turn separator of each message.
MESSAGE_OVERHEAD = 4
# Markup around each non-text block (tool call/result wrappers, image/document slots).
# Text blocks are concatenated as they are and get none.
BLOCK_OVERHEAD = 3
# The hidden tool-use system prompt added whenever ``tools`` is non-empty: Anthropic's
# pricing docs list ~300-350 tokens for recent models (346 with tool_choice auto/none).
TOOLS_OVERHEAD = 346
# Wrapper around each tool definition.
TOOL_OVERHEAD = 8
# Deeper nesting than any valid request has; beyond it, parts count by their JSON.
_MAX_DEPTH = 8
# The value of each block's ``cache_control`` is routing, not prompt text.
_NOT_PROMPT = "cache_control"

Counter = Callable[[str], int]


@dataclass(slots=True)
class Parts:
    """A body taken apart: ``fixed`` tokens known already plus ``pieces`` still to count.

    ``work`` is the number of characters the counters will read: it decides whether
    counting is worth a worker thread.
    """

    fixed: int = 0
    pieces: list[tuple[Counter, str]] = field(default_factory=list)
    work: int = 0

    def add(self, counter: Counter, payload: str, work: int | None = None) -> None:
        """Queue ``payload`` for ``counter``; ``work`` defaults to its length."""
        self.pieces.append((counter, payload))
        self.work += len(payload) if work is None else work

    def add_text(self, value: object) -> None:
        """Queue text; a non-string is counted by its JSON."""
        text = value if isinstance(value, str) else to_json(value)
        if text:
            self.add(count_text, text)

    def count(self) -> int:
        """Run the counters: the tokens of the whole body."""
        return self.fixed + sum(counter(payload) for counter, payload in self.pieces)


def collect(body: Mapping[str, Any]) -> Parts:
    """The countable parts of a Messages request body (system, messages, tools)."""
    data = as_mapping(body) or {}
    parts = Parts(fixed=REQUEST_OVERHEAD)
    _content(parts, data.get("system"), 0)
    for message in _items(data.get("messages")):
        _message(parts, message)
    tools = _items(data.get("tools"))
    if tools:
        parts.fixed += TOOLS_OVERHEAD
    for tool in tools:
        _tool(parts, tool)
    _output_format(parts, data.get("output_config"))
    return parts


def _items(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _message(parts: Parts, message: object) -> None:
    parts.fixed += MESSAGE_OVERHEAD
    data = as_mapping(message)
    if data is None:
        parts.add_text(message)
    else:
        _content(parts, data.get("content"), 0)


def _content(parts: Parts, content: object, depth: int) -> None:
    """A ``content`` (or ``system``) value: a string, a list of blocks, or one block."""
    if content is None:
        return
    if isinstance(content, str):
        parts.add_text(content)
        return
    for block in _items(content):
        _block(parts, block, depth)


def _block(parts: Parts, block: object, depth: int) -> None:
    data = as_mapping(block)
    if data is None:  # a bare string in a block list is lenient but harmless
        parts.add_text(block)
        return
    kind = data.get("type")
    if kind == "text":
        parts.add_text(data.get("text"))
        return
    parts.fixed += BLOCK_OVERHEAD
    handler = _BLOCKS.get(kind) if isinstance(kind, str) and depth < _MAX_DEPTH else None
    (handler or _by_json)(parts, data, depth + 1)


def _image(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    source = as_mapping(data.get("source")) or {}
    payload = source.get("data")
    if source.get("type") == "base64" and isinstance(payload, str):
        # Only the header is decoded, so the work is bounded whatever the image's size.
        parts.add(image_tokens_from_base64, payload, min(len(payload), IMAGE_HEADER_CHARS))
    else:
        parts.fixed += IMAGE_UNKNOWN_TOKENS


def _document(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    for key in ("title", "context"):
        if data.get(key) is not None:
            parts.add_text(data.get(key))
    source = as_mapping(data.get("source")) or {}
    kind = source.get("type")
    payload = source.get("data")
    if kind == "text":
        parts.add_text(payload)
    elif kind == "content":
        _content(parts, source.get("content"), depth)
    elif kind == "base64" and isinstance(payload, str):
        parts.add(pdf_tokens_from_base64, payload)
    elif kind in ("url", "file"):
        parts.fixed += PDF_PAGE_TOKENS  # size unknown here: charge one page
    else:
        parts.add_text(_prompt_part(source))


def _tool_use(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    parts.add_text(data.get("name"))
    if "input" in data:
        parts.add_text(to_json(data["input"]))


def _tool_result(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    _content(parts, data.get("content"), depth)


def _thinking(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    # The signature is an opaque integrity check, not prompt text.
    parts.add_text(data.get("thinking"))


def _by_json(parts: Parts, data: Mapping[str, Any], depth: int) -> None:
    parts.add_text(_prompt_part(data))


_BLOCKS: dict[str, Callable[[Parts, Mapping[str, Any], int], None]] = {
    "document": _document,
    "image": _image,
    "server_tool_use": _tool_use,
    "thinking": _thinking,
    "tool_result": _tool_result,
    "tool_use": _tool_use,
}


def _tool(parts: Parts, tool: object) -> None:
    parts.fixed += TOOL_OVERHEAD
    data = as_mapping(tool)
    if data is None or "input_schema" not in data:
        # Server and typed tools (web search, bash, ...) by their JSON definition.
        parts.add_text(tool if data is None else _prompt_part(data))
        return
    parts.add_text(data.get("name"))
    if data.get("description") is not None:
        parts.add_text(data.get("description"))
    parts.add_text(to_json(data.get("input_schema")))


def _output_format(parts: Parts, output_config: object) -> None:
    # A structured-output JSON schema reaches the model as part of the prompt.
    config = as_mapping(output_config) or {}
    if config.get("format") is not None:
        parts.add_text(to_json(config.get("format")))


def _prompt_part(data: Mapping[str, Any]) -> str:
    return to_json({key: value for key, value in data.items() if key != _NOT_PROMPT})
