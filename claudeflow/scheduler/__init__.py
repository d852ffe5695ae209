"""Who goes next: the priority line, the dispatcher and the Flow."""

from __future__ import annotations

from ._flow import Estimator as Estimator
from ._flow import Flow as Flow
from ._policies import QueuePolicy as QueuePolicy
from ._policies import SpendPolicy as SpendPolicy
from ._policies import TokenCounting as TokenCounting
from ._result import FlowStats as FlowStats
from ._result import Result as Result
from ._statistics import RunnerStatistics as RunnerStatistics
from ._stream import FlowStream as FlowStream

__all__ = [
    "Estimator",
    "Flow",
    "FlowStats",
    "FlowStream",
    "QueuePolicy",
    "Result",
    "RunnerStatistics",
    "SpendPolicy",
    "TokenCounting",
]
