"""The Redis pool's local buckets in virtual time: the mirror and the degraded 1/N share."""

from __future__ import annotations

import math

import pytest

from claudeflow import CapacityError, Cost, RateLimits
from claudeflow.limiter._local import LocalBuckets
from claudeflow.testing import FakeClock

LIMITS = RateLimits(rpm=60, input_tpm=6000, window_s=60, lead_s=0)  # 1 req/s, 100 tok/s


def test_mirror_copies_the_servers_view_and_refills_locally() -> None:
    clock = FakeClock()
    local = LocalBuckets(LIMITS, clock)
    local.mirror(["requests", "5", "60", "1", 0, "output_tokens", "-10", "600", "10", 1], 2.0, "x")
    assert set(local.buckets) == {"requests", "output_tokens"}
    assert local.learned == {"output_tokens"}
    assert local.reserve(Cost(1, 0, 0)) == 2.0  # paused for 2 s
    assert local.paused_reason == "x"
    local.mirror(["requests", "5", "60", "1", 0], 0.0, "")
    assert local.paused_until == -math.inf
    assert local.reserve(Cost(7, 0, 0)) == pytest.approx(2.0)  # 5 of 7, at 1 per s


async def test_share_is_one_nth_of_rates_capacities_and_levels() -> None:
    clock = FakeClock()
    local = LocalBuckets(LIMITS, clock)
    assert local.reserve(Cost(20, 0, 0)) == 0.0  # 40 of 60 requests left
    part = local.share(4)
    stats = part.states()
    assert stats["requests"].capacity == 15
    assert stats["requests"].rate_per_s == 0.25
    assert stats["requests"].level == 10
    assert part.reserve(Cost(10, 0, 0)) == 0.0
    assert part.reserve(Cost(1, 0, 0)) == 4.0  # 1 at 1/4 per s
    await clock.advance(4.0)
    assert part.reserve(Cost(1, 0, 0)) == 0.0
    with pytest.raises(CapacityError, match="at most 15"):
        part.check_fits(Cost(16, 0, 0))


def test_learn_loses_to_configured_limits_and_clamps_learned_ones() -> None:
    local = LocalBuckets(LIMITS, FakeClock())
    assert not local.learn("requests", 1000, 1000)
    assert local.learn("output_tokens", 600, 50)
    assert local.states()["output_tokens"].level == 50
    local.clamp("output_tokens", 10)  # learned: the header sync already clamped it
    assert local.states()["output_tokens"].level == 50
    local.give_back(Cost(0, 0, -80))
    assert local.states()["output_tokens"].level == -30  # debt


def test_a_share_learns_and_clamps_its_part_of_what_the_server_says() -> None:
    part = LocalBuckets(LIMITS, FakeClock()).share(2)
    part.clamp("requests", 20)  # the server's remaining, for everyone: ours is half
    assert part.states()["requests"].level == 10
    assert part.learn("output_tokens", 600, 300)
    learned = part.states()["output_tokens"]
    assert (learned.capacity, learned.rate_per_s, learned.level) == (300, 5, 150)
