"""Bucket arithmetic and rate-limit headers, exact, in virtual time."""

from __future__ import annotations

import pytest
from sim_helpers import MODEL, body, hdrs, iso, make_api, parse

from claudeflow.simulator import FaultConfig, model_class


def test_requests_bucket_headers_and_reset_times() -> None:
    # 3 requests per 6-second "minute": refill 0.5 request/s.
    api, _ = make_api(rpm=3, minute_seconds=6)
    remaining, resets = [], []
    for _ in range(3):
        reply = api.messages(hdrs(), body())
        assert reply.status == 200
        remaining.append(reply.headers["anthropic-ratelimit-requests-remaining"])
        resets.append(reply.headers["anthropic-ratelimit-requests-reset"])
    assert remaining == ["2", "1", "0"]
    # Missing 1, 2, 3 requests at 0.5/s: full again 2, 4, 6 seconds later.
    assert resets == [iso(2), iso(4), iso(6)]
    assert reply.headers["anthropic-ratelimit-requests-limit"] == "3"
    # Token dimensions are unlimited here, so their headers are absent.
    assert "anthropic-ratelimit-input-tokens-limit" not in reply.headers
    assert "anthropic-ratelimit-tokens-limit" not in reply.headers


async def test_429_retry_after_is_time_until_this_request_fits() -> None:
    api, clock = make_api(rpm=3, minute_seconds=6)
    for _ in range(3):
        api.messages(hdrs(), body())
    await clock.advance(0.5)  # 0.25 request refilled; one needs 1.5 s more
    denied = api.messages(hdrs(), body())
    assert denied.status == 429
    assert denied.headers["retry-after"] == "2"  # ceil(1.5)
    assert denied.headers["x-should-retry"] == "true"
    assert "retry-after-ms" not in denied.headers
    error = parse(denied)
    assert error["type"] == "error"
    assert error["error"]["type"] == "rate_limit_error"
    assert "rate limit of 3 requests per minute" in error["error"]["message"]
    assert f"model: {MODEL}" in error["error"]["message"]
    assert error["request_id"] == denied.headers["request-id"]
    await clock.advance(1.5)
    assert api.messages(hdrs(), body()).status == 200


async def test_retry_after_ms_is_optional_and_precise() -> None:
    api, clock = make_api(rpm=3, minute_seconds=6, retry_after_ms=True)
    for _ in range(3):
        api.messages(hdrs(), body())
    await clock.advance(0.5)
    denied = api.messages(hdrs(), body())
    assert denied.headers["retry-after-ms"] == "1500"
    assert denied.headers["retry-after"] == "2"


async def test_rejected_request_consumes_nothing() -> None:
    api, _ = make_api(rpm=10, input_tpm=1000, output_tpm=1000, minute_seconds=60, round_remaining=1)
    first = api.messages(hdrs(), body(out=5))
    used = parse(first)["usage"]["input_tokens"]
    assert first.headers["anthropic-ratelimit-input-tokens-remaining"] == str(1000 - used)
    big = "word " * 2000  # far more input than is left
    denied = api.messages(hdrs(), body(big))
    assert denied.status == 429
    assert "input tokens per minute" in parse(denied)["error"]["message"]
    # Same instant (fake clock): requests and input are exactly where they were.
    assert denied.headers["anthropic-ratelimit-requests-remaining"] == "9"
    assert denied.headers["anthropic-ratelimit-input-tokens-remaining"] == str(1000 - used)
    assert api.stats()["admitted"] == 1
    assert api.stats()["rate_limited_by"] == {"input-tokens": 1}


async def test_input_bucket_refills_continuously_and_retry_after_is_exact() -> None:
    api, clock = make_api(input_tpm=600, minute_seconds=60, round_remaining=1)  # 10 tokens/s
    first = api.messages(hdrs(), body("alpha " * 250))
    used = parse(first)["usage"]["input_tokens"]
    assert first.headers["anthropic-ratelimit-input-tokens-remaining"] == str(600 - used)
    # Full again after used/10 seconds, rounded up to the second.
    assert first.headers["anthropic-ratelimit-input-tokens-reset"] == iso(-(-used // 10))
    second_body = body("alpha " * 250)
    denied = api.messages(hdrs(), second_body)
    assert denied.status == 429
    deficit = used - (600 - used)
    assert denied.headers["retry-after"] == str(-(-deficit // 10))
    await clock.advance(deficit / 10)
    assert api.messages(hdrs(), second_body).status == 200


def test_token_remaining_is_rounded_to_thousands_and_combined() -> None:
    api, _ = make_api(input_tpm=30_000, output_tpm=8_000, otpm_mode="reserve_max_tokens")
    reply = api.messages(hdrs(), body(out=10, max_tokens=1_600))
    h = reply.headers
    assert h["anthropic-ratelimit-input-tokens-remaining"] == "30000"  # 29,98x -> 30,000
    assert h["anthropic-ratelimit-input-tokens-limit"] == "30000"
    # Zero latency: reserved 1,600 and refunded 1,590 before the headers were made.
    assert h["anthropic-ratelimit-output-tokens-remaining"] == "8000"  # 7,990
    assert h["anthropic-ratelimit-tokens-limit"] == "38000"
    assert h["anthropic-ratelimit-tokens-remaining"] == "38000"


async def test_a_full_bucket_reports_the_current_time_as_its_reset() -> None:
    # A ramp 429 carries the scope's headers without taking anything: every bucket is full.
    api, clock = make_api(
        rpm=100, input_tpm=100_000, output_tpm=10_000, faults=FaultConfig(ramp_429=1.0)
    )
    await clock.advance(7.4)
    reply = api.messages(hdrs(), body())
    assert reply.status == 429
    resets = {k: v for k, v in reply.headers.items() if k.endswith("-reset")}
    assert len(resets) == 4  # requests, input, output and the combined tokens view
    assert set(resets.values()) == {iso(7)}  # now, in whole seconds; not 1970-01-01


async def test_burst_limits_capacity_but_not_refill_rate() -> None:
    api, clock = make_api(rpm=60, minute_seconds=60, burst=0.05)  # capacity 3, 1 req/s
    statuses = [api.messages(hdrs(), body()).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    await clock.advance(1.0)
    assert api.messages(hdrs(), body()).status == 200
    assert api.messages(hdrs(), body()).status == 429


def test_buckets_are_per_key_and_per_model_class() -> None:
    api, _ = make_api(rpm=1)
    assert api.messages(hdrs("sk-a"), body(model="claude-opus-4-6")).status == 200
    # Opus 4.5 shares the "Claude Opus 4.x" bucket; Sonnet and another key do not.
    assert api.messages(hdrs("sk-a"), body(model="claude-opus-4-5")).status == 429
    assert api.messages(hdrs("sk-a"), body(model="claude-sonnet-4-6")).status == 200
    assert api.messages(hdrs("sk-b"), body(model="claude-opus-4-6")).status == 200
    assert set(api.stats()["buckets"]) == {
        f"{label}/{cls}"
        for label, cls in (
            (_label("sk-a"), "claude-opus-4"),
            (_label("sk-a"), "claude-sonnet-4"),
            (_label("sk-b"), "claude-opus-4"),
        )
    }


def test_model_classes_override() -> None:
    api, _ = make_api(rpm=1, model_classes={"claude-opus-4-5": "own"})
    assert api.messages(hdrs(), body(model="claude-opus-4-6")).status == 200
    assert api.messages(hdrs(), body(model="claude-opus-4-5")).status == 200


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-opus-4-6", "claude-opus-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4"),
        ("claude-sonnet-5", "claude-sonnet-5"),
        ("claude-3-5-haiku-20241022", "claude-haiku-3"),
        ("claude-mythos-preview", "claude-mythos"),
        ("my-custom-model", "my-custom-model"),
    ],
)
def test_model_class_rule(model: str, expected: str) -> None:
    assert model_class(model) == expected


async def test_request_that_can_never_fit_says_so_without_retry_after() -> None:
    api, _ = make_api(output_tpm=1_000, otpm_mode="reserve_max_tokens")
    denied = api.messages(hdrs(), body(max_tokens=5_000))
    assert denied.status == 429
    assert denied.headers["x-should-retry"] == "false"
    assert "retry-after" not in denied.headers
    assert "can never fit" in parse(denied)["error"]["message"]


def test_count_tokens_has_its_own_request_bucket() -> None:
    api, _ = make_api(rpm=1, count_tokens_rpm=2, minute_seconds=6)
    count_body = b'{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}'
    assert api.messages(hdrs(), body()).status == 200
    assert [api.count_tokens(hdrs(), count_body).status for _ in range(3)] == [200, 200, 429]
    denied = api.count_tokens(hdrs(), count_body)
    assert denied.headers["retry-after"] == "3"  # 1 request at 2 per 6 s
    assert (
        "rate limit of 2 requests per minute for token counting"
        in parse(denied)["error"]["message"]
    )
    assert api.messages(hdrs(), body()).status == 429  # messages bucket unaffected, still empty


def _label(key: str) -> str:
    import hashlib

    return "key_" + hashlib.sha256(key.encode()).hexdigest()[:8]
