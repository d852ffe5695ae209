"""The response cache inside a Flow, in virtual time behind a MockTransport."""

from __future__ import annotations

import json

import pytest
from cache_helpers import API_KEY, answer, body, mock_flow

from claudeflow import BadRequestError, ConfigError, Cost, Flow, RateLimits
from claudeflow.cache import ResponseCache
from claudeflow.testing import FakeClock
from claudeflow.transport import ApiResponse, MockRequest


async def test_a_repeat_is_served_from_the_cache_without_a_call(clock: FakeClock) -> None:
    flow, transport = mock_flow(clock, answer, cache=ResponseCache(ttl_s=300))
    async with flow:
        first = await flow.create(**body("same"))
        again = await flow.create(**body("same"), metadata={"user_id": "someone-else"})
        other = await flow.create(**body("different"))
        stats = flow.stats()
    assert len(transport.requests) == 2
    assert not first.cache_hit and again.cache_hit and not other.cache_hit
    assert again.text == first.text == "echo same"
    assert again.usage == first.usage  # what the answer is made of
    assert again.cost_usd == 0.0 and first.cost_usd is not None and first.cost_usd > 0
    assert again.attempts == 0 and again.reserved == Cost(0, 0, 0)
    assert stats.cache is not None
    assert (stats.cache.hits, stats.cache.misses, stats.cache.stores) == (1, 2, 2)
    assert stats.cache.saved_input_tokens == 1_000 and stats.cache.saved_output_tokens == 5
    assert stats.cache.saved_usd == pytest.approx(first.cost_usd)
    assert stats.completed == 2  # the hit never reached the scheduler


async def test_the_ttl_holds_through_the_flow_in_virtual_time(clock: FakeClock) -> None:
    flow, transport = mock_flow(clock, answer, cache=ResponseCache(ttl_s=60))
    async with flow:
        await flow.create(**body("q"))
        await clock.advance(59.5)
        assert (await flow.create(**body("q"))).cache_hit
        await clock.advance(0.5)  # 60 s after it was stored: expired, asked again
        assert not (await flow.create(**body("q"))).cache_hit
    assert len(transport.requests) == 2


async def test_errors_are_never_cached(clock: FakeClock) -> None:
    def refuse(request: MockRequest) -> ApiResponse:
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}
        return ApiResponse(400, {}, json.dumps(error).encode())

    flow, transport = mock_flow(clock, refuse, cache=ResponseCache(ttl_s=60))
    async with flow:
        for _ in range(2):
            with pytest.raises(BadRequestError):
                await flow.create(**body("bad"))
        stats = flow.stats()
    assert len(transport.requests) == 2
    assert stats.cache is not None and stats.cache.stores == 0 and stats.cache.hits == 0


async def test_a_hit_takes_no_rate_limit_capacity(clock: FakeClock) -> None:
    # One request per minute: a second call would wait 60 s; a hit is answered at once.
    flow, transport = mock_flow(
        clock, answer, cache=ResponseCache(ttl_s=600), limits=RateLimits(rpm=1)
    )
    async with flow:
        await flow.create(**body("q"))
        level = flow.stats().buckets["requests"].level
        hits = [await flow.create(**body("q")) for _ in range(5)]
        assert flow.stats().buckets["requests"].level == level
    assert all(h.cache_hit for h in hits) and clock.now() == 0.0
    assert len(transport.requests) == 1


async def test_a_stream_is_replayed_from_the_cache_with_the_same_events(clock: FakeClock) -> None:
    flow, transport = mock_flow(clock, answer, cache=ResponseCache(ttl_s=60))
    async with flow:
        first = await flow.create(**body("s"))
        async with flow.stream(**body("s")) as stream:
            kinds = [event.type async for event in stream]
            result = await stream.result()
        async with flow.stream(**body("s")) as stream:
            texts = [t async for t in stream.text_stream]
    assert len(transport.requests) == 1
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "text",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert result.cache_hit and result.message.to_dict() == first.message.to_dict()
    assert texts == ["echo s"]


async def test_a_streamed_answer_fills_the_cache_for_create(clock: FakeClock) -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {
            "id": "msg_s", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "streamed"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    sse = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)

    def handler(request: MockRequest) -> ApiResponse:
        assert request.json["stream"] is True
        return ApiResponse(200, {"content-type": "text/event-stream"}, sse.encode())

    flow, transport = mock_flow(clock, handler, cache=ResponseCache(ttl_s=60))
    async with flow:
        async with flow.stream(**body("s")) as stream:
            streamed = await stream.result()
        cached = await flow.create(**body("s"))
    assert len(transport.requests) == 1
    assert not streamed.cache_hit and cached.cache_hit and cached.text == "streamed"
    assert cached.usage.output_tokens == 2


def test_bad_cache_arguments_name_the_argument() -> None:
    with pytest.raises(ConfigError) as caught:
        Flow(api_key=API_KEY, cache={"ttl_s": 60})  # type: ignore[arg-type]
    assert caught.value.argument == "cache"
    with pytest.raises(ConfigError) as caught:
        Flow(api_key=API_KEY, coalesce="auto")  # type: ignore[arg-type]
    assert caught.value.argument == "coalesce"


async def test_stats_report_the_share_of_prompt_served_by_the_prompt_cache(
    clock: FakeClock,
) -> None:
    def cached_prompt(request: MockRequest) -> ApiResponse:
        usage = {
            "input_tokens": 100,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 900,
            "output_tokens": 5,
        }
        message = {"id": "m", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                   "content": [], "stop_reason": "end_turn", "usage": usage}  # fmt: skip
        return ApiResponse(200, {}, json.dumps(message).encode())

    flow, _ = mock_flow(clock, cached_prompt)
    async with flow:
        assert flow.stats().prompt_cache_read_share == 0.0  # nothing sent yet
        await flow.create(**body("with cache_control"))
        stats = flow.stats()
    assert stats.prompt_cache_read_share == pytest.approx(0.9)
    assert stats.as_dict()["prompt_cache_read_share"] == pytest.approx(0.9)


async def test_the_key_a_user_computes_is_the_one_the_flow_used(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60)
    flow, transport = mock_flow(clock, answer, cache=cache)
    async with flow:
        await flow.create(**body("q"))
        await flow.create(**body("q"), extra_headers={"anthropic-beta": "some-beta"})
        assert await cache.invalidate(ResponseCache.key(body("q"))) is True
        beta_key = ResponseCache.key(body("q"), anthropic_beta="some-beta")
        assert await cache.invalidate(beta_key) is True
        assert not (await flow.create(**body("q"))).cache_hit
    assert len(transport.requests) == 3
