"""Seeded fault injection: exact counts, shapes, windows, and no quota consumed."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sim_helpers import body, hdrs, make_api, parse

from claudeflow.simulator import FaultConfig

N = 200
SEED = 7


def _rates(kind: str, rate: float) -> dict[str, Any]:
    return {kind: rate}


def _expected(kind: str, rate: float) -> int:
    """Reproduce the documented RNG: one draw per request from Random(f"{seed}/{kind}")."""
    rng = random.Random(f"{SEED}/{kind}")
    return sum(rng.random() < rate for _ in range(N))


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("error_529", 529),
        ("error_500", 500),
        ("error_504", 504),
        ("ramp_429", 429),
        ("spend_cap_rate", 429),
    ],
)
def test_status_faults_fire_an_exact_seeded_number_of_times(kind: str, status: int) -> None:
    api, _ = make_api(seed=SEED, faults=FaultConfig(**_rates(kind, 0.3)))
    statuses = [api.messages(hdrs(), body()).status for _ in range(N)]
    expected = _expected(kind, 0.3)
    assert 40 <= expected <= 80  # sanity: the rate is roughly honoured
    assert statuses.count(status) == expected
    assert statuses.count(200) == N - expected
    assert api.stats()["faults"] == {kind.removesuffix("_rate"): expected}


@pytest.mark.parametrize(("kind", "stream"), [("connection_drop", False), ("stream_error", True)])
def test_post_admission_faults_fire_an_exact_seeded_number_of_times(
    kind: str, stream: bool
) -> None:
    api, _ = make_api(seed=SEED, faults=FaultConfig(**_rates(kind, 0.25)))
    replies = [api.messages(hdrs(), body(stream=stream)) for _ in range(N)]
    assert all(reply.status == 200 for reply in replies)
    assert api.stats()["faults"] == {kind: _expected(kind, 0.25)}
    assert api.stats()["admitted"] == N


def test_same_seed_same_faults_and_reset_rewinds() -> None:
    faults = FaultConfig(error_529=0.2, error_500=0.2, ramp_429=0.2)
    first, _ = make_api(seed=3, faults=faults)
    second, _ = make_api(seed=3, faults=faults)
    run_one = [first.messages(hdrs(), body()).status for _ in range(50)]
    run_two = [second.messages(hdrs(), body()).status for _ in range(50)]
    assert run_one == run_two
    assert len(set(run_one)) == 4  # 200, 429, 500 and 529 all occur
    first.reset()
    assert [first.messages(hdrs(), body()).status for _ in range(50)] == run_one


def test_529_shape() -> None:
    api, _ = make_api(faults=FaultConfig(error_529=1.0))
    reply = api.messages(hdrs(), body())
    assert reply.status == 529
    error = parse(reply)
    assert error["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert error["request_id"] == reply.headers["request-id"]
    assert "retry-after" not in reply.headers


def test_500_and_504_shapes() -> None:
    api, _ = make_api(faults=FaultConfig(error_500=1.0))
    assert parse(api.messages(hdrs(), body()))["error"]["type"] == "api_error"
    api, _ = make_api(faults=FaultConfig(error_504=1.0), ttft_s=0.25)
    reply = api.messages(hdrs(), body())
    assert reply.status == 504
    assert reply.delay == 0.25  # times out after the time to first token
    assert parse(reply)["error"]["type"] == "timeout_error"


def test_ramp_429_has_code_and_retry_after() -> None:
    api, _ = make_api(rpm=50, faults=FaultConfig(ramp_429=1.0, ramp_retry_after_s=2.5))
    reply = api.messages(hdrs(), body())
    assert reply.status == 429
    error = parse(reply)["error"]
    assert error["type"] == "rate_limit_error"
    assert error["details"] == {"error_code": "ramp_limit_exceeded"}
    assert reply.headers["retry-after"] == "3"
    assert reply.headers["x-should-retry"] == "true"
    assert reply.headers["anthropic-ratelimit-requests-remaining"] == "50"  # nothing consumed


def test_spend_cap_after_n_requests_has_no_retry_after() -> None:
    api, _ = make_api(faults=FaultConfig(spend_cap_after=3))
    statuses = [api.messages(hdrs(), body()).status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    reply = api.messages(hdrs(), body())
    error = parse(reply)["error"]
    assert error["details"] == {"error_code": "enforced_spend_limit_reached"}
    # Virtual time zero is 2027-01-15, so access returns on the first of February.
    assert error["message"].endswith("You will regain access on 2027-02-01 at 00:00 UTC.")
    assert "retry-after" not in reply.headers
    assert reply.headers["x-should-retry"] == "false"


async def test_overload_window_in_real_seconds_since_start_consumes_nothing() -> None:
    api, clock = make_api(rpm=2, faults=FaultConfig(overload_window=(1.0, 2.0)))
    assert api.messages(hdrs(), body()).status == 200
    await clock.advance(1.0)
    assert [api.messages(hdrs(), body()).status for _ in range(3)] == [529, 529, 529]
    await clock.advance(0.999)
    assert api.messages(hdrs(), body()).status == 529
    await clock.advance(0.001)
    reply = api.messages(hdrs(), body())
    assert reply.status == 200
    assert reply.headers["anthropic-ratelimit-requests-remaining"] == "0"  # 2 - 2, no 529 counted
    assert api.stats()["faults"] == {"overload_window": 4}


def test_529_retry_after_is_opt_in() -> None:
    api, _ = make_api(faults=FaultConfig(error_529=1.0, overload_retry_after_s=4.2))
    reply = api.messages(hdrs(), body())
    assert reply.status == 529
    assert reply.headers["retry-after"] == "5"
    api, _ = make_api(faults=FaultConfig(error_500=1.0, overload_retry_after_s=4.2))
    assert "retry-after" not in api.messages(hdrs(), body()).headers
