"""Where and how a client sends: the server, the key, the model and the scenario limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..simulator._config import OtpmMode
from ._scenario import Limits

__all__ = ["Target"]


@dataclass(frozen=True, slots=True)
class Target:
    """Everything a client needs to reach the server under a scenario's limits.

    :ivar models: the models the workload's streams name (their classes are separate
        pools on the server, each with ``limits``); empty: only ``model``
    :ivar time_scale: ``minute_seconds / 60``: baselines scale their own time constants
        (tenacity's backoff) by it, as their users would tune them to a real minute
    :ivar otpm_mode: the server's OTPM rule, which a user configures claudeflow for
        (``"actual"``: output charged as generated)
    """

    base_url: str
    api_key: str = field(repr=False)
    model: str
    limits: Limits
    concurrency: int
    seed: int
    models: tuple[str, ...] = ()
    otpm_mode: OtpmMode = "reserve_max_tokens"

    @property
    def time_scale(self) -> float:
        return self.limits.minute_seconds / 60.0
