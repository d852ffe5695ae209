"""The simulator's server-side tokenizer: deterministic, fast, and not tiktoken.

A client's local estimate (tiktoken ``cl100k_base``) never matches the server exactly,
and claudeflow has to cope with that, so the simulator counts differently on purpose:

    tokens(text) = words + punctuation bytes + utf8_bytes // 16 + (utf8_bytes - chars) // 2

On English prose this is about 10-30 % above cl100k (long words cost a little more,
punctuation one token each); non-ASCII text costs about one token per character. All
operations are C-level ``bytes`` methods, so counting stays cheap on the hot path.

A request is measured as a sequence of :class:`Unit` (tool definitions, system blocks,
message blocks, in the API's cache-prefix order) so that prompt caching can find the
prefix up to a ``cache_control`` breakpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Prompt", "Unit", "count_json", "count_text", "measure_prompt"]

_PUNCTUATION = b",.;:!?()[]{}\"'-*`#|/<>=_\\@$%&+~^"

# Fixed overheads, in tokens: the reply priming of every request, the role markers of
# every message, the system prompt wrapper, and the tool-use preamble the API adds
# when tools are present (it bills that preamble as input).
REQUEST_OVERHEAD = 3
MESSAGE_OVERHEAD = 4
SYSTEM_OVERHEAD = 3
TOOLS_PREAMBLE = 20
TOOL_OVERHEAD = 5
IMAGE_TOKENS = 1_000


def count_text(text: str) -> int:
    """Tokens of ``text`` under the simulator's rule (0 only for the empty string)."""
    if not text:
        return 0
    raw = text.encode()
    size = len(raw)
    punctuation = size - len(raw.translate(None, _PUNCTUATION))
    # At least 1: any non-empty text costs a token, as it does on the server.
    return max(1, len(raw.split()) + punctuation + size // 16 + (size - len(text)) // 2)


def count_json(value: Any) -> int:
    """Tokens of a JSON value as the model would see it (compact, keys sorted)."""
    if isinstance(value, str):
        return count_text(value)
    # Sorted keys: the same value written in another key order counts the same.
    return count_text(json.dumps(value, separators=(",", ":"), sort_keys=True))


@dataclass(slots=True)
class Unit:
    """One cacheable piece of a prompt.

    :ivar tokens: its token count
    :ivar material: what identifies it for the cache (role and block, or the tool)
    :ivar ttl: ``"5m"`` or ``"1h"`` when it carries a ``cache_control`` breakpoint
    """

    tokens: int
    material: Any
    ttl: str | None


@dataclass(slots=True)
class Prompt:
    """A measured request: total input tokens and its units in cache-prefix order."""

    total: int
    units: list[Unit]
    has_breakpoint: bool


def measure_prompt(body: dict[str, Any]) -> Prompt:
    """Measure a validated Messages body (tools, then system, then messages)."""
    units: list[Unit] = []
    total = REQUEST_OVERHEAD
    tools = body.get("tools")
    if tools:
        total += TOOLS_PREAMBLE
        units.extend(
            Unit(TOOL_OVERHEAD + count_json(_strip(tool)), ("tool", tool), _ttl(tool))
            for tool in tools
        )
    system = body.get("system")
    if system:
        total += SYSTEM_OVERHEAD
        _add_content(units, "system", system)
    for message in body["messages"]:
        total += MESSAGE_OVERHEAD
        _add_content(units, message["role"], message["content"])
    total += sum(unit.tokens for unit in units)
    has_breakpoint = any(unit.ttl is not None for unit in units)
    top = body.get("cache_control")
    if isinstance(top, dict) and units:
        # Automatic caching: a top-level cache_control marks the last block.
        # After the sum: the marker moves a breakpoint, it adds no tokens.
        units[-1].ttl = _ttl_of(top)
        has_breakpoint = True
    return Prompt(total, units, has_breakpoint)


def _add_content(units: list[Unit], role: str, content: Any) -> None:
    if isinstance(content, str):
        units.append(Unit(count_text(content), (role, content), None))
        return
    units.extend(Unit(count_block(b), (role, _strip(b)), _ttl(b)) for b in content)


def count_block(block: dict[str, Any]) -> int:
    """Tokens of one content block; unknown block types count as their JSON."""
    kind = block.get("type")
    if kind == "text":
        return count_text(block.get("text", ""))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "tool_use":
        return count_text(str(block.get("name", ""))) + count_json(block.get("input", {}))
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return sum(count_block(part) for part in content if isinstance(part, dict))
        return count_json(content)
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    return count_json(_strip(block))


def _strip(block: dict[str, Any]) -> dict[str, Any]:
    """The block without its ``cache_control`` marker (which is not content)."""
    if "cache_control" not in block:
        return block
    return {key: value for key, value in block.items() if key != "cache_control"}


def _ttl(block: dict[str, Any]) -> str | None:
    marker = block.get("cache_control")
    return _ttl_of(marker) if isinstance(marker, dict) else None


def _ttl_of(marker: dict[str, Any]) -> str:
    return "1h" if marker.get("ttl") == "1h" else "5m"
