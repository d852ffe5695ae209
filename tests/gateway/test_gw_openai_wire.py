"""Chat Completions <-> Messages translation, both ways, on canned objects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from claudeflow import InvalidRequestError
from claudeflow.gateway._openai_wire import (
    ChunkTranslator,
    UnsupportedFields,
    finish_reason,
    to_anthropic,
    to_completion,
)


def _translate(**request: Any) -> dict[str, Any]:
    request.setdefault("model", "m")
    request.setdefault("messages", [{"role": "user", "content": "hi"}])
    return to_anthropic(request, default_max_tokens=99).body


def test_system_and_developer_messages_become_system() -> None:
    body = _translate(
        messages=[
            {"role": "system", "content": "A"},
            {"role": "developer", "content": [{"type": "text", "text": "B"}]},
            {"role": "user", "content": "hi"},
        ]
    )
    assert body["system"] == "A\n\nB"
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_max_completion_tokens_wins_and_default_applies() -> None:
    assert _translate(max_tokens=5, max_completion_tokens=7)["max_tokens"] == 7
    assert _translate(max_tokens=5)["max_tokens"] == 5
    assert _translate()["max_tokens"] == 99


def test_sampling_stop_and_user() -> None:
    body = _translate(temperature=0.2, top_p=0.9, stop="END", user="u1")
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u1"}
    assert _translate(stop=["a", "b"])["stop_sequences"] == ["a", "b"]


def test_temperature_above_one_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequestError, match="temperature"):
        _translate(temperature=1.5)


def test_tool_calls_and_results_map_to_blocks() -> None:
    body = _translate(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": "checking",
                "tool_calls": [
                    {"id": "t1", "type": "function",
                     "function": {"name": "w", "arguments": '{"city": "Oslo"}'}},
                    {"id": "t2", "type": "function",
                     "function": {"name": "w", "arguments": '{"city": "Rome"}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "rain"},
            {"role": "tool", "tool_call_id": "t2", "content": "sun"},
        ],
        tools=[{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}],
        tool_choice={"type": "function", "function": {"name": "w"}},
        parallel_tool_calls=False,
    )  # fmt: skip
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"][0] == {"type": "text", "text": "checking"}
    assert assistant["content"][1] == {
        "type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Oslo"}
    }  # fmt: skip
    # Consecutive tool messages are one user turn of tool results, as Anthropic wants.
    assert results["role"] == "user"
    assert [b["tool_use_id"] for b in results["content"]] == ["t1", "t2"]
    assert body["tools"] == [{"name": "w", "input_schema": {"type": "object"}}]
    assert body["tool_choice"] == {"type": "tool", "name": "w", "disable_parallel_tool_use": True}


@pytest.mark.parametrize(
    ("choice", "mapped"),
    [("auto", {"type": "auto"}), ("none", {"type": "none"}), ("required", {"type": "any"})],
)
def test_tool_choice_strings(choice: str, mapped: dict[str, str]) -> None:
    assert _translate(tool_choice=choice)["tool_choice"] == mapped


def test_images_from_data_urls_and_links() -> None:
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    blocks = _translate(messages=[{"role": "user", "content": parts}])["messages"][0]["content"]
    assert blocks[0]["source"] == {"type": "base64", "media_type": "image/png", "data": "AAAA"}
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/a.png"}


def test_unsupported_fields_are_named_and_none_values_ignored() -> None:
    with pytest.raises(UnsupportedFields) as caught:
        _translate(logit_bias={"1": 2}, seed=3, frequency_penalty=None)
    assert str(caught.value) == "Unsupported parameter(s): logit_bias, seed"
    assert caught.value.param == "logit_bias"
    with pytest.raises(UnsupportedFields, match="n"):
        _translate(n=2)


def test_bad_tool_arguments_are_a_clear_error() -> None:
    call = {"id": "t", "type": "function", "function": {"name": "w", "arguments": "{oops"}}
    with pytest.raises(InvalidRequestError, match=r"messages\.0\.tool_calls"):
        _translate(messages=[{"role": "assistant", "tool_calls": [call]}])


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool_calls"), ("refusal", "content_filter"), (None, None)],
)  # fmt: skip
def test_finish_reasons(stop: str | None, finish: str | None) -> None:
    assert finish_reason(stop) == finish


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_9", "name": "w", "input": {"city": "Oslo"}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 5},
}


def test_completion_from_a_tool_use_message() -> None:
    completion = to_completion(MESSAGE, created=7)
    choice = completion["choices"][0]
    assert completion["id"] == "chatcmpl-msg_1" and completion["created"] == 7
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look."
    call = choice["message"]["tool_calls"][0]
    assert call["id"] == "toolu_9" and call["function"]["name"] == "w"
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert completion["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 4,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 5},
    }


def test_stream_chunks_for_text_and_a_tool_call() -> None:
    events = [
        {"type": "message_start", "message": {**MESSAGE, "content": [], "usage": {
            "input_tokens": 10, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1,
         "content_block": {"type": "tool_use", "id": "toolu_9", "name": "w", "input": {}}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": '{"city":'}},
        {"type": "content_block_delta", "index": 1,
         "delta": {"type": "input_json_delta", "partial_json": ' "Oslo"}'}},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
         "usage": {"output_tokens": 6}},
        {"type": "message_stop"},
    ]  # fmt: skip
    translator = ChunkTranslator(created=1, include_usage=True)
    chunks = [c for e in events for c in translator.translate(e)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    start = deltas[2]["tool_calls"][0]
    assert start["index"] == 0 and start["id"] == "toolu_9"
    arguments = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[2:5])
    assert json.loads(arguments) == {"city": "Oslo"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 6
    assert chunks[-1]["usage"]["prompt_tokens"] == 10
    assert {c["id"] for c in chunks} == {"chatcmpl-msg_1"}
