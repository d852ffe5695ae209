"""All-or-nothing admission in virtual time: every dimension pays at once or none does.

The Flow admits through a pool's buckets (:class:`MemoryPool`) plus its concurrency
:class:`Slots`; the small ``Admission`` below puts the two together the way a lane does.
"""

from __future__ import annotations

import math

import pytest

from claudeflow import CapacityError, ConfigError, Cost, RateLimits
from claudeflow.limiter import MemoryPool, Permit, Slots
from claudeflow.testing import FakeClock


class Admission(MemoryPool):
    """A pool and a slot limit, admitted together as a lane admits its head."""

    def __init__(self, limits: RateLimits | None, *, concurrency: int | None, clock: FakeClock):
        super().__init__("test", limits, clock=clock)
        self.slots = Slots(concurrency)
        self.slots.on_release = lambda: self.on_change()

    @property
    def in_flight(self) -> int:
        return self.slots.in_flight

    def delay(self, cost: Cost) -> float:
        return self.slots.delay() or super().delay(cost)

    def admit(self, cost: Cost) -> Permit:
        self.take(cost)
        return Permit(self, self.slots, cost)


def make(limits: RateLimits | None, concurrency: int | None = None) -> tuple[Admission, FakeClock]:
    clock = FakeClock()
    return Admission(limits, concurrency=concurrency, clock=clock), clock


async def test_reserve_takes_all_or_nothing_and_says_how_long() -> None:
    pool = MemoryPool("p", RateLimits(rpm=60, input_tpm=600, lead_s=0), clock=FakeClock())
    assert await pool.reserve(Cost(1, 600, 0), priority=1) == 0
    before = pool.buckets()
    assert await pool.reserve(Cost(1, 50, 0), priority=1) == pytest.approx(5.0)
    assert pool.buckets() == before  # a refusal takes nothing


def test_unlimited_admits_everything_at_once() -> None:
    admission, _ = make(None)
    for _ in range(1000):
        assert admission.delay(Cost(1, 10**6, 10**6)) == 0
        admission.admit(Cost(1, 10**6, 10**6))
    assert admission.in_flight == 1000


def test_delay_is_the_slowest_dimension() -> None:
    # 1 req/s, 10 in/s, 2 out/s
    limits = RateLimits(rpm=60, input_tpm=600, output_tpm=120, lead_s=0)
    admission, _ = make(limits)
    admission.admit(Cost(1, 600, 120))  # empty all three buckets
    # requests need 1 s, input 50/10 = 5 s, output 4/2 = 2 s: the answer is 5 s.
    assert admission.delay(Cost(1, 50, 4)) == pytest.approx(5.0)


def test_lead_keeps_that_much_refill_in_hand_but_never_more_than_a_full_bucket() -> None:
    limits = RateLimits(input_tpm=600, lead_s=0.5)  # 10 tokens/s: the lead is 5 tokens
    admission, _ = make(limits)
    assert admission.delay(Cost(1, 600, 0)) == 0  # a full bucket always pays in full
    admission.admit(Cost(1, 10, 0))  # 590 left
    assert admission.delay(Cost(1, 585, 0)) == 0  # 585 + 5 in hand
    assert admission.delay(Cost(1, 586, 0)) == pytest.approx(0.1)
    admission.admit(Cost(1, 590, 0))
    assert admission.delay(Cost(1, 50, 0)) == pytest.approx(5.5)  # 50 + 5 at 10/s


async def test_nothing_is_taken_while_waiting() -> None:
    limits = RateLimits(rpm=60, input_tpm=600, lead_s=0)
    admission, clock = make(limits)
    admission.admit(Cost(1, 600, 0))
    before = admission.buckets()
    admission.delay(Cost(1, 300, 0))  # asking costs nothing
    assert admission.buckets() == before
    await clock.advance(30)
    assert admission.delay(Cost(1, 300, 0)) == 0
    assert admission.buckets()["requests"].level == 60.0  # refilled, capped at capacity


def test_concurrency_full_means_wait_for_release() -> None:
    admission, _ = make(None, concurrency=2)
    first = admission.admit(Cost())
    admission.admit(Cost())
    assert admission.delay(Cost()) == math.inf
    woken: list[int] = []
    admission.on_change = lambda: woken.append(1)
    first.settle(Cost())
    assert woken == [1]
    assert admission.delay(Cost()) == 0


def test_settle_refunds_unused_output_and_is_idempotent() -> None:
    admission, _ = make(RateLimits(output_tpm=1000))
    permit = admission.admit(Cost(1, 0, 800))
    assert admission.buckets()["output_tokens"].level == 200
    permit.settle(Cost(1, 0, 300))
    assert admission.buckets()["output_tokens"].level == 700
    permit.settle(Cost(1, 0, 0))  # second call: nothing changes
    assert admission.buckets()["output_tokens"].level == 700
    assert admission.in_flight == 0


def test_settle_above_reservation_goes_into_debt() -> None:
    admission, _ = make(RateLimits(input_tpm=1000))
    permit = admission.admit(Cost(1, 1000, 0))
    permit.settle(Cost(1, 1500, 0))
    assert admission.buckets()["input_tokens"].level == -500


def test_release_gives_everything_back() -> None:
    admission, _ = make(RateLimits(rpm=10, input_tpm=1000, output_tpm=500), concurrency=1)
    admission.admit(Cost(1, 400, 300)).release()
    levels = {k: v.level for k, v in admission.buckets().items()}
    assert levels == {"requests": 10, "input_tokens": 1000, "output_tokens": 500}
    assert admission.in_flight == 0


def test_adjust_squares_one_dimension_early() -> None:
    admission, _ = make(RateLimits(input_tpm=1000, output_tpm=1000))
    permit = admission.admit(Cost(1, 300, 900))
    permit.adjust(input_tokens=350)  # input known (message_start): debit 50 more
    assert admission.buckets()["input_tokens"].level == 650
    permit.adjust(output_tokens=100)  # output known (last message_delta): refund 800
    assert admission.buckets()["output_tokens"].level == 900
    permit.settle(Cost(1, 350, 100))  # already square: nothing moves, slot freed
    assert admission.buckets()["output_tokens"].level == 900
    assert admission.in_flight == 0


@pytest.mark.parametrize(
    ("cost", "dimension"),
    [
        pytest.param(Cost(1, 30_001, 0), "input tokens", id="input"),
        pytest.param(Cost(1, 0, 8_001), "output tokens", id="output"),
    ],
)
def test_a_request_that_can_never_fit_raises_at_once(cost: Cost, dimension: str) -> None:
    admission, _ = make(RateLimits(rpm=50, input_tpm=30_000, output_tpm=8_000))
    with pytest.raises(CapacityError, match=dimension):
        admission.check_fits(cost)


def test_burst_shrinks_capacity() -> None:
    admission, _ = make(RateLimits(input_tpm=60_000, burst=0.1))
    assert admission.buckets()["input_tokens"].capacity == 6000
    with pytest.raises(CapacityError):
        admission.check_fits(Cost(1, 6001, 0))


async def test_pause_holds_everyone_until_it_ends() -> None:
    admission, clock = make(None)
    admission.pause(7.5, reason="429")
    assert admission.delay(Cost()) == 7.5
    await clock.advance(7.5)
    assert admission.delay(Cost()) == 0


def test_learn_sets_unconfigured_limits_but_never_overrides_configured_ones() -> None:
    admission, _ = make(RateLimits(rpm=50))
    admission.learn("requests", 1000, 900)
    admission.learn("input_tokens", 60_000, 12_000)
    buckets = admission.buckets()
    assert buckets["requests"].capacity == 50
    assert buckets["input_tokens"].capacity == 60_000
    assert buckets["input_tokens"].level == 12_000
    assert buckets["input_tokens"].learned


def test_clamp_lowers_to_server_remaining() -> None:
    admission, _ = make(RateLimits(input_tpm=10_000))
    admission.clamp("input_tokens", 2_000)
    assert admission.buckets()["input_tokens"].level == 2_000


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"rpm": 0}, "rpm", id="zero-rpm"),
        pytest.param({"input_tpm": -5}, "input_tpm", id="negative"),
        pytest.param({"output_tpm": float("nan")}, "output_tpm", id="nan"),
        pytest.param({"window_s": 0}, "window_s", id="window"),
        pytest.param({"burst": 1.5}, "burst", id="burst-above-one"),
        pytest.param({"rpm": "50"}, "rpm", id="string"),
        pytest.param({"rpm": 1, "burst": 1 / 60}, "burst", id="bucket-below-one-request"),
        pytest.param({"lead_s": -0.1}, "lead_s", id="negative-lead"),
        pytest.param({"lead_s": 60}, "lead_s", id="lead-a-whole-window"),
    ],
)
def test_rate_limits_validate_and_name_the_argument(
    kwargs: dict[str, object], argument: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        RateLimits(**kwargs)  # type: ignore[arg-type]
