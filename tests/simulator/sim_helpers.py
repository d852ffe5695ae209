"""Shared helpers for the simulator tests (virtual time, requests, an SSE parser)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from claudeflow.simulator import Reply, SimulatedAPI, SimulatorConfig
from claudeflow.testing import FakeClock

__all__ = ["MODEL", "OFFSET", "body", "hdrs", "iso", "make_api", "parse", "parse_sse"]

# Unix time the virtual clock's zero is shown as: 2027-01-15T08:00:00Z.
OFFSET = 1_800_000_000.0
MODEL = "claude-sonnet-4-5"


def make_api(**config: Any) -> tuple[SimulatedAPI, FakeClock]:
    """A core on a fake clock at t=0, zero latency unless asked for."""
    config.setdefault("ttft_s", 0.0)
    config.setdefault("per_token_s", 0.0)
    clock = FakeClock()
    return SimulatedAPI(SimulatorConfig(**config), clock, wall_offset=OFFSET), clock


def hdrs(key: str | None = "sk-test", version: str | None = "2023-06-01") -> dict[str, str]:
    out = {}
    if key is not None:
        out["x-api-key"] = key
    if version is not None:
        out["anthropic-version"] = version
    return out


def body(
    text: str = "Hello there",
    *,
    out: int | None = 10,
    max_tokens: int = 100,
    model: str = MODEL,
    **extra: Any,
) -> bytes:
    """A Messages body; ``out`` requests an exact output length by directive."""
    if out is not None:
        text = f"{text} [[output_tokens={out}]]"
    payload = {
        "model": model,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }
    return json.dumps(payload).encode()


def parse(reply: Reply) -> Any:
    return json.loads(reply.body)


def iso(seconds_after_zero: float) -> str:
    """The RFC 3339 form of virtual time ``seconds_after_zero`` (whole seconds)."""
    stamp = datetime.fromtimestamp(OFFSET + seconds_after_zero, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """A tiny independent SSE parser: frames split on blank lines, ``event:``/``data:``."""
    events = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        name, data = None, []
        for line in frame.split("\n"):
            field, _, value = line.partition(":")
            if field == "event":
                name = value.strip()
            elif field == "data":
                data.append(value.strip())
        assert name is not None, f"frame without event: {frame!r}"
        events.append((name, json.loads("\n".join(data))))
    return events
