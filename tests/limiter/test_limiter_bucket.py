"""TokenBucket arithmetic: refill, burst, debt, clamp (pure, no loop)."""

from __future__ import annotations

import math

import pytest

from claudeflow.limiter import TokenBucket


def test_starts_full_and_refills_continuously() -> None:
    bucket = TokenBucket(rate=2.0, capacity=10.0, now=0.0)
    assert bucket.level(0.0) == 10.0
    bucket.take(10, 0.0)
    assert bucket.level(1.5) == 3.0
    assert bucket.level(100.0) == 10.0  # never above capacity


def test_time_until_is_exact_and_can_take_at_that_instant() -> None:
    bucket = TokenBucket(rate=3.0, capacity=9.0, now=0.0)
    bucket.take(9, 0.0)
    wait = bucket.time_until(7, 0.0)
    assert wait == pytest.approx(7 / 3)
    assert not bucket.can_take(7, wait * 0.999)
    assert bucket.can_take(7, wait)


def test_amount_above_capacity_never_fits() -> None:
    bucket = TokenBucket(rate=1.0, capacity=5.0, now=0.0)
    assert not bucket.fits(6)
    assert bucket.time_until(6, 0.0) == math.inf


def test_debt_is_repaid_by_refill_before_anything_else() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.take(10, 0.0)
    bucket.take(5, 0.0)  # settled above the reservation
    assert bucket.level(0.0) == -5.0
    assert bucket.time_until(1, 0.0) == 6.0


def test_give_never_exceeds_capacity() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.take(4, 0.0)
    bucket.give(100, 0.0)
    assert bucket.level(0.0) == 10.0


def test_clamp_only_lowers() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    assert bucket.clamp(3, 0.0) is True
    assert bucket.level(0.0) == 3.0
    assert bucket.clamp(8, 0.0) is False
    assert bucket.level(0.0) == 3.0


def test_reconfigure_keeps_level_capped_at_new_capacity() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.reconfigure(rate=2.0, capacity=4.0, now=0.0)
    assert bucket.level(0.0) == 4.0
    bucket.take(4, 0.0)
    assert bucket.level(1.0) == 2.0


@pytest.mark.parametrize(("rate", "capacity"), [(0, 1), (1, 0), (-1, 5)])
def test_rejects_non_positive_parameters(rate: float, capacity: float) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        TokenBucket(rate, capacity, now=0.0)


def test_ratelimit_state_counts_whole_units_and_the_time_a_retry_can_succeed() -> None:
    bucket = TokenBucket(rate=1.0, capacity=10.0, now=0.0)
    bucket.take(7.5, now=0.0)
    assert bucket.ratelimit_state(now=0.0) == (2, 7.5)  # 2.5 left: 2 whole; full in 7.5 s
    bucket.take(4.0, now=0.0)
    assert bucket.ratelimit_state(now=0.0) == (0, 2.5)  # in debt: one unit after 2.5 s
    assert bucket.ratelimit_state(now=2.5) == (1, 9.0)
