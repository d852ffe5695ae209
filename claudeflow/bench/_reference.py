"""A scenario's perfect-schedule references: the wall times efficiency is measured against.

Computed once per scenario (and per reply mode: streamed replies are counted chunk by
chunk) from the workload and the exact simulator configuration the runs face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._perfect import perfect_requests, schedule
from ._scenario import LoadScenario
from ._server import simulator_config
from ._workload import WorkItem

__all__ = ["References", "references"]


@dataclass(frozen=True, slots=True)
class References:
    """Perfect wall times of one scenario: one FIFO line per pool, and work-conserving."""

    fifo_s: float
    work_conserving_s: float


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

    def wall(policy: str) -> float:
        return schedule(
            requests,
            config,
            policy="fifo" if policy == "fifo" else "work_conserving",
            concurrency=scenario.concurrency,
            streaming=streaming,
        ).wall_s

    return References(fifo_s=wall("fifo"), work_conserving_s=wall("work_conserving"))
