"""A scenario's perfect-schedule references: the wall times efficiency is measured against.

Computed from the workload and the exact simulator configuration the runs face, per
reply mode (streamed replies are counted chunk by chunk). A run that lost requests is
measured against the perfect schedule of the requests it completed: finishing early by
dropping work is not efficiency (the goals also require that nothing fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._perfect import POLICIES, perfect_requests, schedule
from ._scenario import LoadScenario
from ._server import simulator_config
from ._workload import WorkItem

__all__ = ["References", "references"]


@dataclass(frozen=True, slots=True)
class References:
    """Perfect wall times of a scenario's requests: one FIFO line per pool, and
    work-conserving.

    :ivar requests: how many of the scenario's requests they schedule
    :ivar fifo_last_start_s: when the FIFO schedule admits its last request (what is left
        after it is the tail: the last replies' latency)
    """

    fifo_s: float
    work_conserving_s: float
    requests: int
    fifo_last_start_s: float


def references(
    scenario: LoadScenario,
    items: Sequence[WorkItem],
    *,
    model: str,
    seed: int,
    streaming: bool = False,
) -> References:
    """The perfect schedules of ``items`` against ``scenario``'s simulator (seed ``seed``)."""
    config = simulator_config(scenario, seed)
    requests = perfect_requests(items, model=model, config=config)
    fifo, greedy = (
        schedule(
            requests,
            config,
            policy=policy,
            concurrency=scenario.concurrency,
            streaming=streaming,
        )
        for policy in POLICIES
    )
    last = max((start for start in fifo.starts if start is not None), default=0.0)
    return References(fifo.wall_s, greedy.wall_s, len(requests), last)
