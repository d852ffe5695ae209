"""Prompt caching and cache-aware ITPM (api doc §1.3)."""

from __future__ import annotations

import json
from typing import Any

from sim_helpers import MODEL, hdrs, make_api, parse

from claudeflow.simulator import SimulatedAPI, count_text

LONG = "Background facts about the simulator and its rate limits. " * 40
EPHEMERAL = {"type": "ephemeral"}


def _body(question: str = "What is a token bucket?", **extra: Any) -> bytes:
    payload = {
        "model": MODEL,
        "max_tokens": 50,
        "system": [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}],
        "messages": [{"role": "user", "content": f"{question} [[output_tokens=5]]"}],
        **extra,
    }
    return json.dumps(payload).encode()


def _usage(api: SimulatedAPI, raw: bytes, key: str = "sk-test") -> dict[str, Any]:
    reply = api.messages(hdrs(key), raw)
    assert reply.status == 200, reply.body
    usage: dict[str, Any] = parse(reply)["usage"]
    return usage


def test_first_sight_writes_and_identical_prefix_reads() -> None:
    api, _ = make_api(cache_min_tokens=0)
    system_tokens = count_text(LONG)
    first = _usage(api, _body())
    assert first["cache_creation_input_tokens"] == system_tokens
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation"] == {
        "ephemeral_5m_input_tokens": system_tokens,
        "ephemeral_1h_input_tokens": 0,
    }
    second = _usage(api, _body("A different question after the same prefix"))
    assert second["cache_read_input_tokens"] == system_tokens
    assert second["cache_creation_input_tokens"] == 0
    # Everything after the breakpoint stays plain input.
    assert second["input_tokens"] > 0
    assert api.stats()["tokens"]["cache_read"] == system_tokens


def test_cache_is_scoped_per_api_key() -> None:
    api, _ = make_api(cache_min_tokens=0)
    _usage(api, _body(), key="sk-a")
    assert _usage(api, _body(), key="sk-b")["cache_read_input_tokens"] == 0


def test_prefix_below_minimum_is_not_cached() -> None:
    api, _ = make_api(cache_min_tokens=10_000)
    _usage(api, _body())
    usage = _usage(api, _body())
    assert usage["cache_read_input_tokens"] == usage["cache_creation_input_tokens"] == 0


def _input_level(api: SimulatedAPI) -> float:
    (levels,) = api.stats()["buckets"].values()
    level: float = levels["input-tokens"]
    return level


def test_itpm_counts_creation_but_not_reads() -> None:
    api, _ = make_api(cache_min_tokens=0, input_tpm=100_000)
    first = _usage(api, _body())
    spent_first = 100_000 - _input_level(api)
    assert spent_first == first["input_tokens"] + first["cache_creation_input_tokens"]
    second = _usage(api, _body())
    spent_second = 100_000 - _input_level(api) - spent_first
    assert spent_second == second["input_tokens"]  # the read is free for ITPM


def test_itpm_counts_reads_when_configured() -> None:
    api, _ = make_api(cache_min_tokens=0, input_tpm=100_000, count_cache_reads=True)
    _usage(api, _body())
    before = _input_level(api)
    second = _usage(api, _body())
    assert before - _input_level(api) == second["input_tokens"] + second["cache_read_input_tokens"]


async def test_entries_expire_after_ttl_in_scaled_minutes_and_hits_refresh() -> None:
    api, clock = make_api(cache_min_tokens=0, minute_seconds=6)  # 5 minutes = 30 s
    _usage(api, _body())
    await clock.advance(29.0)
    assert _usage(api, _body())["cache_read_input_tokens"] > 0  # refreshed until t=59
    await clock.advance(29.5)
    assert _usage(api, _body())["cache_read_input_tokens"] > 0  # t=58.5, until t=88.5
    await clock.advance(30.0)
    expired = _usage(api, _body())
    assert expired["cache_read_input_tokens"] == 0
    assert expired["cache_creation_input_tokens"] == count_text(LONG)


def test_one_hour_ttl_is_reported_separately() -> None:
    api, _ = make_api(cache_min_tokens=0)
    raw = json.loads(_body())
    raw["system"][0]["cache_control"] = {"type": "ephemeral", "ttl": "1h"}
    usage = _usage(api, json.dumps(raw).encode())
    assert usage["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": count_text(LONG),
    }


def test_rejected_request_does_not_write_the_cache() -> None:
    api, _ = make_api(cache_min_tokens=0, rpm=1, minute_seconds=60)
    plain = json.dumps(
        {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    assert api.messages(hdrs(), plain).status == 200
    assert api.messages(hdrs(), _body()).status == 429
    assert api.stats()["cache_entries"] == 0


def test_longest_cached_breakpoint_prefix_is_read() -> None:
    api, _ = make_api(cache_min_tokens=0)
    tool = {"name": "lookup", "description": "Look a thing up", "input_schema": {"type": "object"}}
    cached_tool = {**tool, "cache_control": EPHEMERAL}
    _usage(api, _body(tools=[cached_tool]))  # writes (tools) and (tools + system)
    # A new system prompt: only the tools prefix is still a hit.
    raw = json.loads(_body(tools=[cached_tool]))
    raw["system"][0]["text"] = LONG + " Changed."
    usage = _usage(api, json.dumps(raw).encode())
    tool_tokens = usage["cache_read_input_tokens"]
    assert 0 < tool_tokens < count_text(LONG)
    assert usage["cache_creation_input_tokens"] == count_text(LONG + " Changed.")


def test_top_level_cache_control_marks_the_last_block() -> None:
    api, _ = make_api(cache_min_tokens=0)
    raw = _body(cache_control=EPHEMERAL)
    first = _usage(api, raw)
    second = _usage(api, raw)
    assert first["cache_creation_input_tokens"] > count_text(LONG)  # system + question
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
