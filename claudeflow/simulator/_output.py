"""What the simulated model "says": a deterministic reply length and filler text.

The length is ``N`` when the last user text contains ``[[output_tokens=N]]``; otherwise
it is derived from a CRC of that text and the seed, uniformly in
``[output_tokens_min, output_tokens_max]``. Either way it is clamped to ``max_tokens``,
and clamping makes the stop reason ``max_tokens``. Same prompt + same seed = same reply.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from ._cache import CachePlan

__all__ = ["Plan", "build_message", "last_user_text", "plan_output", "words"]

_DIRECTIVE = "[[output_tokens="

# One output token = one word of filler text (the usage counts are what matter).
_VOCABULARY = (
    "the quick brown fox jumps over a lazy dog while rate limits refill slowly and "
    "every token bucket keeps its level honest under load so that requests flow steadily"
).split()
_FILLER = tuple(_VOCABULARY[i % len(_VOCABULARY)] for i in range(4096))


@dataclass(frozen=True, slots=True)
class Plan:
    """The reply to produce: how many tokens and why it stops."""

    tokens: int
    stop_reason: str


def plan_output(body: dict[str, Any], *, seed: int, low: int, high: int) -> Plan:
    """Decide the reply length of a validated Messages body."""
    max_tokens: int = body["max_tokens"]
    text = last_user_text(body["messages"])
    wanted = _directive(text)
    if wanted is None:
        span = high - low + 1
        wanted = low + (zlib.crc32(text.encode(), seed & 0xFFFFFFFF) % span)
    if wanted > max_tokens:
        return Plan(max_tokens, "max_tokens")
    return Plan(wanted, "end_turn")


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
        "inference_geo": "global",
    }
    content = [{"type": "text", "text": words(0, output.tokens)}] if output.tokens else []
    return {
        "model": model,
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": output.stop_reason,
        "stop_sequence": None,
        "stop_details": None,
        "usage": usage,
    }
