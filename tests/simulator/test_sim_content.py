"""What the reply says: stop sequences, forced tool calls, thinking blocks, pings
(JSON and streams, read back with an independent SSE parser)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
import pytest
from sim_helpers import body, hdrs, make_api, parse, parse_sse

from claudeflow.simulator import Reply, SimulatedAPI

WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "minLength": 2},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "when": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "where": {
                "type": "object",
                "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                "required": ["lat", "lon"],
            },
            "optional": {"type": "boolean"},
        },
        "required": ["city", "unit", "days", "when", "tags", "where"],
    },
}
CLOCK = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
THINK = {"type": "enabled", "budget_tokens": 1024}


async def _events(api: SimulatedAPI, reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    assert reply.status == 200 and reply.chunks is not None, reply.body
    return parse_sse(b"".join([piece async for piece in api.stream(reply)]))


def _text_of(events: list[tuple[str, dict[str, Any]]], kind: str, key: str) -> str:
    return "".join(
        data["delta"][key]
        for name, data in events
        if name == "content_block_delta" and data["delta"]["type"] == kind
    )


def _final(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    (delta,) = [data for name, data in events if name == "message_delta"]
    return delta


# -- stop sequences -------------------------------------------------------------------


def test_text_stops_before_the_first_stop_sequence() -> None:
    api, _ = make_api()
    # The filler text reads "the quick brown fox jumps over a lazy dog ...".
    message = parse(api.messages(hdrs(), body(out=30, stop_sequences=["lazy", "fox"])))
    assert message["content"] == [{"type": "text", "text": "the quick brown "}]
    assert message["stop_reason"] == "stop_sequence"
    assert message["stop_sequence"] == "fox"
    assert message["usage"]["output_tokens"] == 4  # the tokens that wrote "fox" count


def test_a_stop_sequence_that_never_appears_changes_nothing() -> None:
    api, _ = make_api()
    message = parse(api.messages(hdrs(), body(out=6, stop_sequences=["zebra"])))
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    assert message["usage"]["output_tokens"] == 6
    beyond = parse(api.messages(hdrs(), body(out=20, max_tokens=3, stop_sequences=["fox"])))
    assert beyond["stop_reason"] == "max_tokens"  # "fox" would be token 4
    assert beyond["content"][0]["text"] == "the quick brown"


async def test_a_stream_stops_at_the_stop_sequence() -> None:
    api, _ = make_api(stream_chunk_tokens=3)
    reply = api.messages(hdrs(), body(out=30, stop_sequences=["s over"], stream=True))
    events = await _events(api, reply)
    assert _text_of(events, "text_delta", "text") == "the quick brown fox jump"
    final = _final(events)
    assert final["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "s over"}
    assert final["usage"]["output_tokens"] == 6
    assert api.stats()["tokens"]["output"] == 6


# -- forced tool use ------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice", [{"type": "tool", "name": "get_weather"}, {"type": "any"}], ids=["tool", "any"]
)
def test_a_forced_tool_choice_returns_a_tool_use_block(choice: dict[str, Any]) -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), body(tools=[WEATHER, CLOCK], tool_choice=choice))
    message = parse(reply)
    (block,) = message["content"]
    assert block["type"] == "tool_use" and block["name"] == "get_weather"
    assert block["id"].startswith("toolu_")
    jsonschema.validate(block["input"], WEATHER["input_schema"])
    assert "optional" not in block["input"]  # only what is required
    assert message["stop_reason"] == "tool_use" and message["stop_sequence"] is None
    assert message["usage"]["output_tokens"] > 10


def test_auto_tool_choice_still_answers_in_text() -> None:
    api, _ = make_api()
    message = parse(api.messages(hdrs(), body(out=5, tools=[WEATHER])))
    assert [block["type"] for block in message["content"]] == ["text"]
    assert message["stop_reason"] == "end_turn"


def test_a_schema_without_properties_gives_an_empty_input() -> None:
    api, _ = make_api()
    choice = {"type": "tool", "name": "get_time"}
    (block,) = parse(api.messages(hdrs(), body(tools=[CLOCK], tool_choice=choice)))["content"]
    assert block["input"] == {}


async def test_a_streamed_tool_call_sends_input_json_deltas() -> None:
    api, _ = make_api(stream_chunk_tokens=4)
    choice = {"type": "tool", "name": "get_weather"}
    reply = api.messages(hdrs(), body(tools=[WEATHER], tool_choice=choice, stream=True))
    events = await _events(api, reply)
    (start,) = [data for name, data in events if name == "content_block_start"]
    block = start["content_block"]
    assert block["type"] == "tool_use" and block["input"] == {}
    assert block["id"].startswith("toolu_") and block["name"] == "get_weather"
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert {delta["type"] for delta in deltas} == {"input_json_delta"}
    assert deltas[0]["partial_json"] == "" and len(deltas) > 2
    arguments = json.loads("".join(delta["partial_json"] for delta in deltas))
    jsonschema.validate(arguments, WEATHER["input_schema"])
    final = _final(events)
    assert final["delta"]["stop_reason"] == "tool_use"
    assert api.stats()["tokens"]["output"] == final["usage"]["output_tokens"]


# -- thinking -------------------------------------------------------------------------


def test_thinking_comes_first_with_a_signature() -> None:
    api, _ = make_api()
    message = parse(api.messages(hdrs(), body(out=8, max_tokens=2000, thinking=THINK)))
    thinking, text = message["content"]
    assert thinking["type"] == "thinking" and len(thinking["thinking"].split()) == 8
    assert isinstance(thinking["signature"], str) and len(thinking["signature"]) > 40
    assert text["type"] == "text" and len(text["text"].split()) == 8
    assert message["usage"]["output_tokens"] == 16  # thinking is billed as output
    assert message["stop_reason"] == "end_turn"


def test_thinking_stays_within_its_budget_and_max_tokens() -> None:
    api, _ = make_api()
    think = {"type": "enabled", "budget_tokens": 1500}
    message = parse(api.messages(hdrs(), body(out=2000, max_tokens=1600, thinking=think)))
    thinking, text = message["content"]
    assert len(thinking["thinking"].split()) == 1500
    assert len(text["text"].split()) == 100
    assert message["usage"]["output_tokens"] == 1600
    assert message["stop_reason"] == "max_tokens"


def test_disabled_thinking_adds_nothing() -> None:
    api, _ = make_api()
    message = parse(api.messages(hdrs(), body(out=3, thinking={"type": "disabled"})))
    assert [block["type"] for block in message["content"]] == ["text"]


async def test_a_streamed_thinking_block_sends_thinking_then_signature() -> None:
    api, _ = make_api(stream_chunk_tokens=3)
    reply = api.messages(hdrs(), body(out=7, max_tokens=2000, thinking=THINK, stream=True))
    events = await _events(api, reply)
    starts = [data for name, data in events if name == "content_block_start"]
    assert [s["content_block"] for s in starts] == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
    ]
    assert [s["index"] for s in starts] == [0, 1]
    kinds = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert kinds == ["thinking_delta"] * 3 + ["signature_delta"] + ["text_delta"] * 3
    assert len(_text_of(events, "thinking_delta", "thinking").split()) == 7
    names = [name for name, _ in events]
    signature_at = names.index("content_block_stop") - 1
    assert events[signature_at][1]["delta"]["type"] == "signature_delta"  # just before stop
    assert _final(events)["usage"]["output_tokens"] == 14


# -- pings ----------------------------------------------------------------------------


async def test_a_ping_follows_the_first_block_start() -> None:
    api, _ = make_api()
    names = [name for name, _ in await _events(api, api.messages(hdrs(), body(stream=True)))]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("ping") == 1


async def test_a_long_stream_is_kept_alive_by_pings() -> None:
    # 1 s per token, 4 tokens per delta: 4 s between deltas, more than the 3 s interval.
    api, clock = make_api(ttft_s=1.0, per_token_s=1.0, stream_chunk_tokens=4, ping_interval_s=3.0)
    reply = api.messages(hdrs(), body(out=12, stream=True))
    arrivals: list[tuple[float, str]] = []

    async def consume() -> None:
        async for piece in api.stream(reply):
            arrivals.extend((clock.now(), name) for name, _ in parse_sse(piece))

    task = asyncio.create_task(consume())
    await clock.run_until_idle()
    await task
    pings = [when for when, name in arrivals if name == "ping"]
    assert pings == [1.0, 4.0, 8.0]  # after the first block start, then 3 s into each silence
    deltas = [when for when, name in arrivals if name == "content_block_delta"]
    assert deltas == [1.0, 5.0, 9.0]  # the timing of the tokens is unchanged
    assert arrivals[-1] == (9.0, "message_stop")
