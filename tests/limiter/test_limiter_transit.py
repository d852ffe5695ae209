"""The lead an in-memory pool keeps in hand follows how long its answers take.

The configured ``lead_s`` until the first answer; then the longest a request was out
(take to headers, or still waiting) at an instant when no answer showed the server's
bucket short of full, since the pool was last surely full; never more than ``lead_s``.
Virtual time, the pool alone.
"""

from __future__ import annotations

import pytest

from claudeflow import Cost, RateLimits
from claudeflow.limiter import MemoryPool
from claudeflow.limiter._transit import Transit
from claudeflow.testing import FakeClock

# 10 requests per second from a bucket of 10: a request's lead of L s is 10 * L more.
LIMITS = RateLimits(rpm=600, window_s=60, burst=1 / 60, lead_s=0.05)
ONE = Cost(1, 0, 0)


def _drained(clock: FakeClock) -> MemoryPool:
    pool = MemoryPool("p", LIMITS, clock=clock)
    for _ in range(10):
        pool.take(ONE)  # empty: the next request waits for refill (and the lead)
        pool.withdrawn()  # the arithmetic alone: none of them is on its way
    return pool


def test_the_configured_lead_holds_until_the_first_answer() -> None:
    pool = _drained(FakeClock())
    pool.sent()
    # 1 request + 0.05 s of refill (0.5 requests) at 10/s: 0.15 s.
    assert pool.delay(ONE) == pytest.approx(0.15)


async def test_a_quick_answer_cuts_the_lead_to_its_transit() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    token = pool.sent()
    await clock.advance(0.01)
    pool.answered(token)  # headers back 10 ms after it left
    # Now 0.1 refilled; 1 + 0.01 s of lead (0.1) needed: 0.1 s more.
    assert pool.delay(ONE) == pytest.approx(0.1)


async def test_a_request_still_waiting_for_headers_counts_its_age() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    pool.answered(pool.sent())  # one answer at once: transit 0
    pool.sent()  # another still out
    await clock.advance(0.03)
    # Its 30 ms so far are a transit the server may still show: 0.03 s of lead (0.3)
    # held. 0.3 refilled of the 1.3 needed: 0.1 s more.
    assert pool.delay(ONE) == pytest.approx(0.1)


async def test_the_lead_never_exceeds_lead_s() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    token = pool.sent()
    await clock.advance(2.0)
    pool.answered(token)  # a slow answer: 2 s
    for _ in range(10):
        pool.take(ONE)  # full again after 2 s, and empty again
    assert pool.delay(ONE) == pytest.approx(0.15)  # the 0.05 s lead, not 2 s


async def test_a_burst_from_full_keeps_the_time_to_its_first_headers() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    tokens = [pool.sent() for _ in range(10)]
    await clock.advance(0.01)
    pool.answered(tokens[0])
    pool.clamp("requests", 0)  # empty when it arrived: 0.9 s before it could be full
    await clock.advance(0.03)
    for token in tokens[1:]:
        pool.answered(token)  # 40 ms out, all of it while the server was surely not full
    # Clamped to 0 at 0.01 s, 0.3 refilled since; 1 + 0.01 s of lead (0.1) needed:
    # 0.08 s more, where a 40 ms lead would need 0.11 s.
    assert pool.delay(ONE) == pytest.approx(0.08)


async def test_an_answer_near_full_covers_nothing() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    pool.answered(pool.sent())
    pool.clamp("requests", 9)  # one short of its 10: full again at once, for all we know
    token = pool.sent()
    await clock.advance(0.03)
    pool.answered(token)
    pool.clamp("requests", 9)
    # The server may have lost 30 ms of refill while full: 0.3 refilled of 1.3 needed.
    assert pool.delay(ONE) == pytest.approx(0.1)


def test_the_lag_is_forgotten_once_the_pool_has_been_full_as_long() -> None:
    transit = Transit()
    transit.taken(0.0)
    transit.answered(transit.sent(0.0), 0.01)
    assert transit.bounds(1.0, full=False, most=0.05) == pytest.approx((0.01, 0.01))
    # Full with nothing out: the server's bucket may still be 10 ms of refill behind.
    assert transit.bounds(1.0, full=True, most=0.05) == pytest.approx((0.01, 0.01))
    # Caught up: the configured lead again.
    assert transit.bounds(1.01, full=True, most=0.05) is None
    token = transit.sent(2.0)
    assert transit.bounds(3.0, full=True, most=0.05) is None  # nothing answered since
    transit.answered(token, 3.0)  # out for 1 s
    assert transit.bounds(5.0, full=True, most=0.05) == pytest.approx((1.0, 1.0))
    # Forgotten after lead_s, the most the pool allows for, not after the whole second.
    assert transit.bounds(5.06, full=True, most=0.05) is None


def test_only_a_burst_streams_for_early_headers() -> None:
    transit = Transit()
    transit.taken(0.0)
    first = transit.sent(0.0)
    assert not transit.wants_early_headers()  # alone: nothing to time
    transit.taken(0.0)
    assert transit.wants_early_headers()  # another is out with it
    transit.answered(first, 0.01)
    transit.sent(0.01)
    assert not transit.wants_early_headers()  # timed: the first headers set the lead


async def test_ages_count_again_once_an_answer_no_longer_covers() -> None:
    clock = FakeClock()
    pool = _drained(clock)
    first = pool.sent()
    await clock.advance(0.01)
    pool.answered(first)
    pool.clamp("requests", 2)  # 2 left: not full before 0.7 s after its take
    pool.sent()  # out from 0.01 s, and for the rest of the test
    await clock.advance(0.59)
    # At 0.6 s, covered: the lead is the first answer's 10 ms (6 refilled, 6.1 needed).
    assert pool.delay(Cost(6, 0, 0)) == pytest.approx(0.01)
    pool.take(Cost(5, 0, 0))
    pool.withdrawn()
    await clock.advance(0.2)
    # At 0.8 s the server may have been full while it was out: the whole lead_s.
    assert pool.delay(Cost(3, 0, 0)) == pytest.approx(0.05)


async def test_a_learned_bucket_is_covered_from_the_top_of_the_rounding() -> None:
    clock = FakeClock()
    pool = MemoryPool("p", RateLimits(window_s=60), clock=clock)
    first, _ = pool.sent(), pool.sent()  # the second stays out
    pool.answered(first)
    # As ServerView passes them for a reported 40,000: learned from the low end of the
    # rounding, clamped (and covered) from the high end.
    pool.learn("input_tokens", 100_000, 39_500)
    pool.clamp("input_tokens", 40_500)
    rate = 100_000 / 60
    covered = (100_000 - 40_501) / rate  # 35.70 s; from the low end it would be 36.30
    await clock.advance(covered + 0.1)
    level = 39_500 + (covered + 0.1) * rate
    # Past the span: the request still out counts, and the whole 0.05 s lead is kept.
    wait = pool.delay(Cost(0, int(level) - 10, 0))
    assert wait == pytest.approx((rate * 0.05 - 10 - (level - int(level))) / rate)


def test_a_take_given_back_unsent_does_not_age_the_next_send() -> None:
    transit = Transit()
    transit.taken(0.0)
    transit.withdrawn()
    transit.taken(1.0)
    transit.answered(transit.sent(1.0), 1.01)
    # 10 ms from its own take, not 1.01 s from the one given back.
    assert transit.bounds(1.01, full=False, most=0.05) == pytest.approx((0.01, 0.01))
