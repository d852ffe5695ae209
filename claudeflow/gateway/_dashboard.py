"""The live dashboard: a sampler of the Flow's state and the JSON the page draws from.

Once a second the sampler keeps one point (bucket levels against their capacity, queue
depth per priority, completions and upstream 429s since the last point, spend today);
ten minutes of points are kept. ``GET /dashboard`` is one static HTML page with an
inline script that polls ``GET /dashboard/data`` and draws SVG charts: no build step,
no CDN.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from importlib.resources import files
from typing import Any, Final

from aiohttp import web

from .._clock import wall_time
from ..limiter import BucketState
from ..scheduler import FlowStats
from ._gateway import Gateway
from ._wire import GATEWAY

__all__ = ["SAMPLER", "Sampler", "dashboard_data", "dashboard_page"]

_KEEP: Final = 600


class Sampler:
    """Ten minutes of one-per-second snapshots of the gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self.points: deque[dict[str, Any]] = deque(maxlen=_KEEP)
        self._last: tuple[float, int, int] | None = None

    def sample(self) -> dict[str, Any]:
        """Take one point; also feeds the upstream-error alert."""
        gateway = self._gateway
        stats = gateway.flow.stats()
        now = gateway.clock.now()
        upstream_errors = stats.rate_limited + stats.statuses.get(529, 0)
        gateway.alerts.check_upstream(now, upstream_errors)
        done = stats.completed + stats.failed
        then, done_before, errors_before = self._last or (now, done, upstream_errors)
        elapsed = now - then
        self._last = (now, done, upstream_errors)
        point = {
            "t": wall_time(),
            "buckets": _levels(stats.buckets),
            "queue": {str(k): v for k, v in stats.queue_by_priority.items()},
            "in_flight": stats.in_flight,
            "throughput": (done - done_before) / elapsed if elapsed > 0 else 0.0,
            "upstream_errors": upstream_errors - errors_before,
            "spent_usd": gateway.spent_today_usd,
        }
        self.points.append(point)
        return point


def _summary(gateway: Gateway, sampler: Sampler) -> dict[str, Any]:
    stats = gateway.flow.stats()
    return {
        "now": wall_time(),
        "completed": stats.completed,
        "failed": stats.failed,
        "queued": stats.queued,
        "in_flight": stats.in_flight,
        "upstream_429": stats.rate_limited,
        "upstream_529": stats.statuses.get(529, 0),
        "spent_today_usd": gateway.spent_today_usd,
        "budget_usd_per_day": gateway.config.budget_usd_per_day,
        "clients": _clients(gateway),
        "alerts": gateway.alerts.sent[-10:],
        "points": list(sampler.points),
        "pools": _pools(stats),
        "keys": {
            name: {"active": key.active, "retired": key.retired_reason, "requests": key.requests}
            for name, key in stats.keys.items()
        },
        "cache": _cache(stats),
    }


def _clients(gateway: Gateway) -> list[dict[str, Any]]:
    return [
        {
            "name": q.client.name,
            "spent_usd": q.spent_today_usd,
            "budget_usd": q.client.budget_usd_per_day,
        }
        for q in gateway.clients
    ]


def _pools(stats: FlowStats) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "buckets": _levels(pool.buckets),
            "paused_for_s": pool.paused_for_s,
            "mode": pool.mode,
        }
        for name, pool in stats.pools.items()
    }


def _cache(stats: FlowStats) -> dict[str, int] | None:
    if stats.cache is None:
        return None
    return {
        "hits": stats.cache.hits,
        "misses": stats.cache.misses,
        "coalesced": stats.cache.coalesced,
    }


def _levels(buckets: Mapping[str, BucketState]) -> dict[str, list[float]]:
    """Each bucket as ``[level, capacity]``: the page draws the level against its size."""
    return {k: [b.level, b.capacity] for k, b in buckets.items()}


SAMPLER: Final = web.AppKey("claudeflow_gateway_sampler", Sampler)


async def dashboard_data(request: web.Request) -> web.Response:
    return web.json_response(_summary(request.app[GATEWAY], request.app[SAMPLER]))


async def dashboard_page(request: web.Request) -> web.Response:
    page = files(__package__).joinpath("dashboard.html").read_text(encoding="utf-8")
    return web.Response(text=page, content_type="text/html")
