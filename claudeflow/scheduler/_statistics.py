"""The runner's frozen statistics: what a Flow's attempts came to, as one snapshot.

Each component answers ``statistics()`` with a frozen object (anyio's pattern: a
snapshot to read at leisure, never the live counters); :class:`FlowStats` carries this
one as ``runner`` beside its flat fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..retry import ServerLimits
from ..routing import ArmStatistics

__all__ = ["RunnerStatistics"]


@dataclass(frozen=True, slots=True)
class RunnerStatistics:
    """What the runner's attempts came to (a snapshot; :attr:`FlowStats` shows it flat)."""

    completed: int = 0
    failed: int = 0
    retries: int = 0
    rate_limited: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    unpriced_requests: int = 0
    statuses: Mapping[int, int] = field(default_factory=dict)
    server: ServerLimits | None = None
    arms: Mapping[str, Mapping[str, ArmStatistics]] = field(default_factory=dict)
