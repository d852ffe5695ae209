"""Every error path of the core, with the API's status, type and message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sim_helpers import MODEL, body, hdrs, make_api, parse

from claudeflow.simulator import SimulatorConfig

OK_MESSAGES = [{"role": "user", "content": "hi"}]


def _raw(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _error(reply_body: bytes) -> tuple[str, str]:
    error = json.loads(reply_body)["error"]
    return error["type"], error["message"]


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        pytest.param(b"{not json", 400, "There was an error parsing the body", id="bad-json"),
        pytest.param(b"[1, 2]", 400, "Input should be a valid dictionary", id="not-object"),
        pytest.param(
            _raw(max_tokens=5, messages=OK_MESSAGES), 400, "model: Field required", id="no-model"
        ),
        pytest.param(
            _raw(model=MODEL, messages=OK_MESSAGES), 400, "max_tokens: Field required", id="no-max"
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5), 400, "messages: Field required", id="no-messages"
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens="5", messages=OK_MESSAGES),
            400,
            "max_tokens: Input should be a valid integer",
            id="max-not-int",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=2.5, messages=OK_MESSAGES),
            400,
            "max_tokens: Input should be a valid integer",
            id="max-float",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=-1, messages=OK_MESSAGES),
            400,
            "max_tokens: Input should be greater than or equal to 1",
            id="max-negative",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=0, messages=OK_MESSAGES),
            400,
            "max_tokens: Input should be greater than or equal to 1",
            id="max-zero",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=999_999, messages=OK_MESSAGES),
            400,
            "max_tokens: 999999 > 64000, which is the maximum allowed number of output tokens "
            f"for {MODEL}",
            id="max-too-big",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=[]),
            400,
            "messages: at least one message is required",
            id="empty-messages",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=[{"role": "system", "content": "x"}]),
            400,
            "messages.0.role: Input should be 'user' or 'assistant'",
            id="bad-role",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=[{"content": "x"}]),
            400,
            "messages.0.role: Field required",
            id="no-role",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=[{"role": "user"}]),
            400,
            "messages.0.content: Field required",
            id="no-content",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": ""}]),
            400,
            "messages.0: all messages must have non-empty content",
            id="empty-content",
        ),
        pytest.param(
            _raw(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": [{"text": "x"}]}]
            ),
            400,
            "messages.0.content.0.type: Field required",
            id="block-no-type",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, stream="yes"),
            400,
            "stream: Input should be a valid boolean",
            id="stream-not-bool",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, system=5),
            400,
            "system: Input should be a valid list",
            id="bad-system",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, tools=[{"description": "x"}]),
            400,
            "tools.0.name: Field required",
            id="tool-no-name",
        ),
        pytest.param(
            _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, temperature=1.5),
            400,
            "temperature: Input should be less than or equal to 1",
            id="temperature-range",
        ),
    ],
)
def test_invalid_messages_bodies(raw: bytes, status: int, message: str) -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), raw)
    assert reply.status == status
    error_type, text = _error(reply.body)
    assert error_type == "invalid_request_error"
    assert text.startswith(message)
    assert json.loads(reply.body)["request_id"] == reply.headers["request-id"]
    assert reply.headers["request-id"].startswith("req_")


def test_assistant_prefill_may_be_empty_only_at_the_end() -> None:
    api, _ = make_api()
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]
    assert api.messages(hdrs(), _raw(model=MODEL, max_tokens=5, messages=messages)).status == 200


@pytest.mark.parametrize("name", ["temperature", "top_p", "top_k"])
def test_sampling_parameters_removed_in_api_version_2026(name: str) -> None:
    api, _ = make_api()
    raw = _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, **{name: 1})
    reply = api.messages(hdrs(version="2026-10-21"), raw)
    assert reply.status == 400
    assert _error(reply.body) == (
        "invalid_request_error",
        f"{name}: Extra inputs are not permitted",
    )
    assert api.messages(hdrs(version="2023-06-01"), raw).status == 200


def test_missing_api_key() -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(key=None), body())
    assert reply.status == 401
    assert _error(reply.body) == ("authentication_error", "x-api-key header is required")


def test_unknown_api_key_is_rejected_without_echoing_it() -> None:
    secret = "sk-ant-super-secret-value"
    api, _ = make_api(api_keys=frozenset({"sk-good"}))
    reply = api.messages(hdrs(key=secret), body())
    assert reply.status == 401
    assert _error(reply.body) == ("authentication_error", "invalid x-api-key")
    assert secret not in reply.body.decode()
    assert secret not in json.dumps(api.stats())
    assert api.messages(hdrs(key="sk-good"), body()).status == 200


def test_api_keys_never_appear_in_config_repr() -> None:
    config = SimulatorConfig(api_keys=frozenset({"sk-hidden-key"}))
    assert "sk-hidden-key" not in repr(config)


def test_bearer_auth_and_x_api_key_precedence() -> None:
    api, _ = make_api(api_keys=frozenset({"sk-good"}))
    bearer = {"authorization": "Bearer sk-good", "anthropic-version": "2026-10-21"}
    assert api.messages(bearer, body()).status == 200
    both = {**bearer, "x-api-key": "sk-bad"}  # x-api-key wins
    assert api.messages(both, body()).status == 401
    assert (
        api.messages({"authorization": "Basic sk-good", "anthropic-version": "x"}, body()).status
        == 401
    )


def test_missing_version_header() -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(version=None), body())
    assert reply.status == 400
    assert _error(reply.body) == ("invalid_request_error", "anthropic-version: header is required")


def test_unknown_model_with_a_model_list() -> None:
    api, _ = make_api(models=frozenset({MODEL}))
    reply = api.messages(hdrs(), body(model="claude-nonexistent-9"))
    assert reply.status == 404
    assert _error(reply.body) == ("not_found_error", "model: claude-nonexistent-9")
    assert api.messages(hdrs(), body()).status == 200


def test_prompt_too_long() -> None:
    api, _ = make_api(context_window=50)
    reply = api.messages(hdrs(), body("word " * 100))
    assert reply.status == 400
    assert _error(reply.body)[1].startswith("prompt is too long: ")
    assert _error(reply.body)[1].endswith(" tokens > 50 maximum")


def test_count_tokens_errors_and_success() -> None:
    api, _ = make_api()
    with_max = _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES)
    reply = api.count_tokens(hdrs(), with_max)
    assert reply.status == 400
    assert _error(reply.body)[1] == "max_tokens: Extra inputs are not permitted"
    assert api.count_tokens(hdrs(key=None), _raw(model=MODEL, messages=OK_MESSAGES)).status == 401
    ok = api.count_tokens(hdrs(), _raw(model=MODEL, messages=OK_MESSAGES))
    assert ok.status == 200
    assert parse(ok) == {"input_tokens": 3 + 4 + 1}  # request + message overhead + "hi"


def test_unknown_route_is_a_json_404() -> None:
    api, _ = make_api()
    reply = api.unknown_route("GET", "/v1/nothing")
    assert reply.status == 404
    assert _error(reply.body) == ("not_found_error", "Not found")
    assert api.stats()["by_status"] == {"404": 1}


def test_errors_are_counted_by_status() -> None:
    api, _ = make_api()
    api.messages(hdrs(key=None), body())
    api.messages(hdrs(), b"{")
    api.messages(hdrs(), body())
    stats = api.stats()
    assert stats["by_status"] == {"200": 1, "400": 1, "401": 1}
    assert stats["received"] == 3
    assert stats["admitted"] == 1


def _with(**fields: Any) -> bytes:
    return _raw(model=MODEL, max_tokens=2000, messages=OK_MESSAGES, **fields)


WEATHER = {"name": "get_weather", "input_schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(_with(foo=1), "foo: Extra inputs are not permitted", id="extra-field"),
        pytest.param(
            _with(metadata={}, max_token=5),
            "max_token: Extra inputs are not permitted",
            id="misspelt-field",
        ),
        pytest.param(
            _with(stop_sequences=["ok", "  "]),
            "stop_sequences: each stop sequence must contain non-whitespace",
            id="blank-stop",
        ),
        pytest.param(
            _with(tool_choice={"type": "tool", "name": "x"}),
            "tool_choice may only be specified while providing tools",
            id="choice-without-tools",
        ),
        pytest.param(
            _with(tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}),
            "tool_choice.tool.name: no tool named 'nope' in tools",
            id="choice-unknown-tool",
        ),
        pytest.param(
            _with(tools=[WEATHER], tool_choice={"type": "sometimes"}),
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
            id="choice-bad-type",
        ),
        pytest.param(
            _with(thinking={"type": "enabled", "budget_tokens": 1000}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
            id="budget-too-small",
        ),
        pytest.param(
            _with(thinking={"type": "enabled"}),
            "thinking.enabled.budget_tokens: Field required",
            id="budget-missing",
        ),
        pytest.param(
            _with(thinking={"type": "enabled", "budget_tokens": 2000}),
            "`max_tokens` must be greater than `thinking.budget_tokens`",
            id="budget-not-below-max",
        ),
        pytest.param(
            _with(thinking={"type": "sometimes"}),
            "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'",
            id="thinking-bad-type",
        ),
        pytest.param(
            _with(
                thinking={"type": "enabled", "budget_tokens": 1024},
                tools=[WEATHER],
                tool_choice={"type": "any"},
            ),
            "Thinking may not be enabled when tool_choice forces tool use.",
            id="thinking-with-forced-tool",
        ),
    ],
)
def test_request_rules(raw: bytes, message: str) -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), raw)
    assert reply.status == 400
    assert _error(reply.body) == ("invalid_request_error", message)
    assert api.stats()["admitted"] == 0


def test_every_sdk_field_is_accepted() -> None:
    api, _ = make_api()
    raw = _with(
        system="be brief",
        metadata={"user_id": "u1"},
        stop_sequences=["zzz"],
        service_tier="auto",
        tools=[WEATHER],
        tool_choice={"type": "auto"},
        thinking={"type": "adaptive"},
        stream=False,
    )
    assert api.messages(hdrs(), raw).status == 200
    assert api.count_tokens(hdrs(), _raw(model=MODEL, messages=OK_MESSAGES, foo=1)).status == 400


SAMPLED = _raw(model=MODEL, max_tokens=5, messages=OK_MESSAGES, temperature=0.5, top_k=5)
ASSISTANT_DOCUMENT = _raw(
    model=MODEL,
    max_tokens=5,
    messages=[
        {"role": "user", "content": "read this"},
        {"role": "assistant", "content": [{"type": "document", "source": {}}]},
        {"role": "user", "content": "and?"},
    ],
)
USER_CITATIONS = _raw(
    model=MODEL,
    max_tokens=5,
    messages=[{"role": "user", "content": [{"type": "text", "text": "x", "citations": [{}]}]}],
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(SAMPLED, "temperature: Extra inputs are not permitted", id="sampling"),
        pytest.param(
            ASSISTANT_DOCUMENT,
            "messages.1.content.0: document blocks are not permitted in assistant messages",
            id="assistant-document",
        ),
        pytest.param(
            USER_CITATIONS,
            "messages.0.content.0.citations: citations are only permitted in assistant messages",
            id="user-citations",
        ),
    ],
)
def test_what_version_2026_10_21_rejects_and_2023_06_01_accepts(raw: bytes, message: str) -> None:
    api, _ = make_api()
    assert api.messages(hdrs(version="2023-06-01"), raw).status == 200
    reply = api.messages(hdrs(version="2026-10-21"), raw)
    assert reply.status == 400
    assert _error(reply.body) == ("invalid_request_error", message)


def test_both_versions_serve_the_same_plain_request() -> None:
    api, _ = make_api()
    old = parse(api.messages(hdrs(version="2023-06-01"), body(out=7)))
    new = parse(api.messages(hdrs(version="2026-10-21"), body(out=7)))
    assert old["content"] == new["content"] and old["usage"] == new["usage"]
