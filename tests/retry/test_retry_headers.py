"""parse_retry_after and parse_rate_limits: every header form, never an exception."""

from __future__ import annotations

import dataclasses
from calendar import timegm

import pytest

from claudeflow.retry import DimensionView, ServerLimits, parse_rate_limits, parse_retry_after

# 2026-02-27T12:52:07Z, the moment of the real 429 captured in the API notes (CAP-2).
NOW = float(timegm((2026, 2, 27, 12, 52, 7)))
HTTP_DATE_IN_90S = "Fri, 27 Feb 2026 12:53:37 GMT"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"retry-after-ms": "1500"}, 1.5, id="ms"),
        pytest.param({"retry-after-ms": "250.5"}, 0.2505, id="ms-fractional"),
        pytest.param({"retry-after-ms": "0"}, 0.0, id="ms-zero"),
        pytest.param({"retry-after-ms": "200", "retry-after": "30"}, 0.2, id="ms-wins"),
        pytest.param(
            {"retry-after-ms": "soon", "retry-after": "30"}, 30.0, id="ms-garbage-falls-back"
        ),
        pytest.param(
            {"retry-after-ms": "-5", "retry-after": "2"}, 2.0, id="ms-negative-falls-back"
        ),
        pytest.param({"retry-after": "58"}, 58.0, id="seconds"),
        pytest.param({"retry-after": "1.5"}, 1.5, id="seconds-fractional"),
        pytest.param({"retry-after": " 11 "}, 11.0, id="seconds-padded"),
        pytest.param({"retry-after": "0"}, 0.0, id="seconds-zero"),
        pytest.param({"retry-after": "3600"}, 3600.0, id="an-hour-is-not-capped"),
        pytest.param({"retry-after": "86400"}, 86400.0, id="a-day-is-not-capped"),
        pytest.param({"Retry-After": "7"}, 7.0, id="header-name-case"),
        pytest.param({"retry-after": HTTP_DATE_IN_90S}, 90.0, id="http-date"),
        pytest.param(
            {"retry-after": "Fri, 27 Feb 2026 12:53:37 -0000"}, 90.0, id="http-date-no-zone"
        ),
        pytest.param(
            {"retry-after": "Fri, 27 Feb 2026 13:53:37 +0100"}, 90.0, id="http-date-offset"
        ),
        pytest.param({"retry-after": "Fri, 27 Feb 2026 12:52:07 GMT"}, 0.0, id="http-date-now"),
        pytest.param({"retry-after": "Fri, 27 Feb 2026 12:50:00 GMT"}, None, id="http-date-past"),
        pytest.param({"retry-after": "-3"}, None, id="negative"),
        pytest.param({"retry-after": "soon"}, None, id="garbage"),
        pytest.param({"retry-after": ""}, None, id="empty"),
        pytest.param({"retry-after": "nan"}, None, id="nan"),
        pytest.param({"retry-after": "inf"}, None, id="inf"),
        pytest.param({"retry-after-ms": "nan"}, None, id="ms-nan-alone"),
        pytest.param({"retry-after": "Fri, 99 Foo 2026"}, None, id="broken-date"),
        pytest.param({}, None, id="missing"),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    result = parse_retry_after(headers, now_wall=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=1e-9)


def _rate_headers(**overrides: str) -> dict[str, str]:
    """A full header set shaped like the real 429 in the API notes (CAP-2)."""
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "50",
        "anthropic-ratelimit-requests-reset": "2026-02-27T12:52:08Z",
        "anthropic-ratelimit-input-tokens-limit": "30000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2026-02-27T12:53:25Z",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-remaining": "8000",
        "anthropic-ratelimit-output-tokens-reset": "1970-01-01T00:00:00Z",
        "anthropic-ratelimit-tokens-limit": "38000",
        "anthropic-ratelimit-tokens-remaining": "8000",
        "anthropic-ratelimit-tokens-reset": "1970-01-01T00:00:00Z",
        "retry-after": "58",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return headers


def test_parse_rate_limits_full_set() -> None:
    limits = parse_rate_limits(_rate_headers(), now_wall=NOW)
    assert limits == ServerLimits(
        requests=DimensionView(50, 50, 1.0),
        input_tokens=DimensionView(30_000, 0, 78.0),
        output_tokens=DimensionView(8_000, 8_000, 0.0),
        tokens=DimensionView(38_000, 8_000, 0.0),
    )
    assert limits.exhausted() == ("input_tokens",)


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        pytest.param("1970-01-01T00:00:00Z", 0.0, id="epoch-zero-means-full"),
        pytest.param("2026-02-27T12:52:37Z", 30.0, id="z-suffix"),
        pytest.param("2026-02-27T12:52:37+00:00", 30.0, id="utc-offset"),
        pytest.param("2026-02-27T13:52:37+01:00", 30.0, id="other-offset"),
        pytest.param("2026-02-27T12:52:07.250Z", 0.25, id="fractional-seconds"),
        pytest.param("2026-02-27T12:52:37", 30.0, id="no-zone-is-utc"),
        pytest.param("2026-02-27T12:50:00Z", 0.0, id="past-floors-at-zero"),
        pytest.param("tomorrow", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("1772196757", None, id="epoch-seconds-not-rfc3339"),
    ],
)
def test_reset_times(reset: str, expected: float | None) -> None:
    headers = {"anthropic-ratelimit-requests-reset": reset}
    view = parse_rate_limits(headers, now_wall=NOW).requests
    if expected is None:
        assert view.reset_in is None
    else:
        assert view.reset_in == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("78000", 78_000, id="rounded-to-thousands"),
        pytest.param("0", 0, id="zero"),
        pytest.param(" 12 ", 12, id="padded"),
        pytest.param("-1", None, id="negative"),
        pytest.param("1.5", None, id="fraction"),
        pytest.param("1e3", None, id="exponent"),
        pytest.param("lots", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("\u0663", None, id="non-ascii-digit"),
    ],
)
def test_counts(value: str, expected: int | None) -> None:
    headers = {
        "anthropic-ratelimit-input-tokens-limit": value,
        "anthropic-ratelimit-input-tokens-remaining": value,
    }
    view = parse_rate_limits(headers, now_wall=NOW).input_tokens
    assert (view.limit, view.remaining) == (expected, expected)


def test_a_malformed_field_spoils_only_itself() -> None:
    headers = _rate_headers(
        **{
            "anthropic-ratelimit-requests-limit": "fifty",
            "anthropic-ratelimit-output-tokens-reset": "later",
        }
    )
    limits = parse_rate_limits(headers, now_wall=NOW)
    assert limits.requests == DimensionView(None, 50, 1.0)
    assert limits.output_tokens == DimensionView(8_000, 8_000, None)
    assert limits.input_tokens == DimensionView(30_000, 0, 78.0)


def test_missing_headers_give_the_empty_value() -> None:
    limits = parse_rate_limits({"content-type": "application/json"}, now_wall=NOW)
    assert limits is ServerLimits.empty
    assert limits == ServerLimits()
    assert limits.requests == DimensionView(None, None, None)
    assert limits.exhausted() == ()


def test_a_partial_set_leaves_other_dimensions_unknown() -> None:
    headers = {"Anthropic-RateLimit-Requests-Remaining": "3"}
    limits = parse_rate_limits(headers, now_wall=NOW)
    assert limits.requests == DimensionView(None, 3, None)
    assert limits.input_tokens == limits.output_tokens == limits.tokens == DimensionView()


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        pytest.param({}, (), id="none"),
        pytest.param({"requests": "0"}, ("requests",), id="requests"),
        pytest.param(
            {"requests": "0", "output-tokens": "0", "input-tokens": "0"},
            ("requests", "input_tokens", "output_tokens"),
            id="all-in-fixed-order",
        ),
        pytest.param({"tokens": "0"}, (), id="combined-view-is-not-enforced"),
        pytest.param({"input-tokens": "1000"}, (), id="some-left"),
    ],
)
def test_exhausted(remaining: dict[str, str], expected: tuple[str, ...]) -> None:
    headers = {f"anthropic-ratelimit-{name}-remaining": value for name, value in remaining.items()}
    assert parse_rate_limits(headers, now_wall=NOW).exhausted() == expected


def test_views_are_frozen() -> None:
    limits = parse_rate_limits(_rate_headers(), now_wall=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.requests = DimensionView()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.requests.remaining = 1  # type: ignore[misc]
