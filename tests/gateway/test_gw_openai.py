"""The official ``openai`` SDK pointed at the gateway works unchanged."""

from __future__ import annotations

import anthropic
import openai
import pytest
from gw_helpers import HI, KEYS, MODEL, UPSTREAM_KEY, stack

pytestmark = pytest.mark.integration

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello [[output_tokens=12]]"},
]


def _client(url: str, key: str = KEYS["alpha"]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


async def test_create_matches_a_direct_anthropic_call() -> None:
    direct_body = {"system": "You are terse.", "messages": HI}
    async with stack() as s, _client(s.url) as client:
        completion = await client.chat.completions.create(
            model=MODEL, messages=CHAT, max_completion_tokens=64, temperature=0.5, stop=["zzz"]
        )
        async with anthropic.AsyncAnthropic(base_url=s.sim.url, api_key=UPSTREAM_KEY) as direct:
            message = await direct.messages.create(model=MODEL, max_tokens=64, **direct_body)
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content is not None and len(choice.message.content.split()) == 12
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == message.usage.input_tokens
    assert completion.usage.completion_tokens == 12
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 12


async def test_max_tokens_maps_to_finish_reason_length() -> None:
    messages = [{"role": "user", "content": "Talk [[output_tokens=50]]"}]
    async with stack() as s, _client(s.url) as client:
        completion = await client.chat.completions.create(
            model="fast", messages=messages, max_tokens=5
        )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    assert completion.model == MODEL


async def test_stream_ends_with_usage_and_done() -> None:
    async with stack() as s, _client(s.url) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=CHAT,
            max_tokens=64,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 12
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 12


async def test_raw_stream_ends_with_done() -> None:
    async with stack() as s, _client(s.url) as client:
        async with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=CHAT, max_tokens=64, stream=True
        ) as response:
            lines = [line async for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


async def test_tools_are_accepted_upstream() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny [[output_tokens=3]]"},
    ]
    async with stack() as s, _client(s.url) as client:
        completion = await client.chat.completions.create(
            model=MODEL, messages=history, max_tokens=16, tools=tools, tool_choice="auto"
        )
    assert completion.choices[0].message.content is not None


async def test_unsupported_field_gets_an_openai_400_naming_it() -> None:
    async with stack() as s, _client(s.url) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model=MODEL, messages=CHAT, max_tokens=8, presence_penalty=0.5, logprobs=True
            )
    error = caught.value
    assert error.status_code == 400
    assert "logprobs" in error.message and "presence_penalty" in error.message
    assert error.param == "logprobs"
    assert error.type == "invalid_request_error"


async def test_bearer_auth_and_model_list() -> None:
    async with stack() as s, _client(s.url) as client:
        page = await client.models.list()
    assert [m.id for m in page.data] == ["fast", "claude-sonnet-4-6", MODEL]
    assert all(m.object == "model" for m in page.data)


async def test_models_retrieve() -> None:
    async with stack() as s, _client(s.url) as client:
        model = await client.models.retrieve(MODEL)
        with pytest.raises(openai.NotFoundError):
            await client.models.retrieve("gpt-4o")
    assert model.id == MODEL and model.owned_by == "anthropic"


async def test_wrong_key_gets_an_openai_401() -> None:
    async with stack() as s, _client(s.url, "nope") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=8)
    assert caught.value.code == "invalid_api_key"


async def test_wrong_key_listing_models_gets_an_openai_401() -> None:
    async with stack() as s, _client(s.url, "nope") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.models.list()
    assert caught.value.code == "invalid_api_key"
