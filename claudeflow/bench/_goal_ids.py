"""The suite's goals: their ids and thresholds. Judged in :mod:`._goals`; scenarios name
the goals they serve.

Efficiency goals are stated against the perfect schedule (:mod:`._perfect`): FIFO for
scenarios where one line is what a client should reach, work-conserving where requests
of different sizes and classes leave gaps a client could fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "EFFICIENCY",
    "EFFICIENCY_FAULTS",
    "EFFICIENCY_LEARNED",
    "EFFICIENCY_MIXED",
    "EFFICIENCY_MODELS",
    "EFFICIENCY_TARGETS",
    "GOAL_IDS",
    "MAX_BYTES_PER_QUEUED",
    "MAX_HIGH_TO_LOW_P95",
    "MAX_REFILL_PERIODS",
    "MEMORY",
    "MEMORY_AT_QUEUED",
    "MIN_OVERHEAD_RATIO",
    "OVERHEAD",
    "PRIORITY",
    "STARVATION",
    "EfficiencyTarget",
]

EFFICIENCY = "efficiency"  # rate-bound: >= 0.99 of FIFO, no failed request, <= 1 429 per 1k
EFFICIENCY_MIXED = "efficiency_mixed"  # mixed priorities: >= 0.97 of work-conserving
EFFICIENCY_FAULTS = "efficiency_faults"  # faults: >= 0.95 of work-conserving
EFFICIENCY_LEARNED = "efficiency_learned"  # learned limits: within 3 % of FIFO
EFFICIENCY_MODELS = "efficiency_models"  # a pool per model class: >= 0.97 of FIFO, no 429
PRIORITY = "priority"  # HIGH p95 queue wait <= 10 % of LOW p95
STARVATION = "starvation"  # the large request starts within two refill periods of its size
OVERHEAD = "overhead"  # >= 0.90 of raw aiohttp throughput
MEMORY = "memory"  # < 2 KB per queued request at 100,000 queued
GOAL_IDS = (
    EFFICIENCY,
    EFFICIENCY_MIXED,
    EFFICIENCY_FAULTS,
    EFFICIENCY_LEARNED,
    EFFICIENCY_MODELS,
    PRIORITY,
    STARVATION,
    OVERHEAD,
    MEMORY,
)


@dataclass(frozen=True, slots=True)
class EfficiencyTarget:
    """An efficiency goal: the reference, its minimum, and what else must hold.

    :param no_failures: every request must succeed (learned limits may lose a few to
        the 429s that teach them)
    :param of_configured: ``minimum`` is a share of the efficiency the same scenario's
        ``claudeflow`` run (limits given) reached, and the judged run is the other one
    """

    reference: Literal["fifo", "work_conserving"]
    minimum: float
    max_per_1k: float
    no_failures: bool = True
    of_configured: bool = False


EFFICIENCY_TARGETS = {
    EFFICIENCY: EfficiencyTarget("fifo", 0.99, 1.0),
    EFFICIENCY_MIXED: EfficiencyTarget("work_conserving", 0.97, 1.0),
    EFFICIENCY_FAULTS: EfficiencyTarget("work_conserving", 0.95, 1.0),
    # Learned limits within 3 % of configured ones, on the same workload in the same run.
    EFFICIENCY_LEARNED: EfficiencyTarget("fifo", 0.97, 10.0, no_failures=False, of_configured=True),
    EFFICIENCY_MODELS: EfficiencyTarget("fifo", 0.97, 0.0),
}
MAX_HIGH_TO_LOW_P95 = 0.10
MAX_REFILL_PERIODS = 2.0
MIN_OVERHEAD_RATIO = 0.90
MAX_BYTES_PER_QUEUED = 2048.0
MEMORY_AT_QUEUED = 100_000
