"""The default scenarios: their limits, time scale, workloads and clients.

Every "minute" is compressed with the simulator's ``minute_seconds`` (6 s unless noted)
and buckets hold ``burst = 0.1`` of a minute, so a scenario's demand is many bucket
capacities and its bound a few seconds. Sizes are chosen so the default suite stays
rate-bound (not CPU-bound) on a 2-core machine with server and clients in one process.
``--scale`` multiplies request counts; ``--smoke`` shrinks everything to seconds.
"""

from __future__ import annotations

from dataclasses import replace

from .._types import Priority
from ._goal_ids import (
    EFFICIENCY,
    EFFICIENCY_FAULTS,
    EFFICIENCY_LEARNED,
    EFFICIENCY_MIXED,
    EFFICIENCY_MODELS,
    PRIORITY,
    STARVATION,
)
from ._scenario import Limits, LoadScenario, ServerModel
from ._workload import Shape, Stream, Workload

__all__ = ["BASELINES", "SPECIAL", "load_scenarios", "scenario_names"]

BASELINES = ("sdk", "sdk-r10", "aiolimiter")
SPECIAL = ("overhead", "scale")  # not load scenarios: see _overhead.py and _scale.py
_ALL = ("claudeflow", *BASELINES)
# sdk-r10 differs from sdk only in how often it retries, which shows where requests fail
# (otpm_bound_reserve, faults); elsewhere it repeats sdk's row and would cost a run that
# the 3-minute default suite cannot spare. The OTPM and ITPM runs are twice as long as
# the RPM one: their last requests' latency is a fixed cost that a 3 s run cannot hide.
_RATE_BOUND = ("claudeflow", "sdk", "aiolimiter")

_TINY = Shape(input_tokens=(20, 40), max_tokens=(64, 64), output_fraction=(0.25, 0.25))
_VARIED = Shape(input_tokens=(500, 4000), max_tokens=(64, 64), output_fraction=(0.25, 0.5))
_LONG_OUT = Shape(input_tokens=(40, 120), max_tokens=(500, 2000), output_fraction=(0.3, 1.0))
_BACKLOG = Shape(input_tokens=(500, 2500), max_tokens=(128, 128), output_fraction=(0.1, 0.25))
_URGENT = Shape(input_tokens=(200, 400), max_tokens=(128, 128), output_fraction=(0.1, 0.25))
_SMALL = Shape(input_tokens=(900, 1100), max_tokens=(64, 64), output_fraction=(0.25, 0.25))

_RPM = Limits(rpm=1_200, input_tpm=6_000_000, output_tpm=1_200_000)
_ITPM = Limits(rpm=6_000, input_tpm=600_000, output_tpm=1_200_000)
_OTPM = Limits(rpm=6_000, input_tpm=6_000_000, output_tpm=120_000)


def _models_workload() -> Workload:
    """Small prompts for two model classes over the same 3 s: Haiku at 320 requests/s,
    above its class's 200/s (RPM binds its pool), Sonnet at 160/s, below it. Together
    they stay under the summed 400/s, which is why one summed bucket looks safe."""
    haiku = Stream(960, _TINY, interval_s=3.0 / 960, model="claude-haiku-4-5")
    sonnet = Stream(480, _TINY, interval_s=3.0 / 480, model="claude-sonnet-4-5")
    return Workload((haiku, sonnet))


def _mixed_workload() -> Workload:
    return Workload(
        (
            Stream(200, _BACKLOG, priority=Priority.LOW),
            Stream(50, _URGENT, priority=Priority.HIGH, start_s=0.05, interval_s=0.05),
        )
    )


def _default() -> tuple[LoadScenario, ...]:
    otpm = _efficiency(
        "otpm_bound_actual",
        "large max_tokens, outputs 30-100 % of it; server OTPM rule: actual",
        _OTPM,
        Stream(180, _LONG_OUT),
    )
    return (
        _efficiency("rpm_bound", "many small prompts; RPM binds", _RPM, Stream(720, _TINY)),
        _efficiency(
            "itpm_bound",
            "large prompts of varied size (500-4000 tokens); ITPM binds",
            _ITPM,
            Stream(300, _VARIED),
        ),
        otpm,
        replace(
            otpm,
            name="otpm_bound_reserve",
            title="as otpm_bound_actual; server OTPM rule: reserve max_tokens",
            server=ServerModel(otpm_mode="reserve_max_tokens"),
            clients=_ALL,
        ),
        _mixed_priority(),
        _starvation(),
        _faults(),
        _models(),
        *_unknown_limits(),
        replace(
            otpm,
            name="streaming",
            title="otpm_bound_actual's workload through Flow.stream",
            clients=("claudeflow-stream",),
        ),
    )


def _efficiency(name: str, title: str, limits: Limits, stream: Stream) -> LoadScenario:
    """One stream against ``limits``: how much of the binding limit each client uses."""
    return LoadScenario(
        name=name,
        title=title,
        limits=limits,
        workload=Workload((stream,)),
        clients=_RATE_BOUND,
        goals=(EFFICIENCY,),
    )


def _mixed_priority() -> LoadScenario:
    return LoadScenario(
        name="mixed_priority",
        title="LOW backlog of 200 + a HIGH request every 50 ms; ITPM binds",
        limits=_ITPM,
        workload=_mixed_workload(),
        clients=_RATE_BOUND,
        goals=(EFFICIENCY_MIXED, PRIORITY),
    )


def _starvation() -> LoadScenario:
    # fixed=True: scaling the suite must not shrink the one request the goal is about.
    large = Stream(
        1,
        Shape(input_tokens=(36_000, 36_000), max_tokens=(64, 64)),
        start_s=1.0,
        tag="large",
        fixed=True,
    )
    return LoadScenario(
        name="starvation",
        title=(
            "one 36k-token request at t=1 s among 1k-token ones: a 60-request burst "
            "empties the ITPM bucket, then 95 % of ITPM keeps it near empty"
        ),
        limits=_ITPM,
        workload=Workload((Stream(60, _SMALL), Stream(285, _SMALL, interval_s=3.0 / 285), large)),
        clients=("claudeflow", "aiolimiter"),
        goals=(STARVATION,),
    )


def _faults() -> LoadScenario:
    return LoadScenario(
        name="faults",
        title="mixed_priority with 3 % 529s, 2 % 500s and every request 529 in 1.0-1.4 s",
        limits=_ITPM,
        workload=_mixed_workload(),
        clients=_ALL,
        server=ServerModel(error_529=0.03, error_500=0.02, overload_window=(1.0, 1.4)),
        goals=(EFFICIENCY_FAULTS,),
        local_only=True,  # an external server cannot be told to inject faults
    )


def _models() -> LoadScenario:
    return LoadScenario(
        name="models",
        title=(
            "Haiku at 320 req/s and Sonnet at 160 req/s, interleaved; the server's "
            "1,200 RPM (200/s) is per model class"
        ),
        limits=Limits(rpm=1_200, input_tpm=600_000, output_tpm=1_200_000),
        workload=_models_workload(),
        clients=("claudeflow", "claudeflow-summed"),
        goals=(EFFICIENCY_MODELS,),
    )


def _unknown_limits() -> tuple[LoadScenario, ...]:
    return (
        _learned(
            "unknown_limits",
            "limits=None on the client, learned from headers; real 60 s minute",
            6_000_000,
            Workload((Stream(1_200, _TINY),)),
        ),
        _learned(
            "unknown_limits_mixed",
            "mixed_priority's workload, limits=None (learned); ITPM binds; real 60 s minute",
            2_400_000,
            _mixed_workload(),
        ),
    )


def _learned(name: str, title: str, input_tpm: float, workload: Workload) -> LoadScenario:
    """``workload`` for a client given no limits: it learns them from the headers."""
    limits = Limits(
        rpm=12_000, input_tpm=input_tpm, output_tpm=1_200_000, minute_seconds=60, burst=0.05
    )
    return LoadScenario(
        name=name,
        title=title,
        limits=limits,
        workload=workload,
        clients=("claudeflow", "claudeflow-learned"),  # the goal compares the two
        goals=(EFFICIENCY_LEARNED,),
    )


def load_scenarios(*, smoke: bool = False, scale: float = 1.0) -> tuple[LoadScenario, ...]:
    """The default load scenarios, scaled (``smoke``: a seconds-long reduced run)."""
    factor = 0.12 if smoke else scale
    scenarios = _default()
    if factor == 1.0:
        return scenarios
    return tuple(s.scaled(factor) for s in scenarios)


def scenario_names() -> tuple[str, ...]:
    """Every scenario name, in the order the suite runs them."""
    return (*(s.name for s in _default()), *SPECIAL)
