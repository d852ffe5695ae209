"""Overhead: claudeflow's full pipeline against raw aiohttp, limits off, zero latency.

Both clients send the same small request to the same simulator (no limits, no latency)
at the same concurrency; raw aiohttp encodes JSON and parses the reply as a
hand-written client would. The simulator runs in a child process (see
:mod:`._sim_process`): served from this process it would eat the CPU the clients are
measured on and make the ratio meaningless. Rounds alternate (raw, flow, raw, flow, ...)
so drift on a shared machine hits both; the best round of each is compared (the median
of the per-pair ratios is reported too). CPU is this process's ``time.process_time``,
which now holds only the client, so it is the client's own cost per request.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from .._clock import LoopClock
from ..scheduler import Flow, QueuePolicy
from ._heap import frozen_heap
from ._progress import Progress
from ._sim_process import simulator_process

__all__ = ["OverheadConfig", "OverheadResult", "run_overhead"]

_HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}


@dataclass(frozen=True, slots=True)
class OverheadConfig:
    """``requests`` per round, ``rounds`` per client, after ``warmup`` requests each."""

    requests: int = 5_000
    concurrency: int = 32
    rounds: int = 3
    warmup: int = 200
    model: str = "claude-haiku-4-5"

    def scaled(self, factor: float) -> OverheadConfig:
        return OverheadConfig(
            requests=max(50, round(self.requests * factor)),
            concurrency=self.concurrency,
            rounds=self.rounds,
            warmup=max(20, round(self.warmup * min(1.0, factor))),
            model=self.model,
        )


@dataclass(frozen=True, slots=True)
class Round:
    client: str
    requests: int
    wall_s: float
    cpu_s: float
    failed: int

    @property
    def per_s(self) -> float:
        return self.requests / self.wall_s

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu_s / self.requests


@dataclass(frozen=True, slots=True)
class OverheadResult:
    config: OverheadConfig
    rounds: tuple[Round, ...]
    raw_per_s: float
    flow_per_s: float
    ratio: float
    median_pair_ratio: float
    raw_cpu_us: float
    flow_cpu_us: float
    added_cpu_us: float

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rounds"] = [
            {**asdict(r), "per_s": round(r.per_s, 1), "cpu_us_per_request": round(r.cpu_us, 1)}
            for r in self.rounds
        ]
        return data


def _body(model: str, n: int) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": f"ping {n} [[output_tokens=4]]"}],
    }


Runner = Callable[[int], Awaitable[int]]  # sends n requests, returns the failures


async def _timed(name: str, send: Runner, n: int) -> Round:
    clock = LoopClock()
    cpu, start = time.process_time(), clock.now()
    failed = await send(n)
    return Round(name, n, clock.now() - start, time.process_time() - cpu, failed)


async def run_overhead(config: OverheadConfig, progress: Progress) -> OverheadResult:
    """Alternate raw and Flow rounds against one zero-latency, unlimited simulator process."""
    progress.begin("overhead · raw aiohttp vs Flow", 2 * config.rounds * config.requests)
    # Objects left by earlier runs of the suite would make every full garbage collection
    # slower, taxing whichever client allocates more; freeze them out of the collector.
    with frozen_heap():
        rounds = await _alternate(config, progress)
    result = _result(config, rounds)
    progress.end(
        f"Flow {result.flow_per_s:.0f}/s vs raw {result.raw_per_s:.0f}/s = {result.ratio:.2f}; "
        f"+{result.added_cpu_us:.0f} µs CPU/request"
    )
    return result


async def _alternate(config: OverheadConfig, progress: Progress) -> list[Round]:
    rounds: list[Round] = []
    async with simulator_process() as url:
        connector = aiohttp.TCPConnector(limit=config.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            raw = _raw_sender(http, url, config)
            async with Flow(
                api_key="sk-bench",
                base_url=url,
                limits=None,
                learn_limits=False,
                concurrency=config.concurrency,
                queue=QueuePolicy(max_size=None),
            ) as flow:
                via_flow = _flow_sender(flow, config)
                await raw(config.warmup)
                await via_flow(config.warmup)
                for _ in range(config.rounds):
                    rounds.append(await _timed("raw", raw, config.requests))
                    rounds.append(await _timed("flow", via_flow, config.requests))
                    progress.tick(len(rounds) * config.requests, sum(r.wall_s for r in rounds))
    return rounds


def _raw_sender(http: aiohttp.ClientSession, url: str, config: OverheadConfig) -> Runner:
    headers = {**_HEADERS, "x-api-key": "sk-bench"}
    semaphore = asyncio.Semaphore(config.concurrency)

    async def one(n: int) -> bool:
        async with semaphore:
            async with http.post(
                f"{url}/v1/messages", json=_body(config.model, n), headers=headers
            ) as response:
                await response.json()
                return response.status == 200

    async def send(n: int) -> int:
        results = await asyncio.gather(*(one(i) for i in range(n)))
        return results.count(False)

    return send


def _flow_sender(flow: Flow, config: OverheadConfig) -> Runner:
    async def send(n: int) -> int:
        results = await asyncio.gather(
            *(flow.create(**_body(config.model, i)) for i in range(n)), return_exceptions=True
        )
        return sum(isinstance(r, BaseException) for r in results)

    return send


def _result(config: OverheadConfig, rounds: list[Round]) -> OverheadResult:
    raw = max((r for r in rounds if r.client == "raw"), key=lambda r: r.per_s)
    flow = max((r for r in rounds if r.client == "flow"), key=lambda r: r.per_s)
    raw_cpu = min(r.cpu_us for r in rounds if r.client == "raw")
    flow_cpu = min(r.cpu_us for r in rounds if r.client == "flow")
    pairs = [
        f.per_s / r.per_s for r, f in zip(rounds[::2], rounds[1::2], strict=True) if r.per_s > 0
    ]
    return OverheadResult(
        config=config,
        rounds=tuple(rounds),
        raw_per_s=round(raw.per_s, 1),
        flow_per_s=round(flow.per_s, 1),
        ratio=round(flow.per_s / raw.per_s, 4),
        median_pair_ratio=round(statistics.median(pairs), 4) if pairs else math.nan,
        raw_cpu_us=round(raw_cpu, 1),
        flow_cpu_us=round(flow_cpu, 1),
        added_cpu_us=round(flow_cpu - raw_cpu, 1),
    )
