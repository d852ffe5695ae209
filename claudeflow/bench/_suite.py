"""The suite: every selected scenario through every selected client, then overhead and scale.

:func:`run_suite` is the whole of ``claudeflow bench`` minus argument parsing and output
files. Load runs each get a fresh simulator (or a reset external one), in a fixed order;
the workload of a scenario is built once from the seed, so every client gets the same
requests at the same times.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TypeVar

from .._clock import LoopClock
from ..tokens import count_text
from ._catalog import SPECIAL, load_scenarios
from ._clients import baseline_clients, client_spec, is_baseline
from ._goals import Verdict, evaluate
from ._load import LoadContext, predicted_seconds, run_client
from ._metrics import RunMetrics
from ._overhead import OverheadConfig, OverheadResult, run_overhead
from ._progress import Progress
from ._reference import References, references
from ._scale import ScaleConfig, ScaleResult, run_scale
from ._scenario import LoadScenario
from ._server import Server, external_server, local_server, simulator_config
from ._workload import WorkItem

_T = TypeVar("_T")

__all__ = ["SMOKE_FACTOR", "SuiteConfig", "SuiteResult", "run_suite", "select"]

SMOKE_FACTOR = 0.12
_SMOKE_OVERHEAD = OverheadConfig(requests=200, rounds=1, warmup=20)
_SMOKE_SCALE = ScaleConfig(queued=2_000, steps=4, dispatch=200, shallow=200)


@dataclass(frozen=True, slots=True)
class SuiteConfig:
    """What to run. ``scenarios`` empty means all; ``clients`` empty means each
    scenario's own list (minus baselines when ``baselines`` is false)."""

    scenarios: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    baselines: bool = True
    scale: float = 1.0
    smoke: bool = False
    base_url: str | None = None
    api_key: str = field(default="sk-bench", repr=False)
    model: str = "claude-haiku-4-5"
    seed: int = 1
    quiet: bool = False

    def describe(self) -> dict[str, Any]:
        """JSON-ready, without the API key."""
        return {
            "scenarios": list(self.scenarios) or "all",
            "clients": list(self.clients) or "each scenario's own",
            "baselines": self.baselines,
            "scale": self.scale,
            "smoke": self.smoke,
            "server": self.base_url or "in-process simulator",
            "model": self.model,
            "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class SuiteResult:
    """Everything one ``claudeflow bench`` produced, with the setup that produced it."""

    config: SuiteConfig
    scenarios: tuple[LoadScenario, ...]
    plan: tuple[tuple[str, tuple[str, ...]], ...]
    runs: tuple[RunMetrics, ...]
    overhead: OverheadResult | None
    scale: ScaleResult | None
    verdicts: tuple[Verdict, ...]
    started_at: str
    wall_s: float
    environment: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


def select(config: SuiteConfig) -> tuple[list[tuple[LoadScenario, tuple[str, ...]]], set[str]]:
    """The load scenarios with their clients, and the special ones (overhead, scale)."""
    wanted = set(config.scenarios)
    factor = SMOKE_FACTOR if config.smoke else config.scale
    chosen: list[tuple[LoadScenario, tuple[str, ...]]] = []
    for scenario in load_scenarios(scale=factor):
        if wanted and scenario.name not in wanted:
            continue
        if config.base_url is not None and scenario.local_only:
            continue
        clients = tuple(c for c in scenario.clients if _keep(c, config))
        if clients:
            chosen.append((scenario, clients))
    special = {name for name in SPECIAL if not wanted or name in wanted}
    return chosen, special


def _keep(client: str, config: SuiteConfig) -> bool:
    if is_baseline(client) and client not in baseline_clients():
        return False  # not installed: the command line says how to get them
    if config.clients:
        return client in config.clients
    return config.baselines or not is_baseline(client)


async def run_suite(config: SuiteConfig) -> SuiteResult:
    """Run the selected scenarios, then overhead and scale; judge the goals.

    claudeflow's WARNING log lines (one per 429 pause) are held back while the suite
    runs: the 429s are counted in the results, and the lines would break the progress
    display.
    """
    logger = logging.getLogger("claudeflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return await _run_suite(config)
    finally:
        logger.setLevel(level)


async def _run_suite(config: SuiteConfig) -> SuiteResult:
    clock = LoopClock()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = clock.now()
    warmup_s = _load_token_counter(clock)
    chosen, special = select(config)
    total = sum(len(clients) for _, clients in chosen) + len(special)
    progress = Progress(total, enabled=not config.quiet)
    ctx = LoadContext(config.api_key, config.model, config.seed, clock, progress)
    runs: list[RunMetrics] = []
    for scenario, clients in chosen:
        runs += await _load(config, scenario, clients, ctx)
    errors: dict[str, str] = {}
    overhead: OverheadResult | None = None
    scale: ScaleResult | None = None
    if "overhead" in special:
        overhead_config = _SMOKE_OVERHEAD if config.smoke else OverheadConfig()
        overhead = await _special(
            "overhead", run_overhead(overhead_config, progress), errors, progress
        )
    if "scale" in special:
        scale_config = _SMOKE_SCALE if config.smoke else ScaleConfig()
        scale = await _special("scale", run_scale(scale_config, progress), errors, progress)
    scenarios = tuple(s for s, _ in chosen)
    return SuiteResult(
        config=config,
        scenarios=scenarios,
        plan=tuple((s.name, c) for s, c in chosen),
        runs=tuple(runs),
        overhead=overhead,
        scale=scale,
        verdicts=evaluate(
            scenarios, runs, overhead, scale, reduced=config.smoke or config.scale < 1
        ),
        started_at=started_at,
        wall_s=round(clock.now() - began, 2),
        environment={**environment(), "token_counter_load_s": round(warmup_s, 3)},
        errors=errors,
    )


async def _load(
    config: SuiteConfig, scenario: LoadScenario, clients: Sequence[str], ctx: LoadContext
) -> list[RunMetrics]:
    """Every client's run of ``scenario``, each against a fresh server."""
    items = scenario.workload.build(config.seed)
    perfect = _references(scenario, items, clients, config)
    first = perfect[client_spec(clients[0]).streaming]
    ctx.progress.note(
        f"— {scenario.name}: {scenario.title} ({len(items)} requests, "
        f"bound ≈ {predicted_seconds(scenario, items):.1f}s, perfect FIFO "
        f"{first.fifo_s:.2f}s, work-conserving {first.work_conserving_s:.2f}s)"
    )
    runs = []
    for client in clients:
        reference = perfect[client_spec(client).streaming]
        async with _server(config, scenario) as server:
            runs.append(await run_client(scenario, client, items, server, ctx, reference))
    return runs


async def _special(
    name: str, run: Awaitable[_T], errors: dict[str, str], progress: Progress
) -> _T | None:
    """``run``'s result; if it fails, ``None`` and the failure in ``errors`` (the load
    results are kept)."""
    try:
        return await run
    except Exception as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"
        progress.note(f"{name} failed: {errors[name]}")
        return None


def _references(
    scenario: LoadScenario,
    items: Sequence[WorkItem],
    clients: Sequence[str],
    config: SuiteConfig,
) -> dict[bool, References]:
    """The scenario's perfect schedules, for JSON replies and (if a client streams) streams."""
    modes = {False} | {client_spec(client).streaming for client in clients}
    return {
        streaming: references(
            scenario, items, model=config.model, seed=config.seed, streaming=streaming
        )
        for streaming in sorted(modes)
    }


def _load_token_counter(clock: LoopClock) -> float:
    """Load claudeflow's token counter (tiktoken's cl100k) before any run is timed.

    It loads once per process, on a Flow's first estimate (~0.1 s here); without this,
    whichever run came first would pay it inside its wall time. Returns the seconds it
    took (reported in the environment, since a user's process pays it once too).
    """
    began = clock.now()
    count_text("warm up the token counter")
    return clock.now() - began


@asynccontextmanager
async def _server(config: SuiteConfig, scenario: LoadScenario) -> AsyncIterator[Server]:
    if config.base_url is not None:
        async with external_server(config.base_url) as server:
            yield server
    else:
        async with local_server(simulator_config(scenario, config.seed)) as server:
            yield server


def environment() -> dict[str, Any]:
    """Versions and machine facts that make a result reproducible (or explain it)."""
    return {
        "claudeflow": _version("claudeflow"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "baselines": sorted(baseline_clients()) or "not found",
        "packages": {
            name: _version(name)
            for name in ("aiohttp", "aiolimiter", "anthropic", "tenacity", "matplotlib")
        },
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def clients_of(plan: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Every client named in a plan, in first-seen order."""
    seen: dict[str, None] = {}
    for _, clients in plan:
        seen.update(dict.fromkeys(clients))
    return list(seen)
