"""``Flow.stats()``: one frozen snapshot of a run's counters, queues, pools and savings."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from ..cache import prompt_cache_share
from ..limiter import MemoryPool, PoolStatistics
from ._result import FlowStats
from ._runtime import Runtime

__all__ = ["flow_stats"]


def flow_stats(run: Runtime) -> FlowStats:
    """Counters, queue depth per priority, each pool's buckets and the server's last view."""
    r = run.runner.statistics()  # one snapshot: the flat fields below are its copies
    pools = _pools(run)
    first = next(iter(pools.values()), None) or _template_pool(run)
    calibrator = run.parts.calibrator
    cache, batches = run.cheaper.stats()
    return FlowStats(
        submitted=run.submitted,
        completed=r.completed,
        failed=r.failed,
        cancelled=run.dispatcher.cancelled,
        queued=len(run.dispatcher),
        in_flight=run.slots.in_flight,
        attempts=run.dispatcher.attempts,
        retries=r.retries,
        rate_limited=r.rate_limited,
        statuses=r.statuses,
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        cache_creation_input_tokens=r.cache_creation_input_tokens,
        cache_read_input_tokens=r.cache_read_input_tokens,
        cost_usd=run.budget.spent_usd,
        unpriced_requests=r.unpriced_requests,
        queue_by_priority=MappingProxyType(run.dispatcher.depth_by_class()),
        buckets=MappingProxyType(first.buckets),
        paused_for_s=max((p.paused_for_s for p in pools.values()), default=0.0),
        server=r.server,
        calibration=MappingProxyType(calibrator.stats() if calibrator else {}),
        pools=MappingProxyType(pools),
        keys=MappingProxyType({k.name: k.statistics() for k in run.ring}),
        budget_reserved_usd=run.budget.reserved_usd,
        arms=r.arms,
        quotas=MappingProxyType(run.parts.quotas.usage()),
        prompt_cache_read_share=prompt_cache_share(
            r.input_tokens, r.cache_creation_input_tokens, r.cache_read_input_tokens
        ),
        cache=cache,
        batches=batches,
        runner=r,
    )


def _pools(run: Runtime) -> dict[str, PoolStatistics]:
    """Each pool's buckets, with whether it is still learning or overloaded."""
    return {
        pool.name: dataclasses.replace(
            pool.buckets.statistics(), learning=pool.probing, overloaded=pool.overload.tripped
        )
        for pool in run.ring.all_pools()
    }


def _template_pool(run: Runtime) -> PoolStatistics:
    """What a new pool starts with, shown before the first request makes one."""
    return MemoryPool("", run.parts.pool_limits.default, clock=run.parts.clock).statistics()
