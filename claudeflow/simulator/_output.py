"""What the simulated model "says": a deterministic reply length and filler text.

The length is ``N`` when the last user text contains ``[[output_tokens=N]]``; otherwise
it is derived from a CRC of that text and the seed, uniformly in
``[output_tokens_min, output_tokens_max]``. Either way it is clamped to ``max_tokens``,
and clamping makes the stop reason ``max_tokens``. Same prompt + same seed = same reply.

The body shapes the reply as the API's would be shaped:

- ``stop_sequences``: the text ends just before the first stop sequence that appears in
  it (``stop_reason: "stop_sequence"``); the tokens that produced it are still counted.
- ``thinking: {"type": "enabled"}``: a ``thinking`` block (with a ``signature``) comes
  before the text; the model thinks as many tokens as it writes, within
  ``budget_tokens``, and both count as output.
- ``tool_choice`` ``tool`` / ``any``: the only block is a ``tool_use`` of that tool (of
  the first tool for ``any``) whose ``input`` fits its ``input_schema``
  (``stop_reason: "tool_use"``); it costs the tokens of its name and JSON input.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._cache import CachePlan
from ._tokenizer import count_text
from ._tool_input import example_input
from ._validate import forced_tool
from ._wire import dumps

__all__ = ["Block", "Plan", "build_message", "last_user_text", "plan_output", "words"]

_DIRECTIVE = "[[output_tokens="

# One output token = one word of filler text (the usage counts are what matter).
_VOCABULARY = (
    "the quick brown fox jumps over a lazy dog while rate limits refill slowly and "
    "every token bucket keeps its level honest under load so that requests flow steadily"
).split()
_FILLER = tuple(_VOCABULARY[i % len(_VOCABULARY)] for i in range(4096))


@dataclass(frozen=True, slots=True)
class Block:
    """One content block to produce: its kind and the output tokens it costs.

    :ivar cut: a ``text`` block shows only this many characters (a stop sequence)
    :ivar tool: a ``tool_use`` block's ``name`` and ``input``
    """

    kind: str
    tokens: int
    cut: int | None = None
    tool: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Plan:
    """The reply to produce: output tokens in all, why it stops, and its blocks
    (none given: one text block of all ``tokens``, the common case)."""

    tokens: int
    stop_reason: str
    stop_sequence: str | None = None
    blocks: tuple[Block, ...] = ()

    def content_blocks(self) -> tuple[Block, ...]:
        return self.blocks or (Block("text", self.tokens),)


def plan_output(body: dict[str, Any], *, seed: int, low: int, high: int) -> Plan:
    """Decide the reply of a validated Messages body."""
    max_tokens: int = body["max_tokens"]
    # A forced tool call replaces the text reply altogether, so it is decided first.
    if "tool_choice" in body and (tool := forced_tool(body)) is not None:
        return _tool_plan(tool, max_tokens)
    text = last_user_text(body["messages"])
    wanted = _directive(text)
    if wanted is None:
        span = high - low + 1
        # CRC of the prompt, not a random draw: a retried request gets the same reply length.
        wanted = low + (zlib.crc32(text.encode(), seed & 0xFFFFFFFF) % span)
    thinking = body.get("thinking")
    budget = thinking["budget_tokens"] if thinking and thinking["type"] == "enabled" else 0
    if budget or body.get("stop_sequences"):
        return _shaped_plan(wanted, budget, body.get("stop_sequences") or (), max_tokens)
    if wanted > max_tokens:
        return Plan(max_tokens, "max_tokens")
    return Plan(wanted, "end_turn")


def _shaped_plan(wanted: int, budget: int, stops: Iterable[str], max_tokens: int) -> Plan:
    """A reply with thinking before the text and/or the text cut at a stop sequence."""
    thinking = min(budget, wanted)  # budget < max_tokens, so the text gets >= 1 token
    tokens = min(wanted, max_tokens - thinking)
    reason, stop, cut = "max_tokens" if tokens < wanted else "end_turn", None, None
    text = words(0, tokens)
    # The earliest occurrence wins, whichever stop sequence it is, as in the API.
    found = min(((text.find(s), s) for s in stops if s in text), default=None)
    if found is not None:
        cut, stop = found
        reason = "stop_sequence"
        tokens = len(text[: cut + len(stop)].split())  # the tokens that wrote it count
    blocks: tuple[Block, ...] = (Block("text", tokens, cut),)
    if thinking:
        blocks = (Block("thinking", thinking), *blocks)
    return Plan(thinking + tokens, reason, stop, blocks)


def _tool_plan(tool: dict[str, Any], max_tokens: int) -> Plan:
    call = {"name": tool["name"], "input": example_input(tool.get("input_schema"))}
    tokens = count_text(call["name"]) + count_text(dumps(call["input"]).decode())
    if tokens > max_tokens:
        return Plan(max_tokens, "max_tokens", None, (Block("tool_use", max_tokens, tool=call),))
    return Plan(tokens, "tool_use", None, (Block("tool_use", tokens, tool=call),))


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The last text of the last user message ('' when there is none)."""
    for message in reversed(messages):
        if message["role"] != "user":
            continue
        content = message["content"]
        if isinstance(content, str):
            return content
        for block in reversed(content):
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                text: str = block["text"]
                return text
        return ""
    return ""


def _directive(text: str) -> int | None:
    # str.find instead of a regex: this runs on every request.
    start = text.find(_DIRECTIVE)
    if start < 0:
        return None
    start += len(_DIRECTIVE)
    end = text.find("]]", start)
    digits = text[start:end].strip() if end > 0 else ""
    # A directive of 0 still gives one token: an empty reply would have nothing to stream.
    return max(1, int(digits)) if digits.isdigit() else None


def words(start: int, stop: int) -> str:
    """Filler text for output tokens ``start..stop`` (a leading space unless first)."""
    if stop <= start:
        return ""
    if stop <= len(_FILLER):
        chunk = " ".join(_FILLER[start:stop])
    else:
        chunk = " ".join(_FILLER[i % len(_FILLER)] for i in range(start, stop))
    return chunk if start == 0 else " " + chunk


def build_message(
    message_id: str, model: str, plan: CachePlan, output: Plan, tier: str
) -> dict[str, Any]:
    """The final Message object, with the usage the cache plan and output dictate."""
    one_hour = plan.creation_ttl == "1h"
    usage = {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": plan.cache_creation,
        "cache_read_input_tokens": plan.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": 0 if one_hour else plan.cache_creation,
            "ephemeral_1h_input_tokens": plan.cache_creation if one_hour else 0,
        },
        "output_tokens": output.tokens,
        "service_tier": tier,
        # Limits are shared across geos (api doc §1.1), so one value suffices.
        "inference_geo": "global",
    }
    content = [_block_json(block, message_id) for block in output.content_blocks()]
    return {
        "model": model,
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": output.stop_reason,
        "stop_sequence": output.stop_sequence,
        "stop_details": None,
        "usage": usage,
    }


def _block_json(block: Block, message_id: str) -> dict[str, Any]:
    if block.kind == "tool_use":
        # Derived from the message id: unique without another counter.
        tool_id = "toolu_" + message_id.partition("_")[2]
        return {"type": "tool_use", "id": tool_id, **(block.tool or {})}
    text = words(0, block.tokens)
    if block.kind == "thinking":
        digest = hashlib.sha256(f"{message_id}/{text}".encode()).digest()
        # Deterministic and opaque: clients only pass a signature back, they never read it.
        signature = base64.b64encode(digest * 3).decode()
        return {"type": "thinking", "thinking": text, "signature": signature}
    return {"type": "text", "text": text if block.cut is None else text[: block.cut]}
