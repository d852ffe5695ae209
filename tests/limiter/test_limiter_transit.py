"""The lead an in-memory pool keeps in hand follows how long its answers take.

The configured ``lead_s`` until the first answer; then the longest send-to-headers time
since the pool was last full (or the age of a request still waiting), never more than
``lead_s``. Virtual time, the pool alone.
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


def test_a_full_pool_forgets_the_transits_seen_before() -> None:
    transit = Transit()
    transit.answered(transit.sent(0.0), 0.01)
    assert transit.bound(1.0) == pytest.approx(0.01)
    transit.full()
    assert transit.bound(1.0) is None  # a new burst from full: the configured lead again
    token = transit.sent(2.0)
    transit.full()  # not while a request is out
    transit.answered(token, 2.02)
    assert transit.bound(2.02) == pytest.approx(0.02)
