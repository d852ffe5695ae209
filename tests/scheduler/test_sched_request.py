"""Request validation: every bad request is refused before admission with a typed error."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sched_helpers import body, make_flow, ok

from claudeflow import ApiObject, ConfigError, InvalidRequestError
from claudeflow.scheduler._request import (
    MAX_PRIORITY,
    encode_body,
    parse_priority,
    validate_body,
)
from claudeflow.testing import FakeClock

# The names an InvalidRequestError from validation may start with.
FIELDS = ("model", "max_tokens", "messages", "stream", "body", "extra_body", "extra_query")


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [{"type": "text", "text": value}]
    return value


def circular() -> dict[str, Any]:
    loop: dict[str, Any] = {"type": "text"}
    loop["self"] = loop
    return loop


class Opaque:
    def __repr__(self) -> str:  # a repr that would flood a message if anyone built it
        return "x" * 10_000_000


# -- priority ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [10**400, -(10**400), MAX_PRIORITY + 1, -MAX_PRIORITY - 1])
def test_priority_outside_the_sane_range_is_refused(value: int) -> None:
    with pytest.raises(InvalidRequestError, match=r"^priority: must be within") as caught:
        parse_priority(value)
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(("value", "parsed"), [(MAX_PRIORITY, 2**31), (-MAX_PRIORITY, -(2**31))])
def test_priority_at_the_bounds_is_accepted(value: int, parsed: int) -> None:
    assert parse_priority(value) == parsed


@pytest.mark.parametrize("value", [True, 1.0, None, [1], b"high", "urgent"])
def test_priority_of_another_type_or_name_is_refused(value: object) -> None:
    with pytest.raises(InvalidRequestError, match=r"^priority: expected"):
        parse_priority(value)


# -- max_tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, True, False, 1.0, "5", None, 2**31, 10**400])
def test_max_tokens_must_be_an_int_of_at_least_one(value: object) -> None:
    with pytest.raises(InvalidRequestError, match=r"^max_tokens: an int in \[1, 2\*\*31\)"):
        validate_body({**body(), "max_tokens": value})


def test_max_tokens_of_one_is_enough() -> None:
    assert validate_body({**body(), "max_tokens": 1})["max_tokens"] == 1


# -- bodies that cannot be sent ---------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        pytest.param({"metadata": {"tags": {"a", "b"}}}, "set", id="set"),
        pytest.param({"metadata": {"blob": b"\x00"}}, "bytes", id="bytes"),
        pytest.param({"metadata": {"x": Opaque()}}, "Opaque", id="object"),
        pytest.param({"temperature": math.nan}, "Out of range float", id="nan"),
        pytest.param({"temperature": math.inf}, "Out of range float", id="inf"),
        pytest.param({"metadata": circular()}, "Circular reference", id="circular"),
        pytest.param({"metadata": {("a", 1): 1}}, "keys must be", id="tuple-key"),
    ],
)
def test_a_body_that_is_not_json_is_refused_briefly(extra: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"^body: cannot be sent as JSON") as caught:
        validate_body({**body(), **extra})
    assert reason in str(caught.value) and len(str(caught.value)) < 200


def test_content_nested_thousands_deep_is_refused_without_recursion_error() -> None:
    params = body()
    params["messages"][0]["content"] = nested(3_000)
    with pytest.raises(InvalidRequestError, match=r"^body: nested too deeply"):
        validate_body(params)


def test_a_bad_message_is_described_by_its_type_not_its_repr() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_body({**body(), "messages": [nested(3_000)]})
    assert str(caught.value) == "messages.0: must be an object, got a list"
    with pytest.raises(InvalidRequestError, match=r"^messages\.0\.role: .* got a list$"):
        validate_body({**body(), "messages": [{"role": ["user"], "content": "x"}]})


def test_mappings_and_sdk_models_are_sent_as_plain_json() -> None:
    class SdkBlock:
        def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
            assert mode == "json"
            return {"type": "text", "text": "from the SDK"}

    given_content = [ApiObject({"type": "text", "text": "earlier answer"}), SdkBlock()]
    params = {**body(), "messages": [{"role": "user", "content": given_content}]}
    checked = validate_body(params)
    assert checked["messages"][0]["content"] == [
        {"type": "text", "text": "earlier answer"},
        {"type": "text", "text": "from the SDK"},
    ]
    assert type(checked["messages"][0]["content"][0]) is dict


def test_a_plain_body_is_kept_and_its_bytes_are_what_aiohttp_sends() -> None:
    params = {**body(), "system": "Grüße \u2603"}
    checked = validate_body(params)
    assert checked == params
    encoded, plain = encode_body(checked)
    assert plain and encoded == json.dumps(checked).encode()


# -- through the Flow: refused before anything is counted -------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        pytest.param({"priority": 10**400}, InvalidRequestError, "^priority", id="priority"),
        pytest.param({"max_tokens": 0}, InvalidRequestError, "^max_tokens", id="max-tokens-0"),
        pytest.param({"queue_timeout": 10**400}, ConfigError, "^queue_timeout", id="q-timeout"),
        pytest.param({"timeout": 10**400}, ConfigError, "^timeout", id="timeout"),
        pytest.param({"timeout": math.nan}, ConfigError, "^timeout", id="timeout-nan"),
        pytest.param({"metadata": {"s": {1}}}, InvalidRequestError, "^body", id="set"),
    ],
)
async def test_the_flow_refuses_before_submitting(
    clock: FakeClock, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    flow, transport = make_flow(clock, ok, seed=1)
    async with flow:
        with pytest.raises(error, match=match):
            await flow.create(**{**body(), **options})
        result = await flow.create(**body("after"))  # the Flow is unharmed
    assert result.message.text == "hello"
    assert flow.stats().submitted == 1 and len(transport.requests) == 1


# -- properties: typed error naming the field, or a pass --------------------------------

json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
odd_leaves = st.binary(max_size=4) | st.frozensets(st.integers(), max_size=2) | st.just(Opaque())
json_values = st.recursive(
    json_leaves | odd_leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
roles = st.sampled_from(["user", "assistant", "bot"])
messages = st.lists(
    st.dictionaries(st.sampled_from(["role", "content", "x"]), roles | json_values, max_size=3)
    | json_values,
    max_size=3,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.just("claude-haiku-4-5") | json_values,
        "max_tokens": st.integers(-2, 2**32) | json_values,
        "messages": messages | json_values,
        "stream": json_values,
        "extra_body": json_values,
        "extra_query": json_values,
        "system": json_values,
        "metadata": json_values,
    },
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(bodies)
def test_any_body_passes_or_is_refused_naming_its_field(params: dict[str, Any]) -> None:
    try:
        checked = validate_body(params)
    except InvalidRequestError as exc:
        assert str(exc).startswith(FIELDS), str(exc)
        assert len(str(exc)) < 300
        return
    # What passes is sendable JSON with the fields claudeflow relies on.
    json.dumps(checked, allow_nan=False)
    assert isinstance(checked["model"], str) and checked["max_tokens"] >= 1
    assert "stream" not in checked


@settings(max_examples=150, deadline=None, derandomize=True)
@given(json_values | st.integers())
def test_any_priority_is_an_int_in_range_or_refused_naming_priority(value: Any) -> None:
    try:
        parsed = parse_priority(value)
    except InvalidRequestError as exc:
        assert str(exc).startswith("priority: ")
        return
    assert isinstance(parsed, int) and abs(parsed) <= MAX_PRIORITY
