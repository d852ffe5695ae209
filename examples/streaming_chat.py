"""Streaming chat: text appears as Claude writes it; the conversation is kept.

python examples/streaming_chat.py --simulate "Tell me about token buckets"
python examples/streaming_chat.py --simulate          # interactive; empty line quits
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from _simulate import MODEL, endpoint

from claudeflow import Flow, Priority


async def reply(flow: Flow, history: list[dict[str, Any]]) -> str:
    """Stream one answer to stdout; return its full text."""
    parts: list[str] = []
    async with flow.stream(
        priority=Priority.HIGH, model=MODEL, max_tokens=256, messages=history
    ) as stream:
        async for text in stream.text_stream:
            print(text, end="", flush=True)
            parts.append(text)
        result = await stream.result()
    print(f"\n[{result.usage.input_tokens} in / {result.usage.output_tokens} out tokens]")
    return "".join(parts)


async def main(simulate: bool, prompts: list[str]) -> int:
    async with endpoint(simulate, per_token_s=0.002) as api:
        async with Flow(api_key=api.api_key, base_url=api.base_url, limits=api.limits) as flow:
            history: list[dict[str, Any]] = []
            for prompt in prompts or _typed_lines():
                history.append({"role": "user", "content": prompt})
                history.append({"role": "assistant", "content": await reply(flow, history)})
    return 0


def _typed_lines() -> Any:
    """Lines typed at the prompt, until an empty line or end of input (Ctrl-D)."""
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            print()
            return
        if not line:
            return
        yield line


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="streaming chat with claudeflow")
    parser.add_argument("--simulate", action="store_true", help="use an in-process simulator")
    parser.add_argument("prompt", nargs="*", help="messages to send (else read from stdin)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.simulate, args.prompt)))
