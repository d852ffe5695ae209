"""Property tests of the bucket arithmetic and of reserve-then-settle, in virtual time.

Any interleaving of admissions, early adjustments, settlements (at any actual usage),
releases, clamps and the passing of time keeps every bucket at or below its capacity,
settles each reservation exactly once, and, once every permit is settled with nothing
used and a full window has passed, leaves every bucket full again.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claudeflow import Cost, RateLimits
from claudeflow.limiter import MemoryPool, Permit, Slots, TokenBucket
from claudeflow.testing import FakeClock

LIMITS = RateLimits(rpm=60, input_tpm=6_000, output_tpm=3_000, window_s=60, lead_s=0)
CAPACITY = {"requests": 60.0, "input_tokens": 6_000.0, "output_tokens": 3_000.0}

bucket_ops = st.lists(
    st.tuples(
        st.sampled_from(["take", "give", "clamp", "wait"]),
        st.floats(min_value=0, max_value=500, allow_nan=False),
    ),
    max_size=60,
)


@settings(derandomize=True)  # the same examples on every run: CI is never flaky by chance
@given(bucket_ops)
def test_a_bucket_never_holds_more_than_its_capacity(ops: list[tuple[str, float]]) -> None:
    bucket, now = TokenBucket(10.0, 100.0, now=0.0), 0.0
    for op, amount in ops:
        if op == "wait":
            now += amount / 10
        elif op == "take":
            bucket.take(amount, now)
        elif op == "give":
            bucket.give(amount, now)
        else:
            bucket.clamp(amount, now)
        assert bucket.level(now) <= bucket.capacity + 1e-9
    # Any debt is repaid by refill: a full window later the bucket is full.
    assert bucket.level(now + 10 + 2 * sum(a for _, a in ops) / 10) == bucket.capacity


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=80))
async def test_any_interleaving_settles_once_and_restores_full_capacity(
    seed: int, steps: int
) -> None:
    rng, clock = random.Random(seed), FakeClock()
    pool, slots = MemoryPool("p", LIMITS, clock=clock), Slots(8)
    permits: list[Permit] = []
    for _ in range(steps):
        await _step(rng, clock, pool, slots, permits)
        for state in pool.buckets().values():
            assert state.level <= state.capacity + 1e-9
        assert slots.in_flight == sum(not p.settled for p in permits)
    for permit in permits:
        permit.release()
        settled = pool.buckets()
        permit.settle(Cost(1, 9_999, 9_999))  # a second settle changes nothing
        assert pool.buckets() == settled
    assert slots.in_flight == 0
    await clock.advance(120.0)  # two windows: refill repays any debt, capped at capacity
    assert {dim: b.level for dim, b in pool.buckets().items()} == CAPACITY


async def _step(
    rng: random.Random, clock: FakeClock, pool: MemoryPool, slots: Slots, permits: list[Permit]
) -> None:
    open_permits = [p for p in permits if not p.settled]
    action = rng.choice(["admit", "admit", "adjust", "settle", "release", "clamp", "wait"])
    if action == "admit":
        cost = Cost(1, rng.randint(0, 2_000), rng.randint(1, 1_000))
        if not slots.full and pool.delay(cost) == 0:
            pool.take(cost)
            permits.append(Permit(pool, slots, cost))
    elif action == "adjust" and open_permits:
        permit = rng.choice(open_permits)
        permit.adjust(input_tokens=rng.randint(0, 2_500), output_tokens=rng.randint(0, 1_200))
    elif action == "settle" and open_permits:
        rng.choice(open_permits).settle(Cost(1, rng.randint(0, 2_500), rng.randint(0, 1_200)))
    elif action == "release" and open_permits:
        rng.choice(open_permits).release()
    elif action == "clamp":
        pool.clamp(rng.choice(list(CAPACITY)), rng.uniform(0, 6_000))
    elif action == "wait":
        await clock.advance(rng.uniform(0, 5))
