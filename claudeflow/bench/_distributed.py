"""The ``distributed`` benchmark: several OS processes share one account's limits.

One workload, split over ``processes`` worker processes (:mod:`._worker`) against one
simulator: process 0 holds a LOW backlog, process 1 sends HIGH requests arriving over
time, the rest hold NORMAL backlogs. The same items run in each setup:

- ``single``: one process sends everything (the reference a shared setup should match);
- ``redis``: every process has the full limits in one ``RedisBackend`` (shared buckets);
- ``full``: every process has the full limits to itself (what users do today);
- ``quarter``: every process has a static 1/N of the limits;
- ``outage-fail`` / ``outage-degrade``: as ``redis``, with Redis killed at ``outage[0]``
  and started again at ``outage[1]`` (``on_failure`` as named).

Efficiency is the perfect FIFO schedule of the whole workload (one line, as if one
client saw every request) over the measured wall time. Server 429s come from the
simulator's counters, Redis round trips from ``INFO commandstats`` (the commands the
backends sent; those their scripts run inside Redis are no trips). The goals and the
report are in :mod:`._distributed_report`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .._types import Priority
from ..testing import RedisServer, redis_server
from ..tokens._numbers import quantile
from ._processes import run_processes
from ._reference import References, references
from ._scenario import Limits, LoadScenario
from ._server import local_server, simulator_config
from ._target import Target
from ._worker import OnFailure, WorkerPlan, WorkerReport
from ._workload import Shape, Stream, WorkItem, Workload

__all__ = ["SETUPS", "DistributedConfig", "Setup", "SetupResult", "run_distributed"]

Setup = Literal["single", "redis", "full", "quarter", "outage-fail", "outage-degrade"]
SETUPS: tuple[Setup, ...] = ("single", "redis", "full", "quarter", "outage-fail", "outage-degrade")
# Commands a backend sends itself; what its scripts run inside Redis is no round trip.
_TRIPS = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_script|load", "cmdstat_ping")
_BACKLOG = Shape(input_tokens=(500, 2500), max_tokens=(128, 128), output_fraction=(0.1, 0.25))
_URGENT = Shape(input_tokens=(200, 400), max_tokens=(128, 128), output_fraction=(0.1, 0.25))
_TRICKLE = Shape(input_tokens=(900, 1100), max_tokens=(64, 64), output_fraction=(0.25, 0.25))
_LIMITS = Limits(rpm=6_000, input_tpm=900_000, output_tpm=1_200_000)


@dataclass(frozen=True, slots=True)
class DistributedConfig:
    """The workload, the limits, and which setups to run.

    :param trickle: NORMAL requests of each process after the first two, one every
        ``trickle_interval_s`` (0, the default: a backlog at the start, so that those
        processes race the LOW backlog for the same buckets)
    :param outage: seconds after the start at which Redis is killed, then started again
    """

    processes: int = 4
    backlog: int = 1_000
    urgent: int = 60
    urgent_interval_s: float = 0.15
    trickle: int = 150
    trickle_interval_s: float = 0.0
    limits: Limits = _LIMITS
    concurrency: int = 32
    outage: tuple[float, float] = (3.0, 5.0)
    setups: tuple[Setup, ...] = SETUPS
    seed: int = 1
    model: str = "claude-haiku-4-5"
    api_key: str = field(default="sk-bench", repr=False)

    def scenario(self) -> LoadScenario:
        """The whole workload as one scenario (its perfect schedule is the reference)."""
        streams = [
            Stream(self.backlog, _BACKLOG, priority=Priority.LOW, tag="p0"),
            Stream(
                self.urgent,
                _URGENT,
                priority=Priority.HIGH,
                start_s=0.5,
                interval_s=self.urgent_interval_s,
                tag="p1",
            ),
            *(
                Stream(self.trickle, _TRICKLE, interval_s=self.trickle_interval_s, tag=f"p{n}")
                for n in range(2, self.processes)
            ),
        ]
        return LoadScenario(
            name="distributed",
            title=(
                f"{self.processes} processes, one account: a LOW backlog of {self.backlog} "
                f"in one, HIGH requests over time in another, NORMAL backlogs of "
                f"{self.trickle} in the rest"
            ),
            limits=self.limits,
            workload=Workload(tuple(streams)),
            clients=(),
            concurrency=self.concurrency * self.processes,
        )


@dataclass(frozen=True, slots=True)
class SetupResult:
    """One setup's run, judged against the perfect schedule of what it completed."""

    setup: Setup
    processes: int
    requests: int
    completed: int
    failed: int
    unfinished: int
    errors: dict[str, int]
    wall_s: float
    perfect_fifo_s: float | None
    efficiency: float | None
    server_429: int
    per_1k_429: float
    high_wait_p95_s: float | None
    low_wait_p95_s: float | None
    redis_trips_per_request: float | None
    modes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


async def run_distributed(config: DistributedConfig) -> tuple[SetupResult, ...]:
    """Every setup of ``config`` in order, each against a fresh simulator (and Redis)."""
    scenario = config.scenario()
    items = scenario.workload.build(config.seed)
    full = references(scenario, items, model=config.model, seed=config.seed)
    return tuple([await _run_setup(config, scenario, items, full, s) for s in config.setups])


async def _run_setup(
    config: DistributedConfig,
    scenario: LoadScenario,
    items: Sequence[WorkItem],
    full: References,
    setup: Setup,
) -> SetupResult:
    timeout = 10.0 + 4.0 * full.fifo_s
    async with local_server(simulator_config(scenario, config.seed)) as server:
        with _redis(setup) as redis:
            url = None if redis is None else redis.url
            plans = _plans(config, setup, items, server.url, url, timeout)
            trips_before = await _trips(url)
            before = await server.counters()
            outage = redis if setup.startswith("outage") else None
            reports = await run_processes(plans, outage, config.outage)
            after = await server.counters()
            trips = None if setup.startswith("outage") else await _trips(url)
    assert before is not None and after is not None
    served = after.minus(before)
    per_request = None
    if trips is not None and trips_before is not None:
        per_request = round((trips - trips_before) / len(items), 2)
    return _summarize(config, setup, items, reports, served.rate_limited, per_request, timeout)


def _plans(
    config: DistributedConfig,
    setup: Setup,
    items: Sequence[WorkItem],
    base_url: str,
    redis_url: str | None,
    timeout_s: float,
) -> list[WorkerPlan]:
    on_failure: OnFailure = "degrade" if setup == "outage-degrade" else "fail"
    target = Target(
        base_url, config.api_key, config.model, config.limits, config.concurrency, config.seed
    )
    plan = WorkerPlan(target, (), timeout_s, redis_url, on_failure)
    if setup == "single":
        everything = replace(target, concurrency=target.concurrency * config.processes)
        return [replace(plan, target=everything, items=tuple(items))]
    limits = config.limits.times(1 / config.processes) if setup == "quarter" else config.limits
    return [
        replace(
            plan,
            target=replace(target, limits=limits, seed=config.seed + n),
            items=tuple(i for i in items if i.tag == f"p{n}"),
        )
        for n in range(config.processes)
    ]


@contextlib.contextmanager
def _redis(setup: Setup) -> Iterator[RedisServer | None]:
    if setup in ("single", "full", "quarter"):
        yield None
        return
    with redis_server() as server:
        yield server


async def _trips(url: str | None) -> int | None:
    """Commands the backends sent so far (``None`` without Redis)."""
    if url is None:
        return None
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in _TRIPS)


def _summarize(
    config: DistributedConfig,
    setup: Setup,
    items: Sequence[WorkItem],
    reports: Sequence[WorkerReport],
    server_429: int,
    trips: float | None,
    timeout_s: float,
) -> SetupResult:
    every = [row for report in reports for row in report.outcomes]
    rows = {row[0]: row for row in every}
    if sorted(row[0] for row in every) != sorted(item.index for item in items):
        raise RuntimeError(f"{setup}: the workers' outcomes do not cover every item once")
    done = [item for item in items if rows[item.index][1]]
    ends = [row[4] for row in rows.values() if row[4] is not None]
    timed_out = any(report.timed_out for report in reports)
    wall = timeout_s if timed_out else max(ends, default=0.0)
    perfect = None
    if done:
        reference = references(config.scenario(), done, model=config.model, seed=config.seed)
        perfect = reference.fifo_s
    errors: dict[str, int] = {}
    for row in rows.values():
        if not row[1] and row[2] is not None:
            errors[row[2]] = errors.get(row[2], 0) + 1
    return SetupResult(
        setup=setup,
        processes=len(reports),
        requests=len(items),
        completed=len(done),
        failed=sum(1 for row in rows.values() if not row[1] and row[4] is not None),
        unfinished=sum(1 for row in rows.values() if row[4] is None),
        errors=errors,
        wall_s=round(wall, 3),
        perfect_fifo_s=None if perfect is None else round(perfect, 3),
        efficiency=None if perfect is None or wall <= 0 else round(perfect / wall, 3),
        server_429=server_429,
        per_1k_429=round(1000 * server_429 / len(items), 2),
        high_wait_p95_s=_wait_p95(items, rows, Priority.HIGH),
        low_wait_p95_s=_wait_p95(items, rows, Priority.LOW),
        redis_trips_per_request=trips,
        modes=tuple(line for report in reports for line in report.modes),
    )


def _wait_p95(
    items: Sequence[WorkItem], rows: dict[int, tuple[Any, ...]], priority: int
) -> float | None:
    waits = sorted(
        rows[i.index][3] for i in items if i.priority == priority and rows[i.index][3] is not None
    )
    return None if not waits else round(quantile(waits, 0.95), 4)
