"""snapshot(): frozen statistics from counters named after their fields."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from claudeflow._snapshot import snapshot


@dataclass(frozen=True, slots=True)
class Stats:
    hits: int = 0
    misses: int = 0
    saved_usd: float = 0.0


def test_fields_come_from_counters_of_their_name_and_untouched_ones_read_zero() -> None:
    stats = snapshot(Stats, Counter(hits=3, unrelated=9), saved_usd=1.5)
    assert stats == Stats(hits=3, misses=0, saved_usd=1.5)


def test_a_given_value_wins_over_the_counter_of_the_same_name() -> None:
    assert snapshot(Stats, Counter(hits=3), hits=7).hits == 7


def test_a_misspelt_given_field_is_refused() -> None:
    with pytest.raises(TypeError):
        snapshot(Stats, Counter(), hitz=1)
