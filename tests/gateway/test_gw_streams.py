"""Streams through the gateway: mid-stream upstream errors, and clients that leave."""

from __future__ import annotations

import asyncio

import aiohttp
import anthropic
import openai
import pytest
from gw_helpers import KEYS, MODEL, stack

from claudeflow.simulator import FaultConfig

pytestmark = pytest.mark.integration

LONG = [{"role": "user", "content": "Tell a story [[output_tokens=60]]"}]


async def test_mid_stream_error_reaches_the_anthropic_sdk_as_an_error_event() -> None:
    sim = {"faults": FaultConfig(stream_error=1.0), "stream_chunk_tokens": 5}
    async with stack(sim=sim) as s:
        async with anthropic.AsyncAnthropic(
            base_url=s.url, api_key=KEYS["alpha"], max_retries=0
        ) as client:
            seen: list[str] = []
            with pytest.raises(anthropic.APIStatusError) as caught:
                async with client.messages.stream(
                    model=MODEL, max_tokens=100, messages=LONG
                ) as stream:
                    async for event in stream:
                        seen.append(event.type)  # noqa: PERF401 (kept when it raises)
    assert "content_block_delta" in seen  # the error came after content, as an event
    assert "overloaded" in str(caught.value)


async def test_mid_stream_error_reaches_the_openai_sdk() -> None:
    sim = {"faults": FaultConfig(stream_error=1.0), "stream_chunk_tokens": 5}
    async with stack(sim=sim) as s:
        async with openai.AsyncOpenAI(
            base_url=f"{s.url}/v1", api_key=KEYS["alpha"], max_retries=0
        ) as client:
            stream = await client.chat.completions.create(
                model=MODEL, max_tokens=100, messages=LONG, stream=True
            )
            texts: list[str] = []
            with pytest.raises(openai.APIError, match="overloaded"):
                async for chunk in stream:
                    texts.append(chunk.choices[0].delta.content or "")  # noqa: PERF401
    assert "".join(texts)  # some content arrived before the error


async def test_a_client_leaving_mid_stream_frees_its_request() -> None:
    sim = {"per_token_s": 0.02, "stream_chunk_tokens": 2}  # a 1.2 s stream
    body = {"model": MODEL, "max_tokens": 100, "messages": LONG, "stream": True}
    async with stack(sim=sim) as s:
        flow = s.gw.gateway.flow
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{s.url}/v1/messages", json=body, headers={"x-api-key": KEYS["alpha"]}
            )
            assert response.status == 200
            assert (await response.content.readline()).startswith(b"event: message_start")
            assert flow.stats().in_flight == 1
            response.close()  # the client goes away mid-stream
        for _ in range(200):  # bounded: 200 x 10 ms
            if flow.stats().in_flight == 0:
                break
            await asyncio.sleep(0.01)
        stats = flow.stats()
    assert stats.in_flight == 0 and stats.queued == 0
    assert stats.completed == 0  # abandoned, not finished
