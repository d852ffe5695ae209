"""Running a load scenario: the same items through each client, each against a reset server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._clock import Clock
from ._clients import client_spec, open_client
from ._drive import DriveResult, drive
from ._heap import frozen_heap
from ._metrics import RunMetrics, lower_bound, summarize
from ._progress import Progress
from ._reference import References, references
from ._sampler import Sampler
from ._scenario import Dimension, LoadScenario
from ._server import Server
from ._target import Target
from ._workload import WorkItem

__all__ = ["LoadContext", "predicted_seconds", "run_client"]

# A run may take this many times its predicted bound (plus a fixed margin) before the
# driver stops it: slow baselines still finish, a stuck one cannot hold the suite.
_TIMEOUT_FACTOR = 3.0
_TIMEOUT_MARGIN_S = 5.0


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What every run of a suite shares."""

    api_key: str
    model: str
    seed: int
    clock: Clock
    progress: Progress


def predicted_seconds(scenario: LoadScenario, items: Sequence[WorkItem]) -> float:
    """The bound computed from the workload's own sizes (before any run)."""
    demand: dict[Dimension, float] = {
        "requests": float(len(items)),
        "input_tokens": float(sum(i.input_tokens for i in items)),
        "output_tokens": float(sum(i.output_tokens for i in items)),
    }
    bound = lower_bound(demand, scenario.account_limits).seconds
    return max(bound, scenario.workload.last_arrival_s)


async def run_client(
    scenario: LoadScenario,
    client: str,
    items: Sequence[WorkItem],
    server: Server,
    ctx: LoadContext,
    reference: References | None = None,
) -> RunMetrics:
    """One run: open ``client``, reset the server, drive every item, read the counters.

    :param reference: the perfect schedules of all ``items`` (computed here if ``None``)
    """
    target = Target(
        base_url=server.url,
        api_key=ctx.api_key,
        model=ctx.model,
        limits=scenario.limits,
        concurrency=scenario.concurrency,
        seed=ctx.seed,
        models=scenario.workload.models,
        otpm_mode=scenario.server.otpm_mode,
    )
    timeout = _TIMEOUT_MARGIN_S + _TIMEOUT_FACTOR * predicted_seconds(scenario, items)
    ctx.progress.begin(f"{scenario.name} · {client}", len(items))
    async with open_client(client, target) as send:
        if not await server.reset():
            # The real API cannot be reset: let a full bucket refill before the next run.
            await ctx.clock.sleep(scenario.limits.minute_seconds * scenario.limits.burst)
        # Frozen first: the collection that freezing starts with is not part of the run.
        with frozen_heap():
            async with Sampler(server.counters, ctx.clock) as sampler:
                before = sampler.base
                result = await drive(
                    items, send, clock=ctx.clock, timeout_s=timeout, on_tick=ctx.progress.tick
                )
        after = await server.counters()
    delta = after.minus(before) if after is not None and before is not None else None
    metrics = summarize(
        scenario=scenario.name,
        client=client,
        limits=scenario.account_limits,
        run=result,
        server=delta,
        samples=sampler.samples,
        arrival_floor_s=scenario.workload.last_arrival_s,
        reference=_reference_of(scenario, client, items, result, ctx, reference),
    )
    ctx.progress.end(_summary(metrics))
    return metrics


def _reference_of(
    scenario: LoadScenario,
    client: str,
    items: Sequence[WorkItem],
    result: DriveResult,
    ctx: LoadContext,
    full: References | None,
) -> References | None:
    """The perfect schedules of what the run completed (all ``items``: ``full``)."""
    done = [item for item, outcome in zip(items, result.outcomes, strict=True) if outcome.ok]
    if full is not None and len(done) == len(items):
        return full
    if not done:
        return None
    streaming = client_spec(client).streaming
    return references(scenario, done, model=ctx.model, seed=ctx.seed, streaming=streaming)


def _summary(m: RunMetrics) -> str:
    fifo = "-" if m.efficiency_fifo is None else f"{m.efficiency_fifo:.3f}"
    r429 = "-" if m.per_1k_429 is None else f"{m.per_1k_429:g}"
    perfect = "-" if m.perfect_fifo_s is None else f"{m.perfect_fifo_s:.2f}s"
    return (
        f"eff {fifo} of FIFO  ok {m.completed}/{m.requests}  failed {m.failed}  "
        f"429/1k {r429}  wall {m.wall_s:.2f}s (perfect {perfect}, bound {m.bound_s:.2f}s)"
    )
