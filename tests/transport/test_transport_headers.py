"""Header helpers: lower-casing once, and refusing header arguments that are not headers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from claudeflow import ConfigError, InvalidRequestError
from claudeflow.transport import AiohttpTransport
from claudeflow.transport._base import Request, check_headers, lower_names

KEY = "sk-ant-api03-SECRET-in-a-header"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param([("x-a", "1")], "must be a mapping", id="list"),
        pytest.param("x-a: 1", "must be a mapping", id="str"),
        pytest.param(b"x-a: 1", "must be a mapping", id="bytes"),
        pytest.param(7, "must be a mapping", id="int"),
        pytest.param({1: "a"}, "header names must be", id="int-name"),
        pytest.param({b"x-a": "a"}, "header names must be", id="bytes-name"),
        pytest.param({"": "a"}, "header names must be", id="empty-name"),
        pytest.param({"x-a\n": "a"}, "header names must be", id="newline-name"),
        pytest.param({"x-a": 1}, "must be a one-line str, got int", id="int-value"),
        pytest.param({"x-a": None}, "must be a one-line str, got NoneType", id="none-value"),
        pytest.param({"x-a": b"v"}, "must be a one-line str, got bytes", id="bytes-value"),
        pytest.param({"x-a": "v\r\nx-api-key: k"}, "got a line break", id="injection"),
    ],
)
def test_what_is_not_headers_is_refused_naming_the_argument(value: object, problem: str) -> None:
    with pytest.raises(InvalidRequestError, match=r"^extra_headers: ") as caught:
        check_headers("extra_headers", value)
    assert problem in str(caught.value)


def test_a_constructor_argument_gets_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^default_headers: must be a mapping") as caught:
        check_headers("default_headers", ["x"], config=True)
    assert caught.value.argument == "default_headers"


def test_values_are_never_shown() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_headers("extra_headers", {"Authorization": f"Bearer {KEY}\n"})
    assert KEY not in str(caught.value)


def test_good_headers_come_back_with_lower_case_names() -> None:
    assert check_headers("extra_headers", {"X-Trace": "1", "anthropic-beta": "b"}) == {
        "x-trace": "1",
        "anthropic-beta": "b",
    }
    assert check_headers("extra_headers", None) == {}


def test_lower_names_keeps_every_value_of_a_repeated_name() -> None:
    repeated = CIMultiDict([("Vary", "a"), ("vary", "b"), ("X-One", "1")])
    assert lower_names(repeated) == {"vary": "a, b", "x-one": "1"}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.dictionaries(st.text(max_size=8) | st.integers(), st.text(max_size=8) | st.none()))
def test_any_mapping_is_headers_or_refused_naming_the_argument(value: dict[Any, Any]) -> None:
    try:
        headers = check_headers("extra_headers", value)
    except InvalidRequestError as exc:
        assert str(exc).startswith("extra_headers: ")
        return
    assert all(isinstance(k, str) and k == k.lower() for k in headers)
    assert all(isinstance(v, str) and "\n" not in v for v in headers.values())


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"default_headers": [("x-api-key", KEY)]}, "default_headers", id="list"),
        pytest.param({"default_headers": {"x-api-key": 1}}, "default_headers", id="int-value"),
        pytest.param({"max_connections": True}, "max_connections", id="bool"),
        pytest.param({"max_connections": 0}, "max_connections", id="zero"),
        pytest.param({"timeouts": 5}, "timeouts", id="timeouts"),
    ],
)
def test_transport_arguments_are_checked_at_construction(
    kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        AiohttpTransport("http://127.0.0.1:1", **kwargs)
    assert caught.value.argument == argument and KEY not in str(caught.value)


async def test_default_and_call_headers_merge_case_insensitively() -> None:
    transport = AiohttpTransport("http://127.0.0.1:1", default_headers={"X-Api-Key": "old"})
    request = Request("POST", "/v1/messages", lower_names({"x-API-key": "new"}))
    sent = transport._request_kwargs(request)["headers"]
    assert sent == {"x-api-key": "new"}
