"""The official ``anthropic`` SDK pointed at the gateway works unchanged, and gets what
it would get from the API directly (here: the simulator)."""

from __future__ import annotations

import anthropic
import pytest
from gw_helpers import HI, KEYS, MODEL, UPSTREAM_KEY, stack

pytestmark = pytest.mark.integration


def _client(url: str, key: str = KEYS["alpha"]) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0)


async def test_create_matches_a_direct_call() -> None:
    async with stack() as s, _client(s.url) as via, _client(s.sim.url, UPSTREAM_KEY) as direct:
        raw = await via.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=HI)
        through = await raw.parse()
        straight = await direct.messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert isinstance(through, anthropic.types.Message)
    assert through.model == straight.model == MODEL
    assert through.usage.input_tokens == straight.usage.input_tokens
    assert through.usage.output_tokens == straight.usage.output_tokens == 12
    assert through.stop_reason == straight.stop_reason == "end_turn"
    assert len(through.content[0].text.split()) == 12  # type: ignore[union-attr]
    assert raw.headers["request-id"].startswith("req_gw_")


async def test_alias_resolves_to_the_real_model() -> None:
    async with stack() as s, _client(s.url) as client:
        message = await client.messages.create(model="fast", max_tokens=64, messages=HI)
    assert message.model == MODEL


async def test_stream_gives_the_api_events_and_final_message() -> None:
    async with stack() as s, _client(s.url) as via, _client(s.sim.url, UPSTREAM_KEY) as direct:
        async with via.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_message()
        async with direct.messages.stream(model=MODEL, max_tokens=64, messages=HI) as stream:
            direct_kinds = [event.type async for event in stream]
            direct_final = await stream.get_final_message()
    assert kinds == direct_kinds
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.usage.output_tokens == direct_final.usage.output_tokens == 12
    assert final.usage.input_tokens == direct_final.usage.input_tokens
    assert final.stop_reason == "end_turn"


async def test_raw_stream_has_sse_headers_and_a_ping() -> None:
    async with stack() as s, _client(s.url) as client:
        async with client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=64, messages=HI, stream=True
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["request-id"].startswith("req_gw_")
            lines = [line async for line in response.iter_lines()]
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert events[:2] == ["message_start", "ping"]
    assert events[-1] == "message_stop"


async def test_count_tokens_matches_a_direct_call() -> None:
    async with stack() as s, _client(s.url) as via, _client(s.sim.url, UPSTREAM_KEY) as direct:
        through = await via.messages.count_tokens(model="fast", messages=HI)
        straight = await direct.messages.count_tokens(model=MODEL, messages=HI)
    assert through.input_tokens == straight.input_tokens > 0


async def test_models_lists_aliases_and_models() -> None:
    async with stack() as s, _client(s.url) as client:
        page = await client.models.list()
    ids = [model.id for model in page.data]
    assert ids == ["fast", "claude-sonnet-4-6", MODEL]


async def test_models_retrieve_and_404() -> None:
    async with stack() as s, _client(s.url) as client:
        model = await client.models.retrieve("fast")
        with pytest.raises(anthropic.NotFoundError):
            await client.models.retrieve("claude-nope")
    assert model.id == "fast" and model.type == "model"


async def test_unknown_key_gets_the_api_401() -> None:
    async with stack() as s, _client(s.url, "gw-nobody") as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


async def test_bad_request_gets_a_400_naming_the_field() -> None:
    async with stack() as s, _client(s.url) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(model=MODEL, max_tokens=64, messages=[])
    assert "messages" in str(caught.value)
