"""The cache key: which parts of a request change it."""

from __future__ import annotations

import pytest
from cache_helpers import body

from claudeflow import InvalidRequestError
from claudeflow.cache import canonical_request, request_key


def test_key_ignores_field_order_metadata_stream_and_service_tier() -> None:
    base = body("hello", temperature=0)
    shuffled = dict(reversed(list(base.items())))
    noisy = {**base, "metadata": {"user_id": "u-42"}, "stream": True, "service_tier": "auto"}
    assert request_key(shuffled) == request_key(base) == request_key(noisy)


@pytest.mark.parametrize(
    "change",
    [
        {"model": "claude-sonnet-4-5"},
        {"max_tokens": 17},
        {"messages": [{"role": "user", "content": "hello!"}]},
        {"system": "be brief"},
        {"temperature": 0.5},
        {"top_p": 0.9},
        {"top_k": 5},
        {"stop_sequences": ["\n"]},
        {"tools": [{"name": "t", "input_schema": {"type": "object"}}]},
        {"tool_choice": {"type": "any"}},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        {"some_future_field": 1},
    ],
)
def test_every_answer_changing_field_changes_the_key(change: dict[str, object]) -> None:
    base = body("hello", temperature=0)
    assert request_key({**base, **change}) != request_key(base)


def test_beta_and_version_headers_change_the_key_other_headers_do_not() -> None:
    b = body()
    plain = request_key(b, {"anthropic-version": "2023-06-01", "x-api-key": "sk-1"})
    assert plain == request_key(b, {"anthropic-version": "2023-06-01", "x-api-key": "sk-2"})
    assert plain != request_key(b, {"anthropic-version": "2026-10-21"})
    beta = {"anthropic-version": "2023-06-01", "anthropic-beta": "output-300k-2026-03-24"}
    assert plain != request_key(b, beta)


def test_key_is_sha256_hex_of_canonical_json_without_secrets() -> None:
    b = body()
    canonical = canonical_request(b, {"x-api-key": "sk-SECRET"})
    assert "sk-SECRET" not in canonical
    assert canonical.startswith('{"body":{')
    assert len(request_key(b)) == 64


def test_a_body_that_is_not_json_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequestError, match="not plain JSON"):
        request_key(body(temperature=float("nan")))
    with pytest.raises(InvalidRequestError, match="not plain JSON"):
        request_key(body(extra=object()))
