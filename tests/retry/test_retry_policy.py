"""RetryPolicy: what is retried, how long to wait, and when to give up."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from calendar import timegm
from typing import Any

import pytest

import claudeflow.retry as retry_pkg
from claudeflow import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    CapacityError,
    ConfigError,
    DeadlineExceededError,
    NotFoundError,
    QueueFullError,
    StreamError,
    TransportError,
)
from claudeflow._errors import status_error
from claudeflow.retry import RetryPolicy, is_retryable

NOW = float(timegm((2026, 2, 27, 12, 52, 7)))


def http_error(
    status: int,
    headers: dict[str, str] | None = None,
    *,
    error_type: str = "some_error",
    error_code: str | None = None,
) -> APIStatusError:
    error: dict[str, Any] = {"type": error_type, "message": "m"}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    return status_error(status, headers or {}, json.dumps({"type": "error", "error": error}))


def delay(
    policy: RetryPolicy,
    error: BaseException,
    *,
    attempt: int = 1,
    waited_s: float = 0.0,
    seed: int = 0,
) -> float | None:
    return policy.next_delay(
        error, attempt=attempt, waited_s=waited_s, rng=random.Random(seed), now_wall=NOW
    )


# --- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"max_retries": -1}, "max_retries", id="negative-retries"),
        pytest.param({"max_retries": True}, "max_retries", id="bool-retries"),
        pytest.param({"max_retries": 1.5}, "max_retries", id="float-retries"),
        pytest.param({"base_delay": 0}, "base_delay", id="zero-base"),
        pytest.param({"base_delay": float("nan")}, "base_delay", id="nan-base"),
        pytest.param({"base_delay": "1"}, "base_delay", id="str-base"),
        pytest.param({"max_delay": -1.0}, "max_delay", id="negative-max"),
        pytest.param({"base_delay": 2.0, "max_delay": 1.0}, "max_delay", id="max-below-base"),
        pytest.param({"jitter": -0.1}, "jitter", id="negative-jitter"),
        pytest.param({"jitter": 1.5}, "jitter", id="jitter-above-one"),
        pytest.param({"jitter": float("nan")}, "jitter", id="nan-jitter"),
        pytest.param({"jitter": True}, "jitter", id="bool-jitter"),
        pytest.param({"budget_s": 0}, "budget_s", id="zero-budget"),
        pytest.param({"budget_s": float("inf")}, "budget_s", id="infinite-budget"),
        pytest.param({"retry_statuses": frozenset({400})}, "retry_statuses", id="never-status"),
        pytest.param({"retry_statuses": frozenset({99})}, "retry_statuses", id="not-a-status"),
        pytest.param({"retry_statuses": frozenset({"429"})}, "retry_statuses", id="str-status"),
        pytest.param({"retry_statuses": 429}, "retry_statuses", id="not-iterable"),
    ],
)
def test_bad_configuration_names_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetryPolicy(**kwargs)
    assert info.value.argument == argument
    assert str(info.value).startswith(f"{argument}: ")


def test_defaults_and_normalisation() -> None:
    policy = RetryPolicy(retry_statuses=[429, 503])  # type: ignore[arg-type]
    assert policy.retry_statuses == frozenset({429, 503})
    assert isinstance(policy.retry_statuses, frozenset)
    default = RetryPolicy()
    assert (default.max_retries, default.base_delay, default.max_delay) == (8, 0.5, 60.0)
    assert (default.jitter, default.budget_s) == (0.25, None)
    assert default.retry_statuses == {408, 409, 429, 500, 502, 503, 504, 529}


def test_it_is_frozen_and_slotted() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_retries = 1  # type: ignore[misc]
    assert not hasattr(policy, "__dict__")
    assert dataclasses.replace(policy, max_retries=2).max_retries == 2


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"attempt": 0}, "attempt", id="attempt-zero"),
        pytest.param({"waited_s": -1.0}, "waited_s", id="negative-wait"),
        pytest.param({"waited_s": float("nan")}, "waited_s", id="nan-wait"),
    ],
)
def test_bad_call_arguments_name_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        delay(RetryPolicy(), APITimeoutError("t"), **kwargs)
    assert info.value.argument == argument


# --- classification -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(400, False, id="400"),
        pytest.param(401, False, id="401"),
        pytest.param(402, False, id="402"),
        pytest.param(403, False, id="403"),
        pytest.param(404, False, id="404"),
        pytest.param(408, True, id="408"),
        pytest.param(409, True, id="409"),
        pytest.param(413, False, id="413"),
        pytest.param(418, False, id="418"),
        pytest.param(422, False, id="422"),
        pytest.param(429, True, id="429"),
        pytest.param(500, True, id="500"),
        pytest.param(501, False, id="501"),
        pytest.param(502, True, id="502"),
        pytest.param(503, True, id="503"),
        pytest.param(504, True, id="504"),
        pytest.param(529, True, id="529"),
    ],
)
def test_status_rules(status: int, expected: bool) -> None:
    assert is_retryable(http_error(status)) is expected
    assert RetryPolicy().retryable(http_error(status)) is expected


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        pytest.param(500, "false", False, id="false-beats-500"),
        pytest.param(529, "false", False, id="false-beats-529"),
        pytest.param(418, "true", True, id="true-beats-418"),
        pytest.param(501, "true", True, id="true-beats-501"),
        pytest.param(429, " TRUE ", True, id="case-and-spaces"),
        pytest.param(500, "maybe", True, id="unknown-value-ignored"),
        pytest.param(418, "maybe", False, id="unknown-value-ignored-418"),
        pytest.param(400, "true", False, id="never-400-even-if-told"),
        pytest.param(401, "true", False, id="never-401-even-if-told"),
        pytest.param(413, "true", False, id="never-413-even-if-told"),
    ],
)
def test_x_should_retry_wins_over_status_rules(status: int, header: str, expected: bool) -> None:
    assert is_retryable(http_error(status, {"X-Should-Retry": header})) is expected


@pytest.mark.parametrize(
    ("headers", "error_code", "expected"),
    [
        pytest.param({"x-should-retry": "false"}, None, False, id="429-no-retry-after-told-no"),
        pytest.param(
            {"x-should-retry": "false", "retry-after": "90"}, None, False, id="429-told-no"
        ),
        pytest.param({}, "enforced_spend_limit_reached", False, id="spend-cap"),
        pytest.param(
            {"x-should-retry": "true", "retry-after": "5"},
            "enforced_spend_limit_reached",
            False,
            id="spend-cap-even-if-told",
        ),
        pytest.param({}, "contract_spend_limit_reached", False, id="contract-cap"),
        pytest.param({"retry-after": "30"}, "ramp_limit_exceeded", True, id="ramp-limit"),
        pytest.param({"x-should-retry": "true", "retry-after": "58"}, None, True, id="plain"),
    ],
)
def test_429_rules(headers: dict[str, str], error_code: str | None, expected: bool) -> None:
    error = http_error(429, headers, error_type="rate_limit_error", error_code=error_code)
    assert is_retryable(error) is expected
    assert (delay(RetryPolicy(), error) is not None) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(APIConnectionError("reset"), True, id="connection"),
        pytest.param(APITimeoutError("slow"), True, id="timeout"),
        pytest.param(TransportError("no response"), True, id="transport"),
        pytest.param(StreamError("o", type="overloaded_error"), True, id="stream-overloaded"),
        pytest.param(StreamError("a", type="api_error"), True, id="stream-api-error"),
        pytest.param(StreamError("t", type="timeout_error"), True, id="stream-timeout"),
        pytest.param(StreamError("r", type="rate_limit_error"), False, id="stream-rate-limit"),
        pytest.param(StreamError("i", type="invalid_request_error"), False, id="stream-invalid"),
        pytest.param(StreamError("?"), False, id="stream-untyped"),
        pytest.param(CapacityError("never fits"), False, id="capacity"),
        pytest.param(QueueFullError("full"), False, id="queue-full"),
        pytest.param(DeadlineExceededError("late"), False, id="deadline"),
        pytest.param(APIError("generic", type="overloaded_error"), False, id="bare-api-error"),
        pytest.param(TimeoutError(), False, id="foreign-timeout"),
        pytest.param(ValueError("bug"), False, id="bug"),
        pytest.param(asyncio.CancelledError(), False, id="cancelled"),
    ],
)
def test_non_status_errors(error: BaseException, expected: bool) -> None:
    assert is_retryable(error) is expected


def test_custom_retry_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({503}))
    assert policy.retryable(http_error(503))
    assert not policy.retryable(http_error(500))
    assert not policy.retryable(http_error(429))
    assert policy.retryable(http_error(500, {"x-should-retry": "true"}))


# --- delays -------------------------------------------------------------------------


def test_backoff_doubles_up_to_max_delay_without_jitter() -> None:
    policy = RetryPolicy(max_retries=10, jitter=0.0)
    delays = [delay(policy, APITimeoutError("t"), attempt=n) for n in range(1, 11)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_a_huge_attempt_number_does_not_overflow() -> None:
    policy = RetryPolicy(max_retries=100_000, jitter=0.0)
    assert delay(policy, APITimeoutError("t"), attempt=50_000) == 60.0


@pytest.mark.parametrize("seed", [0, 1, 42, 2026])
@pytest.mark.parametrize("attempt", [1, 3, 8])
def test_backoff_jitter_is_exact_for_a_seeded_rng(seed: int, attempt: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=60.0, jitter=0.25)
    u = random.Random(seed).random()
    base = min(0.5 * 2 ** (attempt - 1), 60.0)
    expected = base * (0.75 + 0.5 * u)
    assert delay(policy, APITimeoutError("t"), attempt=attempt, seed=seed) == pytest.approx(
        expected, rel=1e-12
    )


def test_backoff_jitter_stays_within_its_band() -> None:
    policy = RetryPolicy(jitter=0.25)
    rng = random.Random(7)
    delays = [
        policy.next_delay(APITimeoutError("t"), attempt=3, waited_s=0.0, rng=rng, now_wall=NOW)
        for _ in range(2_000)
    ]
    assert all(d is not None and 1.5 <= d <= 2.5 for d in delays)
    assert len(set(delays)) == len(delays)  # spread out, not synchronised


def test_each_decision_draws_exactly_one_random_number() -> None:
    policy = RetryPolicy(jitter=0.25)
    rng = random.Random(3)
    reference = random.Random(3)
    for attempt in (1, 2):
        got = policy.next_delay(
            APITimeoutError("t"), attempt=attempt, waited_s=0.0, rng=rng, now_wall=NOW
        )
        base = 0.5 * 2 ** (attempt - 1)
        assert got == pytest.approx(base * (0.75 + 0.5 * reference.random()), rel=1e-12)


def test_a_refusal_draws_no_random_number() -> None:
    rng = random.Random(5)
    state = rng.getstate()
    assert (
        RetryPolicy().next_delay(http_error(400), attempt=1, waited_s=0, rng=rng, now_wall=NOW)
        is None
    )
    assert rng.getstate() == state


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        pytest.param({"retry-after": "30"}, 30.0, id="seconds"),
        pytest.param({"retry-after-ms": "200"}, 0.2, id="ms"),
        pytest.param({"retry-after": "Fri, 27 Feb 2026 12:53:37 GMT"}, 90.0, id="http-date"),
        pytest.param({"retry-after": "3600"}, 3600.0, id="an-hour-above-max-delay"),
    ],
)
@pytest.mark.parametrize("seed", [0, 9, 123])
def test_server_retry_after_plus_an_exact_non_negative_spread(
    headers: dict[str, str], retry_after: float, seed: int
) -> None:
    policy = RetryPolicy(jitter=0.25, max_delay=60.0)
    u = random.Random(seed).random()
    expected = retry_after + u * 0.25 * min(retry_after, 4.0)
    got = delay(policy, http_error(429, headers), seed=seed)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got is not None and got >= retry_after


def test_the_spread_never_goes_below_retry_after_and_stays_within_a_second() -> None:
    policy = RetryPolicy()
    rng = random.Random(11)
    error = http_error(429, {"retry-after": "58"})
    delays = [
        policy.next_delay(error, attempt=1, waited_s=0.0, rng=rng, now_wall=NOW)
        for _ in range(2_000)
    ]
    assert all(d is not None and 58.0 <= d < 59.0 for d in delays)
    assert len(set(delays)) > 1_900  # identical retry-afters do not fire together


def test_retry_after_zero_means_now() -> None:
    assert delay(RetryPolicy(), http_error(503, {"retry-after": "0"}), seed=4) == 0.0


def test_retry_after_on_529_is_honoured() -> None:
    error = http_error(529, {"retry-after": "12"}, error_type="overloaded_error")
    got = delay(RetryPolicy(jitter=0.0), error)
    assert got == 12.0


def test_garbage_retry_after_falls_back_to_backoff() -> None:
    error = http_error(503, {"retry-after": "soon"})
    assert delay(RetryPolicy(jitter=0.0), error, attempt=2) == 1.0


# --- limits -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_retries", "attempt", "retried"),
    [
        pytest.param(0, 1, False, id="disabled"),
        pytest.param(1, 1, True, id="one-retry-allowed"),
        pytest.param(1, 2, False, id="one-retry-used"),
        pytest.param(8, 8, True, id="last-retry"),
        pytest.param(8, 9, False, id="exhausted"),
    ],
)
def test_max_retries(max_retries: int, attempt: int, retried: bool) -> None:
    policy = RetryPolicy(max_retries=max_retries)
    assert (delay(policy, APITimeoutError("t"), attempt=attempt) is not None) is retried


@pytest.mark.parametrize(
    ("error", "waited_s", "expected"),
    [
        pytest.param(APITimeoutError("t"), 9.0, 1.0, id="backoff-fits-exactly"),
        pytest.param(APITimeoutError("t"), 9.5, None, id="backoff-over-budget"),
        pytest.param(http_error(429, {"retry-after": "5"}), 5.0, 5.0, id="retry-after-fits"),
        pytest.param(http_error(429, {"retry-after": "30"}), 0.0, None, id="retry-after-too-long"),
        pytest.param(APITimeoutError("t"), 10.0, None, id="budget-spent"),
    ],
)
def test_budget(error: BaseException, waited_s: float, expected: float | None) -> None:
    policy = RetryPolicy(jitter=0.0, budget_s=10.0)
    assert delay(policy, error, attempt=2, waited_s=waited_s) == expected


def test_no_budget_means_no_limit_on_waiting() -> None:
    error = http_error(429, {"retry-after": "3600"})
    assert delay(RetryPolicy(jitter=0.0), error, waited_s=1e9) == 3600.0


def test_package_exports() -> None:
    assert set(retry_pkg.__all__) == {
        "DimensionView",
        "RetryPolicy",
        "ServerLimits",
        "is_retryable",
        "parse_rate_limits",
        "parse_retry_after",
    }
    assert retry_pkg.__all__ == sorted(retry_pkg.__all__)
    assert all(getattr(retry_pkg, name) is not None for name in retry_pkg.__all__)


def test_an_error_without_a_body_says_where_to_look() -> None:
    error = status_error(404, {}, b"")
    assert isinstance(error, NotFoundError)
    assert str(error) == (
        "HTTP 404: the response had no error body (is base_url an Anthropic API endpoint?)"
    )


# --- unreachable servers fail fast ----------------------------------------------------


@pytest.mark.parametrize("kind", ["refused", "dns"])
def test_an_unreachable_server_gets_one_quick_retry(kind: str) -> None:
    policy = RetryPolicy(jitter=0.0)
    error = APIConnectionError("no", kind=kind)  # type: ignore[arg-type]
    assert delay(policy, error, attempt=1) == policy.base_delay
    assert delay(policy, error, attempt=2) is None


def test_refused_retries_is_configurable_and_the_delay_stays_flat() -> None:
    policy = RetryPolicy(jitter=0.0, refused_retries=3)
    error = APIConnectionError("no", kind="refused")
    assert [delay(policy, error, attempt=n) for n in (1, 2, 3, 4)] == [0.5, 0.5, 0.5, None]
    assert delay(RetryPolicy(refused_retries=0), error) is None


@pytest.mark.parametrize("kind", ["reset", "timeout", "other"])
def test_resets_and_timeouts_keep_their_backoff(kind: str) -> None:
    policy = RetryPolicy(jitter=0.0)
    error = APIConnectionError("flaky", kind=kind)  # type: ignore[arg-type]
    assert [delay(policy, error, attempt=n) for n in (1, 2, 3, 8)] == [0.5, 1.0, 2.0, 60.0]


@pytest.mark.parametrize("value", [-1, True, 1.5, None])
def test_bad_refused_retries_names_the_argument(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^refused_retries"):
        RetryPolicy(refused_retries=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"base_delay": 10**400}, "base_delay", id="huge-base-delay"),
        pytest.param({"budget_s": 10**400}, "budget_s", id="huge-budget"),
        pytest.param({"jitter": 10**400}, "jitter", id="huge-jitter"),
    ],
)
def test_ints_beyond_float_range_are_config_errors(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}: must be a finite number"):
        RetryPolicy(**kwargs)


def test_a_huge_waited_s_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^waited_s"):
        delay(RetryPolicy(), APITimeoutError("t"), waited_s=10**400)
