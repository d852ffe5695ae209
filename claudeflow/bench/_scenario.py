"""What a load scenario is: limits and time scale, server behaviour, workload, clients.

Everything here is a frozen dataclass, so a scenario is a value: it can be scaled,
printed, and written into the report next to the numbers it produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from .._config import RateLimits
from ..limiter._classes import model_class
from ._workload import Workload

__all__ = ["DIMENSIONS", "Dimension", "Limits", "LoadScenario", "ServerModel"]

Dimension = Literal["requests", "input_tokens", "output_tokens"]
DIMENSIONS: tuple[Dimension, ...] = ("requests", "input_tokens", "output_tokens")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute limits shared by the simulator and the claudeflow client.

    :param minute_seconds: real seconds one simulated "minute" lasts (time compression)
    :param burst: bucket capacity as a fraction of a minute's quota (server and client)
    """

    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    minute_seconds: float = 6.0
    burst: float = 0.1

    def per_minute(self, dimension: Dimension) -> float | None:
        if dimension == "requests":
            return self.rpm
        return self.input_tpm if dimension == "input_tokens" else self.output_tpm

    def rate(self, dimension: Dimension) -> float | None:
        """Refill per real second."""
        limit = self.per_minute(dimension)
        return None if limit is None else limit / self.minute_seconds

    def capacity(self, dimension: Dimension) -> float | None:
        """Initial (and maximum) bucket content."""
        limit = self.per_minute(dimension)
        return None if limit is None else limit * self.burst

    def times(self, factor: float) -> Limits:
        """Every per-minute limit multiplied by ``factor`` (same minute and burst)."""

        def scale(value: float | None) -> float | None:
            return None if value is None else value * factor

        return replace(
            self,
            rpm=scale(self.rpm),
            input_tpm=scale(self.input_tpm),
            output_tpm=scale(self.output_tpm),
        )

    def rate_limits(self) -> RateLimits:
        """The same limits as claudeflow's client configuration."""
        return RateLimits(
            rpm=self.rpm,
            input_tpm=self.input_tpm,
            output_tpm=self.output_tpm,
            window_s=self.minute_seconds,
            burst=self.burst,
        )


@dataclass(frozen=True, slots=True)
class ServerModel:
    """How the simulator behaves beyond its limits (latency in real seconds, faults).

    :param otpm_mode: the simulator's OTPM rule (``"actual"`` or ``"reserve_max_tokens"``)
    :param overload_window: real seconds after the simulator starts during which every
        request gets a 529
    :param stream_chunk_tokens: output tokens per stream delta. Generation here runs at
        10,000 tokens/s, about 100 times a real model's pace, while the minute is only
        compressed 10 times; 40-token deltas keep a stream's events per second on the
        scenario's time scale (10 times a real stream's few-token deltas at ~100
        tokens/s). At the simulator's default of 4, 32 streams send 80,000 events/s and
        every streaming client measures its JSON parser, not its schedule.
    """

    otpm_mode: Literal["actual", "reserve_max_tokens"] = "actual"
    ttft_s: float = 0.02
    per_token_s: float = 0.0001
    stream_chunk_tokens: int = 40
    error_529: float = 0.0
    error_500: float = 0.0
    overload_window: tuple[float, float] | None = None

    @property
    def faulty(self) -> bool:
        return self.error_529 > 0 or self.error_500 > 0 or self.overload_window is not None


@dataclass(frozen=True, slots=True)
class LoadScenario:
    """A workload driven through each client against a fresh, identically configured server.

    :param clients: names from :data:`claudeflow.bench._clients.CLIENTS`
    :param goals: goal ids checked on this scenario's claudeflow run
        (``"efficiency"``, ``"priority"``, ``"starvation"``)
    :param local_only: needs simulator features (fault injection) an external server lacks
    """

    name: str
    title: str
    limits: Limits
    workload: Workload
    clients: tuple[str, ...]
    server: ServerModel = ServerModel()
    concurrency: int = 32
    goals: tuple[str, ...] = ()
    local_only: bool = False

    def scaled(self, factor: float) -> LoadScenario:
        return replace(self, workload=self.workload.scaled(factor))

    @property
    def account_limits(self) -> Limits:
        """``limits`` summed over the workload's model classes (the server keeps ``limits``
        per class): the lower bound and utilisation are taken against this total, which
        is a true bound though a loose one when one class's demand dominates."""
        classes = len({model_class(m) for m in self.workload.models})
        return self.limits if classes <= 1 else self.limits.times(classes)

    def describe(self) -> dict[str, Any]:
        """JSON-ready configuration (workload streams included, items not)."""
        data = asdict(self)
        data["requests"] = self.workload.count
        return data
