"""The gateway with both official SDKs as its clients.

    python examples/gateway_demo.py --simulate      # offline: a simulator behind it

Serves ``examples/gateway.toml`` (on a free port) in front of the simulator (or the
real API with ``$ANTHROPIC_API_KEY``), then calls it as two clients would: the
``anthropic`` SDK with the search key, the ``openai`` SDK with the batch key, one
request and one stream each, and prints what came back and what ``/metrics`` counted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
from pathlib import Path

import aiohttp
import anthropic
import openai
from _simulate import MODEL, endpoint

from claudeflow.gateway import load_config, run_gateway

CONFIG = Path(__file__).with_name("gateway.toml")
PROMPT = "Explain token buckets in one sentence."


async def main(simulate: bool) -> None:
    async with endpoint(simulate) as upstream:
        if upstream.base_url:  # the simulator: the gateway reads these like the real ones
            os.environ["ANTHROPIC_BASE_URL"] = upstream.base_url
            os.environ["ANTHROPIC_API_KEY"] = upstream.api_key or ""
        config = dataclasses.replace(load_config(CONFIG), port=0)
        async with run_gateway(config) as gateway:
            print(f"gateway on {gateway.url}")
            await _anthropic_client(gateway.url)
            await _openai_client(gateway.url)
            await _metrics(gateway.url)


async def _anthropic_client(url: str) -> None:
    async with anthropic.AsyncAnthropic(base_url=url, api_key="demo-search-key") as client:
        message = await client.messages.create(
            model="fast", max_tokens=256, messages=[{"role": "user", "content": PROMPT}]
        )
        print(f"anthropic create: {message.usage.output_tokens} tokens, {message.stop_reason}")
        async with client.messages.stream(
            model="smart", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
        ) as stream:
            chunks = [text async for text in stream.text_stream]
        print(f"anthropic stream: {len(chunks)} text deltas")


async def _openai_client(url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="demo-batch-key") as client:
        completion = await client.chat.completions.create(
            model="fast", max_tokens=256, messages=[{"role": "user", "content": PROMPT}]
        )
        usage = completion.usage
        print(
            f"openai create: {usage.completion_tokens if usage else '?'} tokens, "
            f"{completion.choices[0].finish_reason}"
        )
        stream = await client.chat.completions.create(
            model="fast", max_tokens=256, stream=True,
            messages=[{"role": "user", "content": PROMPT}],
        )  # fmt: skip
        chunks = [chunk async for chunk in stream]
        print(f"openai stream: {len(chunks)} chunks")
        try:
            await client.chat.completions.create(
                model="smart", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
            )
        except openai.PermissionDeniedError as exc:
            print(f"openai smart model: refused with {exc.status_code}")


async def _metrics(url: str) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    lines = [
        line for line in text.splitlines()
        if line.startswith("claudeflow_gateway_requests_total{")
    ]  # fmt: skip
    print(f"metrics: {len(lines)} request series, model {MODEL} among them")
    for line in sorted(lines):
        print(f"  {line}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The gateway with both SDKs as clients.")
    parser.add_argument("--simulate", action="store_true", help="offline, against a simulator")
    asyncio.run(main(parser.parse_args().simulate))
