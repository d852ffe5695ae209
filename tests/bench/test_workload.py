"""Workloads are deterministic per seed, sized as asked, and scale as documented."""

from __future__ import annotations

import random

from claudeflow._types import Priority
from claudeflow.bench._catalog import load_scenarios
from claudeflow.bench._workload import Shape, Stream, Workload, prompt_of_size
from claudeflow.simulator import count_text

_WORKLOAD = Workload(
    (
        Stream(30, Shape(input_tokens=(100, 400), max_tokens=(32, 64), output_fraction=(0.2, 1))),
        Stream(5, priority=Priority.HIGH, start_s=0.1, interval_s=0.05, tag="t"),
    )
)


def test_same_seed_same_items_other_seed_other_items() -> None:
    assert _WORKLOAD.build(7) == _WORKLOAD.build(7)
    assert _WORKLOAD.build(7) != _WORKLOAD.build(8)


def test_items_are_sorted_by_arrival_and_indexed() -> None:
    items = _WORKLOAD.build(3)
    assert [i.index for i in items] == list(range(35))
    assert [i.arrival_s for i in items] == sorted(i.arrival_s for i in items)
    assert sum(i.priority == Priority.HIGH for i in items) == 5
    assert _WORKLOAD.last_arrival_s == 0.1 + 0.05 * 4


def test_sizes_stay_in_their_ranges_and_the_output_directive_is_exact() -> None:
    for item in _WORKLOAD.build(11)[:30]:
        assert 32 <= item.max_tokens <= 64
        assert 1 <= item.output_tokens <= item.max_tokens
        assert f"[[output_tokens={item.output_tokens}]]" in item.prompt
        assert 95 <= item.input_tokens <= 410


def test_prompt_of_size_hits_the_simulator_count() -> None:
    rng = random.Random(0)
    for target in (50, 500, 5_000):
        prompt = prompt_of_size(target, 10, rng, label=1)
        assert abs(count_text(prompt) + 7 - target) <= 2


def test_scaling_multiplies_counts_but_keeps_fixed_streams() -> None:
    fixed = Workload((Stream(100), Stream(1, start_s=2.0, fixed=True)))
    scaled = fixed.scaled(0.5)
    assert [s.count for s in scaled.streams] == [50, 1]
    assert scaled.streams[1].start_s == 1.0


def test_default_scenarios_are_rate_bound_and_uniquely_named() -> None:
    scenarios = load_scenarios()
    assert len({s.name for s in scenarios}) == len(scenarios)
    for scenario in scenarios:
        items = scenario.workload.build(1)
        limits = scenario.limits
        demand = sum(i.input_tokens for i in items)
        assert limits.input_tpm is not None
        assert max(i.input_tokens for i in items) < (limits.capacity("input_tokens") or 0)
        assert (
            len(items) > (limits.capacity("requests") or 0)
            or demand > (limits.capacity("input_tokens") or 0)
            or sum(i.output_tokens for i in items) > (limits.capacity("output_tokens") or 0)
        )
