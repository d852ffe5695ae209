"""The metrics arithmetic: lower bound, efficiency, percentiles, waits by priority."""

from __future__ import annotations

import math

import pytest
from bench_helpers import LIMITS, counters, outcome, run_metrics

from claudeflow._types import Priority
from claudeflow.bench._metrics import lower_bound, percentiles
from claudeflow.bench._reference import References
from claudeflow.bench._scenario import Limits


def test_limits_rate_and_capacity_follow_the_compressed_minute() -> None:
    assert LIMITS.rate("requests") == pytest.approx(10.0)
    assert LIMITS.capacity("input_tokens") == pytest.approx(600.0)
    assert Limits(rpm=None).rate("requests") is None


def test_lower_bound_is_demand_beyond_the_bucket_over_the_refill_rate() -> None:
    # requests: (46 - 6) / 10 = 4 s; input: (3600 - 600) / 1000 = 3 s; output: 0.
    bound = lower_bound({"requests": 46, "input_tokens": 3_600, "output_tokens": 30}, LIMITS)
    assert bound.seconds == pytest.approx(4.0)
    assert bound.binding == "requests"
    assert bound.per_dimension["input_tokens"] == pytest.approx(3.0)
    assert bound.per_dimension["output_tokens"] == 0.0


def test_lower_bound_of_unlimited_limits_is_zero() -> None:
    bound = lower_bound({"requests": 1_000}, Limits(minute_seconds=6))
    assert (bound.seconds, bound.binding) == (0.0, None)


def test_efficiency_is_bound_over_wall_time_from_server_counts() -> None:
    server = counters(received=46, admitted=46, input_tokens=3_600, output_tokens=30)
    m = run_metrics(server=server, wall_s=5.0)
    assert m.bound_s == pytest.approx(4.0)
    assert m.efficiency == pytest.approx(0.8)
    assert m.source == "server"
    assert m.utilisation["requests"] == pytest.approx(0.8)


def test_efficiency_against_both_perfect_schedules_is_perfect_over_wall() -> None:
    perfect = References(4.0, 3.5, 10, 3.9)
    outcomes = (outcome(0, submitted=1.0, wait=2.0), outcome(1, wait=0.5), outcome(2, ok=False))
    m = run_metrics(server=counters(admitted=10), wall_s=5.0, reference=perfect, outcomes=outcomes)
    assert (m.perfect_fifo_s, m.perfect_work_conserving_s) == (4.0, 3.5)
    assert m.efficiency_fifo == pytest.approx(0.8)
    assert m.efficiency_against("work_conserving") == pytest.approx(0.7)
    assert m.efficiency_against("fifo") == m.efficiency_fifo
    # Where the time went: the last request left at 3.0 s (perfect: 3.9 s).
    assert (m.last_start_s, m.perfect_last_start_s) == (3.0, 3.9)
    assert run_metrics(server=counters(admitted=10)).efficiency_fifo is None


def test_debt_left_on_the_server_is_charged_as_time() -> None:
    # 60 output tokens of debt at 100 tokens/s = 0.6 s added to the wall time.
    server = counters(admitted=46, output_tokens=30, debt={"output_tokens": 60.0})
    m = run_metrics(server=server, wall_s=4.4)
    assert m.debt_repay_s == pytest.approx(0.6)
    assert m.efficiency == pytest.approx(4.0 / 5.0)


def test_arrival_floor_bounds_an_open_workload() -> None:
    m = run_metrics(server=counters(admitted=10), wall_s=8.0, arrival_floor_s=6.0)
    assert m.bound_s == pytest.approx(6.0)
    assert m.binding == "arrivals"
    assert m.efficiency == pytest.approx(0.75)


def test_429s_per_thousand_and_attempts_come_from_the_server() -> None:
    server = counters(received=13, admitted=10, rate_limited=3)
    m = run_metrics(server=server)
    assert m.server_429 == 3
    assert m.per_1k_429 == pytest.approx(300.0)
    assert m.attempts_per_request == pytest.approx(1.3)


def test_without_server_counts_the_client_view_is_used_and_labelled() -> None:
    m = run_metrics(server=None)
    assert m.source == "client"
    assert m.per_1k_429 is None
    assert m.attempts_per_request == pytest.approx(1.0)


def test_percentiles_interpolate_between_ranks() -> None:
    stats = percentiles([float(n) for n in range(1, 101)])
    assert stats["n"] == 100
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p95"] == pytest.approx(95.05)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["max"] == 100.0


def test_percentiles_skip_missing_values_and_handle_empty_input() -> None:
    assert percentiles([]) == {"n": 0}
    assert percentiles([math.nan, 2.0])["p99"] == 2.0


def test_queue_waits_are_split_by_priority_and_failures_counted() -> None:
    outcomes = (
        outcome(0, priority=Priority.HIGH, wait=0.01),
        outcome(1, priority=Priority.HIGH, wait=0.03),
        outcome(2, priority=Priority.LOW, wait=2.0),
        outcome(3, priority=Priority.LOW, wait=None, ok=False),
    )
    m = run_metrics(outcomes=outcomes, server=counters(admitted=3))
    assert set(m.queue_wait_s) == {"HIGH", "LOW"}
    assert m.queue_wait_s["HIGH"]["p50"] == pytest.approx(0.02)
    assert m.queue_wait_s["LOW"]["n"] == 1
    assert (m.completed, m.failed) == (3, 1)
    assert m.errors == {"Boom": 1}
    assert m.wait_p95(Priority.HIGH) == pytest.approx(0.029)


def test_large_request_wait_is_measured_in_refill_periods_of_its_size() -> None:
    # 2,000 input tokens at 1,000 tokens/s: one refill period is 2 s.
    large = outcome(1, tag="large", input_tokens=2_000, wait=3.0, submitted=1.0, finished=4.5)
    m = run_metrics(outcomes=(outcome(0), large), server=counters(admitted=2))
    assert m.large_request is not None
    assert m.large_request["refill_period_s"] == pytest.approx(2.0)
    assert m.large_request["wait_periods"] == pytest.approx(1.5)
    assert m.large_request["e2e_s"] == pytest.approx(3.5)
