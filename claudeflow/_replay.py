"""A complete Message as the stream of events the API would have sent (api doc §5).

Shared by the response cache (a hit replayed to a streaming caller) and the mock
transport (a whole answer served to ``send(..., stream=True)``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["replay_events"]


def replay_events(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``message_start``, each content block as start/delta/stop, ``message_delta``, stop.

    Feeding these to a stream accumulator rebuilds ``message`` exactly.
    """
    usage = dict(message.get("usage") or {})
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    # As the API's message_start: at most one output token counted yet; the rest in message_delta.
    start["usage"] = {**usage, "output_tokens": min(1, int(usage.get("output_tokens", 0)))}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message.get("content") or []):
        events.extend(_block_events(index, block))
    delta = {
        "stop_reason": message.get("stop_reason"),
        "stop_sequence": message.get("stop_sequence"),
    }
    events.append({"type": "message_delta", "delta": delta, "usage": usage})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        head = {**block, "text": ""}
        deltas.append({"type": "text_delta", "text": block.get("text", "")})
    elif kind in ("tool_use", "server_tool_use"):
        # The input streams as JSON text, as the API sends it; accumulators parse it at block stop.
        head = {**block, "input": {}}
        deltas.append(
            {"type": "input_json_delta", "partial_json": json.dumps(block.get("input", {}))}
        )
    elif kind == "thinking":
        head = {**block, "thinking": "", "signature": ""}
        deltas.append({"type": "thinking_delta", "thinking": block.get("thinking", "")})
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
    else:  # redacted thinking, tool results...: sent whole in content_block_start
        head = dict(block)
    return [
        {"type": "content_block_start", "index": index, "content_block": head},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]
