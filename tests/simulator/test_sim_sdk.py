"""Fidelity: the official ``anthropic`` SDK against the simulator sees what it would
see against the real API (parsed models, streams, batches, typed errors, retries)."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

from claudeflow.simulator import FaultConfig
from claudeflow.testing._simulator import simulator

pytestmark = pytest.mark.integration

MODEL = "claude-sonnet-4-6"
HI: list[anthropic.types.MessageParam] = [
    {"role": "user", "content": "Say hello [[output_tokens=12]]"}
]


def _client(url: str, retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="sk-test", max_retries=retries)


async def test_create_returns_a_parsed_message_with_usage() -> None:
    async with simulator(input_tpm=30_000, output_tpm=8_000) as sim:
        async with _client(sim.url) as client:
            raw = await client.messages.with_raw_response.create(
                model=MODEL, max_tokens=100, messages=HI
            )
            message = await raw.parse()
    assert isinstance(message, anthropic.types.Message)
    assert message.model == MODEL and message.role == "assistant"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 12
    assert message.usage.input_tokens > 0
    assert message.usage.cache_read_input_tokens == 0
    assert message.usage.service_tier == "standard"
    assert message._request_id == raw.headers["request-id"]
    assert raw.headers["anthropic-ratelimit-input-tokens-limit"] == "30000"
    assert raw.retries_taken == 0


async def test_stream_yields_events_and_a_final_message() -> None:
    async with simulator(stream_chunk_tokens=5) as sim, _client(sim.url) as client:
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds and "message_delta" in kinds
    assert final.usage.output_tokens == 12
    assert final.stop_reason == "end_turn"
    assert len(final.content[0].text.split()) == 12  # type: ignore[union-attr]


async def test_count_tokens() -> None:
    async with simulator() as sim, _client(sim.url) as client:
        counted = await client.messages.count_tokens(model=MODEL, messages=HI)
        message = await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
    assert counted.input_tokens == message.usage.input_tokens


async def test_batches_end_to_end() -> None:
    requests = [
        {"custom_id": f"r{i}", "params": {"model": MODEL, "max_tokens": 20, "messages": HI}}
        for i in range(3)
    ]
    async with simulator() as sim, _client(sim.url) as client:
        batch = await client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert batch.processing_status == "in_progress"
        assert batch.request_counts.processing == 3
        for _ in range(1000):  # bounded at 10 s; batches end in well under one
            batch = await client.messages.batches.retrieve(batch.id)
            if batch.processing_status == "ended":
                break
            await asyncio.sleep(0.01)
        assert batch.request_counts.succeeded == 3
        results = [item async for item in await client.messages.batches.results(batch.id)]
        listed = await client.messages.batches.list(limit=10)
    assert sorted(item.custom_id for item in results) == ["r0", "r1", "r2"]
    assert all(item.result.type == "succeeded" for item in results)
    assert results[0].result.message.usage.service_tier == "batch"  # type: ignore[union-attr]
    assert [b.id for b in listed.data] == [batch.id]


async def test_429_raises_rate_limit_error_with_headers() -> None:
    async with simulator(rpm=1, minute_seconds=30) as sim, _client(sim.url) as client:
        await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
        with pytest.raises(anthropic.RateLimitError) as info:
            await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
    error = info.value
    assert error.status_code == 429
    assert int(error.response.headers["retry-after"]) == 30
    assert error.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert error.response.headers["x-should-retry"] == "true"
    assert error.type == "rate_limit_error"
    assert "1 requests per minute" in error.message
    assert error.request_id == error.response.headers["request-id"]


async def test_sdk_retries_succeed_after_retry_after() -> None:
    # rpm=1 per 0.5 s: the second request needs ~0.5 s, retry-after says 1.
    async with simulator(rpm=1, minute_seconds=0.5) as sim, _client(sim.url, retries=2) as client:
        await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
        raw = await client.messages.with_raw_response.create(
            model=MODEL, max_tokens=20, messages=HI
        )
        message = await raw.parse()
        stats = sim.stats()
    assert raw.retries_taken == 1
    assert message.usage.output_tokens == 12
    assert stats["by_status"] == {"200": 2, "429": 1}


async def test_529_raises_overloaded_error() -> None:
    async with simulator(faults=FaultConfig(error_529=1.0)) as sim, _client(sim.url) as client:
        with pytest.raises(anthropic.OverloadedError) as info:
            await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
    assert info.value.status_code == 529
    assert isinstance(info.value, anthropic.InternalServerError)


async def test_400_raises_bad_request_with_the_api_message() -> None:
    async with simulator() as sim, _client(sim.url) as client:
        with pytest.raises(anthropic.BadRequestError) as info:
            # SDK 2.x sends anthropic-version 2026-10-21, which removed temperature.
            await client.messages.create(
                model=MODEL, max_tokens=20, messages=HI, extra_body={"temperature": 0.5}
            )
    assert info.value.body["error"]["message"] == "temperature: Extra inputs are not permitted"  # type: ignore[index]
    assert info.value.type == "invalid_request_error"


async def test_spend_cap_and_ramp_limit_map_to_their_sdk_classes() -> None:
    async with simulator(faults=FaultConfig(spend_cap_after=0)) as sim:
        async with _client(sim.url, retries=2) as client:
            with pytest.raises(anthropic.EnforcedSpendLimitReachedError):
                await client.messages.create(model=MODEL, max_tokens=20, messages=HI)
        assert sim.stats()["received"] == 1  # x-should-retry: false stopped the SDK retrying
    async with simulator(faults=FaultConfig(ramp_429=1.0)) as sim, _client(sim.url) as client:
        with pytest.raises(anthropic.RampLimitExceededError):
            await client.messages.create(model=MODEL, max_tokens=20, messages=HI)


async def test_mid_stream_error_event_raises_with_status_200() -> None:
    async with simulator(faults=FaultConfig(stream_error=1.0)) as sim, _client(sim.url) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            async with client.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream:
                async for _ in stream:
                    pass
    assert info.value.status_code == 200
    assert info.value.type == "overloaded_error"


WEATHER: anthropic.types.ToolParam = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city", "days"],
    },
}


async def test_a_forced_tool_call_parses_in_json_and_stream() -> None:
    async with simulator(stream_chunk_tokens=2) as sim, _client(sim.url) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=100,
            messages=HI,
            tools=[WEATHER],
            tool_choice={"type": "tool", "name": "get_weather"},
        )
        async with client.messages.stream(
            model=MODEL, max_tokens=100, messages=HI, tools=[WEATHER], tool_choice={"type": "any"}
        ) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
    for reply in (message, final):
        (block,) = reply.content
        assert isinstance(block, anthropic.types.ToolUseBlock)
        assert block.name == "get_weather" and block.id.startswith("toolu_")
        assert block.input == {"city": "example", "days": 1}
        assert reply.stop_reason == "tool_use"
    assert "input_json" in kinds  # the SDK's own event for input_json_delta


async def test_thinking_parses_in_json_and_stream() -> None:
    thinking: anthropic.types.ThinkingConfigParam = {"type": "enabled", "budget_tokens": 1024}
    async with simulator(stream_chunk_tokens=3) as sim, _client(sim.url) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=2000, messages=HI, thinking=thinking
        )
        async with client.messages.stream(
            model=MODEL, max_tokens=2000, messages=HI, thinking=thinking
        ) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
    for reply in (message, final):
        first, second = reply.content
        assert isinstance(first, anthropic.types.ThinkingBlock) and first.signature
        assert isinstance(second, anthropic.types.TextBlock)
        assert len(first.thinking.split()) == len(second.text.split()) == 12
        assert reply.usage.output_tokens == 24
    assert "thinking" in kinds and "signature" in kinds


async def test_stop_sequences_parse_in_json_and_stream() -> None:
    async with simulator() as sim, _client(sim.url) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=100, messages=HI, stop_sequences=["brown"]
        )
        async with client.messages.stream(
            model=MODEL, max_tokens=100, messages=HI, stop_sequences=["brown"]
        ) as stream:
            final = await stream.get_final_message()
    for reply in (message, final):
        assert reply.stop_reason == "stop_sequence" and reply.stop_sequence == "brown"
        assert reply.content[0].text == "the quick "  # type: ignore[union-attr]
        assert reply.usage.output_tokens == 3


async def test_streams_carry_pings_the_sdk_skips() -> None:
    async with simulator() as sim, _client(sim.url) as client:
        raw = await client.messages.with_raw_response.create(
            model=MODEL, max_tokens=100, messages=HI, stream=True
        )
        wire = [line async for line in raw.http_response.aiter_lines()]
    assert "event: ping" in wire[:8]  # the ping is on the wire near the start...
    async with simulator() as sim, _client(sim.url) as client:
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
            kinds = [event.type async for event in stream]
    assert "ping" not in kinds  # ...and the SDK skips it, as it does the API's
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"


async def test_both_api_versions_with_the_sdk() -> None:
    async with simulator() as sim:
        for version in ("2023-06-01", "2026-10-21"):
            headers = {"anthropic-version": version}
            async with anthropic.AsyncAnthropic(
                base_url=sim.url, api_key="sk-test", max_retries=0, default_headers=headers
            ) as client:
                message = await client.messages.create(model=MODEL, max_tokens=50, messages=HI)
                assert message.usage.output_tokens == 12
                sampled = client.messages.create(
                    model=MODEL, max_tokens=50, messages=HI, extra_body={"top_k": 5}
                )
                if version == "2023-06-01":
                    assert (await sampled).stop_reason == "end_turn"
                else:
                    with pytest.raises(anthropic.BadRequestError):
                        await sampled
