"""The server side of a run: a fresh in-process simulator, or an external URL.

Counters come from the server (``/_stats``), never from the clients, so every client
is measured by the same ruler: requests received and admitted, 429s, and the tokens the
server itself counted. An external server without ``/_stats`` (the real API) yields no
counters; the metrics then fall back to what the clients saw and say so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from ..simulator import FaultConfig, SimulatorConfig, SimulatorServer, run_simulator
from ._scenario import Dimension, LoadScenario

__all__ = ["Counters", "Server", "external_server", "local_server", "simulator_config"]


@dataclass(frozen=True, slots=True)
class Counters:
    """Cumulative server counters of the Messages endpoint.

    ``input_tokens`` is what counts toward ITPM (uncached input + cache writes).
    ``debt`` is how far each bucket is below zero now (the ``actual`` OTPM rule lets
    output run past the balance); it is a level, not a count, so :meth:`minus` keeps it.
    """

    received: int = 0
    admitted: int = 0
    rate_limited: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    statuses: Mapping[str, int] = field(default_factory=dict)
    faults: Mapping[str, int] = field(default_factory=dict)
    debt: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any]) -> Counters:
        tokens = stats.get("tokens", {})
        return cls(
            received=int(stats.get("by_endpoint", {}).get("messages", 0)),
            admitted=int(stats.get("admitted", 0)),
            rate_limited=int(stats.get("rate_limited", 0)),
            input_tokens=int(tokens.get("input", 0)) + int(tokens.get("cache_creation", 0)),
            output_tokens=int(tokens.get("output", 0)),
            statuses=dict(stats.get("by_status", {})),
            faults=dict(stats.get("faults", {})),
            debt=_debt(stats.get("buckets", {})),
        )

    def minus(self, earlier: Counters) -> Counters:
        """What happened between ``earlier`` and this snapshot."""
        return Counters(
            received=self.received - earlier.received,
            admitted=self.admitted - earlier.admitted,
            rate_limited=self.rate_limited - earlier.rate_limited,
            input_tokens=self.input_tokens - earlier.input_tokens,
            output_tokens=self.output_tokens - earlier.output_tokens,
            statuses=_diff(self.statuses, earlier.statuses),
            faults=_diff(self.faults, earlier.faults),
            debt=dict(self.debt),
        )

    def demand(self, dimension: Dimension) -> float:
        """What the server admitted in ``dimension`` (the efficiency bound's demand)."""
        return float(
            {
                "requests": self.admitted,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
            }[dimension]
        )


# Bucket names in the simulator's /_stats -> benchmark dimensions.
_BUCKETS: dict[str, Dimension] = {
    "requests": "requests",
    "input-tokens": "input_tokens",
    "output-tokens": "output_tokens",
}


def _debt(scopes: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Total debt per dimension over every (key, model class) scope."""
    debt: dict[str, float] = {}
    for levels in scopes.values():
        for name, level in levels.items():
            dim = _BUCKETS.get(name)
            if dim is not None and level < 0:
                debt[dim] = debt.get(dim, 0.0) - float(level)
    return debt


def _diff(later: Mapping[str, int], earlier: Mapping[str, int]) -> dict[str, int]:
    keys = sorted(set(later) | set(earlier))
    changes = {k: later.get(k, 0) - earlier.get(k, 0) for k in keys}
    return {k: n for k, n in changes.items() if n != 0}


class Server(Protocol):
    """A server a run talks to."""

    @property
    def url(self) -> str: ...

    async def counters(self) -> Counters | None:
        """Current cumulative counters, or ``None`` when the server publishes none."""
        ...

    async def reset(self) -> bool:
        """Full buckets, zero counters, fault clock restarted; ``False`` if impossible."""
        ...


class _Local:
    def __init__(self, sim: SimulatorServer) -> None:
        self._sim = sim

    @property
    def url(self) -> str:
        return self._sim.url

    async def counters(self) -> Counters | None:
        return Counters.from_stats(self._sim.stats())

    async def reset(self) -> bool:
        self._sim.api.reset()
        return True


class _External:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self._url = url.rstrip("/")
        self._session = session
        self.has_stats = True

    @property
    def url(self) -> str:
        return self._url

    async def counters(self) -> Counters | None:
        if not self.has_stats:
            return None
        try:
            async with self._session.get(f"{self._url}/_stats") as response:
                if response.status != 200:
                    self.has_stats = False
                    return None
                return Counters.from_stats(await response.json())
        except (aiohttp.ClientError, ValueError):
            self.has_stats = False
            return None

    async def reset(self) -> bool:
        """Reset a simulator between runs (``False``: not a simulator, e.g. the real API)."""
        try:
            async with self._session.post(f"{self._url}/_reset") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False


def simulator_config(scenario: LoadScenario, seed: int) -> SimulatorConfig:
    """The simulator a scenario runs against (limits, time scale, latency, faults)."""
    limits, model = scenario.limits, scenario.server
    faults = FaultConfig(
        error_529=model.error_529,
        error_500=model.error_500,
        overload_window=model.overload_window,
    )
    return SimulatorConfig(
        rpm=limits.rpm,
        input_tpm=limits.input_tpm,
        output_tpm=limits.output_tpm,
        minute_seconds=limits.minute_seconds,
        burst=limits.burst,
        otpm_mode=model.otpm_mode,
        ttft_s=model.ttft_s,
        per_token_s=model.per_token_s,
        stream_chunk_tokens=model.stream_chunk_tokens,
        seed=seed,
        faults=faults,
    )


@asynccontextmanager
async def local_server(config: SimulatorConfig) -> AsyncIterator[Server]:
    """A fresh simulator on 127.0.0.1 (free port): full buckets, zeroed counters."""
    async with run_simulator(config, host="127.0.0.1", port=0) as sim:
        yield _Local(sim)


@asynccontextmanager
async def external_server(url: str) -> AsyncIterator[Server]:
    """An external server; ``reset()`` it between runs when it is a simulator."""
    async with aiohttp.ClientSession() as session:
        yield _External(url, session)
