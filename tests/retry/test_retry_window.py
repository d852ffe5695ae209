"""The server's window, bounded from its reset and Date headers."""

from __future__ import annotations

import asyncio
import math

import pytest

from claudeflow import Flow
from claudeflow.retry._window import WindowEstimate
from claudeflow.testing import simulator

DATE = "Tue, 01 Dec 2026 10:00:00 GMT"


def headers(limit: int, remaining: int, reset: str, dim: str = "requests") -> dict[str, str]:
    prefix = f"anthropic-ratelimit-{dim}-"
    return {
        "date": DATE,
        prefix + "limit": str(limit),
        prefix + "remaining": str(remaining),
        prefix + "reset": reset,
    }


FULL = headers(50, 49, "2026-12-01T10:00:01Z")  # the first answer of a full bucket


def test_a_bucket_half_empty_and_full_in_three_seconds_bounds_the_window_by_six() -> None:
    window = WindowEstimate()
    window.observe(FULL)
    window.observe(headers(50, 25, "2026-12-01T10:00:03Z"))
    assert window.upper == pytest.approx(6.0)
    assert window.window_s(60.0) == pytest.approx(6.0)


def test_a_server_whose_buckets_hold_less_than_the_limit_teaches_no_window() -> None:
    # burst 0.05: 12,000 rpm in a bucket of 600 that is full 3 s after it was empty. The
    # deficit looks like 12,000, which would mean a 3 s "minute": 20 times too fast.
    window = WindowEstimate()
    window.observe(headers(12_000, 599, "2026-12-01T10:00:01Z"))
    window.observe(headers(12_000, 0, "2026-12-01T10:00:03Z"))
    assert not window.full_seen and window.window_s(60.0) == 60.0


@pytest.mark.parametrize(
    "given",
    [
        pytest.param(headers(50, 50, "1970-01-01T00:00:00Z"), id="full-bucket"),
        pytest.param(headers(50, 49, "2026-12-01T10:00:01Z"), id="deficit-too-small"),
        pytest.param({**headers(50, 10, "2026-12-01T10:00:03Z"), "date": "nonsense"}, id="date"),
    ],
)
def test_nothing_is_learned_from_responses_that_bound_nothing(given: dict[str, str]) -> None:
    window = WindowEstimate()
    window.observe(FULL)
    window.observe(given)
    assert window.upper == math.inf and window.window_s(60.0) == 60.0


def test_a_bound_near_the_assumed_window_leaves_it_alone() -> None:
    window = WindowEstimate()
    window.observe(headers(1000, 999, "2026-12-01T10:00:01Z"))
    window.observe(headers(1000, 500, "2026-12-01T10:00:28Z"))  # at most 56 s
    assert window.window_s(60.0) == 60.0


@pytest.mark.integration
async def test_a_time_scaled_simulator_is_learned_without_window_s() -> None:
    # The simulator's "minute" is 6 s; the Flow is told nothing about it.
    async with simulator(rpm=60, minute_seconds=6) as sim:
        async with Flow(api_key="sk-test", base_url=sim.url, concurrency=32) as flow:
            body = {"model": "claude-haiku-4-5", "max_tokens": 8}
            await asyncio.gather(
                *(
                    flow.create(**body, messages=[{"role": "user", "content": f"q{i}"}])
                    for i in range(90)
                )
            )
            requests = flow.stats().buckets["requests"]
        server = sim.stats()
    assert requests.learned and requests.rate_per_s >= 60 / 48  # adopted: not 60 s windows
    assert requests.rate_per_s <= 60 / 6 + 1e-9  # never faster than the server refills
    assert server["rate_limited"] == 0
