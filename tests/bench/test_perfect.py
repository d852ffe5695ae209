"""The perfect schedule on cases small enough to check by hand.

Limits are per 6-second "minute" with buckets of a whole minute (``burst=1``), so a
limit of N refills N/6 per second from a capacity of N.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from claudeflow._errors import ConfigError
from claudeflow._types import Priority
from claudeflow.bench._catalog import load_scenarios
from claudeflow.bench._perfect import PerfectRequest, Schedule, perfect_requests, schedule
from claudeflow.bench._server import simulator_config
from claudeflow.bench._workload import Shape, Stream, WorkItem, Workload
from claudeflow.simulator import FaultConfig, SimulatorConfig
from claudeflow.simulator._tokenizer import measure_prompt


def _config(**values: Any) -> SimulatorConfig:
    values.setdefault("ttft_s", 0.0)
    values.setdefault("per_token_s", 0.0)
    return SimulatorConfig(minute_seconds=6.0, burst=1.0, **values)


def _request(
    index: int,
    *,
    arrival: float = 0.0,
    priority: int = Priority.NORMAL,
    input_tokens: int = 10,
    max_tokens: int = 60,
    output_tokens: int = 6,
) -> PerfectRequest:
    return PerfectRequest(index, arrival, priority, input_tokens, max_tokens, output_tokens)


def _run(requests: list[PerfectRequest], config: SimulatorConfig, **options: Any) -> Schedule:
    return schedule(requests, config, **options)


def test_three_requests_at_rpm_2_per_6_s_window() -> None:
    # A full bucket holds two requests; the third waits for one to refill: 6 s / 2 = 3 s.
    plan = _run([_request(n) for n in range(3)], _config(rpm=2))
    assert plan.starts == (0.0, 0.0, 3.0)
    assert plan.wall_s == pytest.approx(3.0)
    assert (plan.attempts, plan.failed) == (3, 0)
    slow = _run([_request(n) for n in range(3)], _config(rpm=2, ttft_s=0.5))
    assert slow.wall_s == pytest.approx(3.5)  # the last one's latency comes on top


def test_reserved_max_tokens_are_held_for_the_whole_latency() -> None:
    # OTPM 60: max_tokens=60 empties the bucket until the reply ends 1 s later and
    # refunds the 54 unused tokens; refill (10/s) and refund put it back at 60.
    reserve = _config(output_tpm=60, ttft_s=1.0, otpm_mode="reserve_max_tokens")
    plan = _run([_request(n) for n in range(3)], reserve)
    assert plan.starts == (0.0, 1.0, 2.0)
    assert plan.ends == (1.0, 2.0, 3.0)
    # The 2026 rule counts only the 6 tokens produced: all three go at once.
    actual = _run([_request(n) for n in range(3)], _config(output_tpm=60, ttft_s=1.0))
    assert actual.starts == (0.0, 0.0, 0.0)
    assert actual.wall_s == pytest.approx(1.0)


def test_actual_rule_debits_a_stream_chunk_by_chunk() -> None:
    # OTPM 6 (1 token/s back): 8 tokens in two chunks of 4, at 1 s (ttft) and at 2 s.
    # Streamed, the bucket is at -1 by 2 s, so a request arriving at 2.5 s waits for one
    # token of balance until 4 s. As JSON, 4 are debited at 1.75 s (token 4 exists at
    # ttft + 3 * 0.25 s) and 4 at the end (2.75 s): the balance at 2.5 s is 2.75, and the
    # second request goes on arrival.
    config = _config(output_tpm=6, ttft_s=1.0, per_token_s=0.25, stream_chunk_tokens=4)
    requests = [
        _request(0, max_tokens=8, output_tokens=8),
        _request(1, arrival=2.5, max_tokens=8, output_tokens=8),
    ]
    streamed = _run(requests, config, streaming=True)
    assert streamed.starts == (0.0, pytest.approx(4.0))
    assert _run(requests, config).starts == (0.0, 2.5)


def test_fifo_head_blocks_the_line_and_work_conserving_fills_the_gap() -> None:
    # ITPM 100: after a 90-token request, a 100-token head waits 5.4 s for its tokens;
    # FIFO holds the 10-token request (3 s of latency) behind it, first-fit sends it now.
    config = _config(input_tpm=100, per_token_s=1.0)
    requests = [
        _request(0, input_tokens=90, output_tokens=1),
        _request(1, input_tokens=100, output_tokens=1),
        _request(2, input_tokens=10, output_tokens=4),
    ]
    fifo = _run(requests, config, policy="fifo")
    assert fifo.starts == (0.0, pytest.approx(5.4), pytest.approx(6.0))
    assert fifo.wall_s == pytest.approx(9.0)
    greedy = _run(requests, config, policy="work_conserving")
    assert greedy.starts == (0.0, pytest.approx(6.0), 0.0)
    assert greedy.wall_s == pytest.approx(6.0)


def test_a_later_high_priority_request_goes_before_waiting_low_ones() -> None:
    config = _config(rpm=1)  # one request, then one every 6 s
    requests = [
        _request(0, priority=Priority.LOW),
        _request(1, priority=Priority.LOW),
        _request(2, arrival=1.0, priority=Priority.HIGH),
    ]
    for policy in ("fifo", "work_conserving"):
        assert _run(requests, config, policy=policy).starts == (0.0, 12.0, 6.0)


def test_concurrency_limits_requests_in_flight() -> None:
    plan = _run([_request(n) for n in range(3)], _config(ttft_s=1.0), concurrency=1)
    assert plan.starts == (0.0, 1.0, 2.0)
    assert plan.wall_s == pytest.approx(3.0)


def test_a_request_that_can_never_fit_fails_at_once_without_blocking_the_line() -> None:
    plan = _run([_request(0, input_tokens=101), _request(1)], _config(input_tpm=100))
    assert plan.starts == (None, 0.0)
    assert plan.failed == 1


def test_nothing_is_sent_during_an_overload_window() -> None:
    faults = FaultConfig(overload_window=(0.0, 2.0))
    plan = _run([_request(0)], _config(rpm=60, ttft_s=1.0, faults=faults))
    assert plan.starts == (2.0,)
    assert plan.wall_s == pytest.approx(3.0)
    assert plan.attempts == 1


def test_a_529_is_retried_at_once_and_costs_no_time() -> None:
    # Seed 3's error_529 draws: 0.27, 0.37 (both < 0.5: 529s), then 0.55 (admitted).
    draws = random.Random("3/error_529")
    assert [draws.random() < 0.5 for _ in range(3)] == [True, True, False]
    faults = FaultConfig(error_529=0.5)
    plan = _run([_request(0)], _config(rpm=60, ttft_s=1.0, seed=3, faults=faults))
    assert plan.starts == (0.0,)
    assert plan.wall_s == pytest.approx(1.0)
    assert plan.attempts == 3


def test_a_dropped_connection_costs_its_latency_and_its_quota() -> None:
    # Seed 4's connection_drop draws: 0.17 (dropped), 0.83, 0.99 (delivered).
    draws = random.Random("4/connection_drop")
    assert [draws.random() < 0.5 for _ in range(3)] == [True, False, False]
    faults = FaultConfig(connection_drop=0.5)
    config = _config(rpm=2, ttft_s=1.0, seed=4, faults=faults)
    # Request 0 is dropped after its 1 s of latency, having spent one of the two requests
    # in the bucket; request 1 took the other, so the retry waits for a refill (3 s).
    plan = _run([_request(0), _request(1)], config)
    assert plan.starts == (pytest.approx(3.0), 0.0)
    assert plan.ends == (pytest.approx(4.0), 1.0)
    assert plan.attempts == 3


def test_requests_are_measured_by_the_simulators_tokenizer() -> None:
    shape = Shape(input_tokens=(300, 300), max_tokens=(64, 64), output_fraction=(0.5, 0.5))
    items = Workload((Stream(3, shape, interval_s=0.5),)).build(seed=7)
    requests = perfect_requests(items, model="claude-haiku-4-5", config=_config())
    for item, request in zip(items, requests, strict=True):
        assert request.input_tokens == measure_prompt(item.params("claude-haiku-4-5")).total
        assert request.output_tokens == item.output_tokens == 32
        assert (request.arrival_s, request.pool) == (item.arrival_s, "claude-haiku-4")


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="policy"):
        schedule([], _config(), policy="random")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="concurrency"):
        schedule([], _config(), concurrency=0)
    cached = _CachedItem(0, 0.0, Priority.NORMAL, "hello", 16, 8, 10)
    with pytest.raises(ConfigError, match="prompt caching"):
        perfect_requests([cached], model="claude-haiku-4-5", config=_config())


class _CachedItem(WorkItem):
    """A work item whose prompt carries a cache breakpoint."""

    def params(self, model: str) -> dict[str, Any]:
        block = {"type": "text", "text": self.prompt, "cache_control": {"type": "ephemeral"}}
        return {**WorkItem.params(self, model), "messages": [{"role": "user", "content": [block]}]}


def test_an_admission_threshold_above_the_bucket_still_admits() -> None:
    # Under the actual rule the server admits on one token of balance, so a holdback
    # threshold (all of max_tokens=600) is capped at the 60-token bucket, not refused.
    config = _config(output_tpm=60)
    plan = _run([_request(0, max_tokens=600)], config, holdbacks=(1.0,))
    assert (plan.failed, plan.starts) == (0, (0.0,))


def test_tail_groups_are_booleans() -> None:
    with pytest.raises(ConfigError, match="tail_groups"):
        _run([_request(0)], _config(output_tpm=60), concurrency=2, tail_groups=("yes",))


def test_holdbacks_are_fractions() -> None:
    for bad in ((1.5,), (-0.1,), (float("nan"),)):
        with pytest.raises(ConfigError, match="holdbacks"):
            _run([_request(0)], _config(output_tpm=60), holdbacks=bad)


def test_under_the_actual_rule_a_threshold_can_beat_the_earliest_instant() -> None:
    # otpm_bound_actual, seed 1: the earliest-instant client ends at 6.18 s; waiting for
    # half a max_tokens of balance before each burst ends at 5.54 s. Gathering the
    # line's tail into one last burst ends at 5.49 s, whatever the threshold. The
    # reference is the best of the family, so it is the last.
    scenario = next(s for s in load_scenarios() if s.name == "otpm_bound_actual")
    config = simulator_config(scenario, 1)
    requests = perfect_requests(
        scenario.workload.build(1), model="claude-sonnet-4-5", config=config
    )
    plain = (False,)
    earliest = schedule(requests, config, concurrency=32, holdbacks=(0.0,), tail_groups=plain)
    threshold = schedule(requests, config, concurrency=32, tail_groups=plain)
    best = schedule(requests, config, concurrency=32)
    assert earliest.wall_s == pytest.approx(6.18, abs=0.01)
    assert (threshold.holdback, threshold.failed) == (0.5, 0)
    assert threshold.wall_s == pytest.approx(5.54, abs=0.01)
    assert (best.holdback, best.tail_group, best.failed) == (0.0, True, 0)
    assert best.wall_s == pytest.approx(5.49, abs=0.01)


def test_the_tail_of_a_line_goes_as_one_group() -> None:
    # OTPM 60 per 6 s (10 tokens/s back), two in flight at most, each reply 60 tokens
    # debited when it ends 1 s after admission; the bucket is full (60) until then. The
    # earliest-instant client sends A and B at 0 s; at 1 s both debit, leaving -60, and
    # C waits for one token until 7.1 s. Gathered, A goes alone (three wait, more than
    # two may be out) and B and C wait to go together: at 1 s A leaves 0, and both go
    # on the first token, at 1.1 s.
    config = _config(output_tpm=60, ttft_s=1.0)
    requests = [_request(n, max_tokens=60, output_tokens=60) for n in range(3)]
    greedy = _run(requests, config, concurrency=2, holdbacks=(0.0,), tail_groups=(False,))
    assert greedy.starts == (0.0, 0.0, pytest.approx(7.1))
    assert greedy.wall_s == pytest.approx(8.1)
    gathered = _run(requests, config, concurrency=2)
    assert gathered.tail_group
    assert gathered.starts == pytest.approx((0.0, 1.1, 1.1))
    assert gathered.wall_s == pytest.approx(2.1)
    # Under the reserve rule admission takes what it checks: nothing is gathered.
    reserve = _run(requests, replace(config, otpm_mode="reserve_max_tokens"), concurrency=2)
    assert not reserve.tail_group


def test_every_load_scenario_streams_40_token_deltas() -> None:
    # Events per second on the scenarios' time scale (ServerModel); the perfect schedule
    # and the simulator read the same config, so both must see it.
    for scenario in load_scenarios():
        assert simulator_config(scenario, 1).stream_chunk_tokens == 40, scenario.name
