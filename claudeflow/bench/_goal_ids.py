"""The suite's goals: their ids and thresholds (issue 4, and issue 5 for learned limits
and streaming). Judged in :mod:`._goals`; scenarios name the goals they serve."""

from __future__ import annotations

__all__ = [
    "EFFICIENCY",
    "EFFICIENCY_LEARNED",
    "GOAL_IDS",
    "MAX_429_PER_1K",
    "MAX_429_PER_1K_LEARNED",
    "MAX_BYTES_PER_QUEUED",
    "MAX_HIGH_TO_LOW_P95",
    "MAX_REFILL_PERIODS",
    "MEMORY",
    "MEMORY_AT_QUEUED",
    "MIN_EFFICIENCY",
    "MIN_EFFICIENCY_LEARNED",
    "MIN_OVERHEAD_RATIO",
    "OVERHEAD",
    "PRIORITY",
    "STARVATION",
]

EFFICIENCY = "efficiency"  # >= 0.95, no failed request, <= 1 server-side 429 per 1,000
EFFICIENCY_LEARNED = "efficiency_0.9"  # issue 5: >= 0.9 and <= 1 % of requests 429
PRIORITY = "priority"  # HIGH p95 queue wait <= 10 % of LOW p95
STARVATION = "starvation"  # the large request starts within two refill periods of its size
OVERHEAD = "overhead"  # >= 0.90 of raw aiohttp throughput
MEMORY = "memory"  # < 2 KB per queued request at 100,000 queued
GOAL_IDS = (EFFICIENCY, EFFICIENCY_LEARNED, PRIORITY, STARVATION, OVERHEAD, MEMORY)

MIN_EFFICIENCY = 0.95
MAX_429_PER_1K = 1.0
MIN_EFFICIENCY_LEARNED = 0.90
MAX_429_PER_1K_LEARNED = 10.0
MAX_HIGH_TO_LOW_P95 = 0.10
MAX_REFILL_PERIODS = 2.0
MIN_OVERHEAD_RATIO = 0.90
MAX_BYTES_PER_QUEUED = 2048.0
MEMORY_AT_QUEUED = 100_000
