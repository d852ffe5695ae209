"""The ``models`` scenario's parts: streams that name a model, one perfect line per model
class, the Flow configurations compared (a pool per class, one summed pool)."""

from __future__ import annotations

from claudeflow import RateLimits
from claudeflow.bench._catalog import load_scenarios
from claudeflow.bench._client_flow import SUMMED_POOL, flow_limits
from claudeflow.bench._perfect import perfect_requests, schedule
from claudeflow.bench._scenario import Limits
from claudeflow.bench._target import Target
from claudeflow.bench._workload import Stream, Workload
from claudeflow.simulator import SimulatorConfig

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-5"
_LIMITS = Limits(rpm=60, input_tpm=600_000, output_tpm=60_000)


def _target(models: tuple[str, ...]) -> Target:
    return Target("http://127.0.0.1:1", "sk-test", HAIKU, _LIMITS, 4, 1, models=models)


def test_a_stream_names_its_model_and_the_workload_lists_them() -> None:
    workload = Workload((Stream(2, model=SONNET), Stream(1), Stream(1, model=HAIKU)))
    assert workload.models == (SONNET, HAIKU)
    models = [item.params("claude-opus-4-6")["model"] for item in workload.build(1)]
    assert sorted(models) == sorted([SONNET, SONNET, "claude-opus-4-6", HAIKU])


def test_each_model_class_is_its_own_perfect_line() -> None:
    # rpm 6 per 6 s minute, whole-minute buckets: 6 at once, then one per second.
    config = SimulatorConfig(rpm=6, minute_seconds=6.0, burst=1.0, ttft_s=0, per_token_s=0)
    split = Workload((Stream(8, model=HAIKU), Stream(8, model=SONNET))).build(1)
    one = Workload((Stream(16, model=HAIKU),)).build(1)
    requests = perfect_requests(split, model=HAIKU, config=config)
    assert {r.pool for r in requests} == {"claude-haiku-4", "claude-sonnet-4"}
    # Two pools: each sends 6 at 0 s and its last 2 at 1 s and 2 s.
    assert schedule(requests, config).wall_s == 2.0
    # The same 16 in one class: 6 at 0 s, then 10 more, one per second.
    assert schedule(perfect_requests(one, model=HAIKU, config=config), config).wall_s == 10.0


def test_flow_limits_name_each_class_or_sum_them_into_one_pool() -> None:
    per_minute = _LIMITS.rate_limits()
    assert flow_limits(_target(()), "create") == (per_minute, None)
    assert flow_limits(_target((HAIKU, SONNET)), "learned") == (None, None)
    assert flow_limits(_target((HAIKU, SONNET)), "create") == (
        {HAIKU: per_minute, SONNET: per_minute},
        None,
    )
    limits, pools = flow_limits(_target((HAIKU, SONNET)), "summed")
    assert isinstance(limits, RateLimits)
    assert (limits.rpm, limits.input_tpm, limits.output_tpm) == (120, 1_200_000, 120_000)
    assert (limits.window_s, limits.burst) == (per_minute.window_s, per_minute.burst)
    assert pools == {HAIKU: SUMMED_POOL, SONNET: SUMMED_POOL}
    # Two ids of one class share the server's buckets: nothing to sum.
    limits, _ = flow_limits(_target((HAIKU, "claude-haiku-4-5-20251001")), "summed")
    assert isinstance(limits, RateLimits) and limits.rpm == 60


def test_the_models_scenario_bounds_against_the_account_total() -> None:
    (models,) = [s for s in load_scenarios() if s.name == "models"]
    assert models.workload.models == (HAIKU, SONNET)
    total = models.account_limits
    assert total.rpm == 2 * (models.limits.rpm or 0)
    assert total.input_tpm == 2 * (models.limits.input_tpm or 0)
    assert total.minute_seconds == models.limits.minute_seconds
    (rpm,) = [s for s in load_scenarios() if s.name == "rpm_bound"]
    assert rpm.account_limits is rpm.limits
