"""Prometheus metrics on the gateway's own registry (never the process-global one).

Per-request series are recorded as requests finish; the Flow's state (queue depth,
bucket levels, upstream 429s) is read from ``flow.stats()`` at scrape time by a
collector, so a scrape always shows the present, not the last request's view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..scheduler import FlowStats

__all__ = ["GatewayMetrics"]

_NS = "claudeflow_gateway"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    """Every series the gateway exports; :meth:`render` gives the text exposition."""

    def __init__(self, stats: Callable[[], FlowStats]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            f"{_NS}_requests", "Requests answered", ["client", "model", "status", "api"], registry=r
        )
        self.tokens = Counter(
            f"{_NS}_tokens", "Tokens used", ["client", "model", "direction"], registry=r
        )
        self.cost = Counter(f"{_NS}_cost_usd", "Dollars spent", ["client", "model"], registry=r)
        self.queue_wait = Histogram(
            f"{_NS}_queue_wait_seconds",
            "Time waiting for admission",
            ["priority"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            f"{_NS}_request_duration_seconds",
            "Time from request to last byte",
            ["api"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_FlowCollector(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _FlowCollector(Collector):
    """The Flow's live state, read when Prometheus scrapes."""

    def __init__(self, stats: Callable[[], FlowStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self._stats()
        limited = CounterMetricFamily(
            f"{_NS}_upstream_rate_limited", "Upstream 429 answers (retried or not)"
        )
        limited.add_metric([], s.rate_limited)
        yield limited
        statuses = CounterMetricFamily(
            f"{_NS}_upstream_responses", "Upstream answers by status", labels=["status"]
        )
        for status, count in sorted(s.statuses.items()):
            statuses.add_metric([str(status)], count)
        yield statuses
        cache = CounterMetricFamily(
            f"{_NS}_cache_read_input_tokens", "Input tokens served from the prompt cache"
        )
        cache.add_metric([], s.cache_read_input_tokens)
        yield cache
        depth = GaugeMetricFamily(
            f"{_NS}_queue_depth", "Requests waiting, per priority", labels=["priority"]
        )
        for priority, count in sorted(s.queue_by_priority.items()):
            depth.add_metric([str(priority)], count)
        yield depth
        in_flight = GaugeMetricFamily(f"{_NS}_in_flight", "Requests being answered upstream")
        in_flight.add_metric([], s.in_flight)
        yield in_flight
        level = GaugeMetricFamily(
            f"{_NS}_bucket_level", "Capacity left in each bucket", labels=["dimension"]
        )
        capacity = GaugeMetricFamily(
            f"{_NS}_bucket_capacity", "Size of each bucket", labels=["dimension"]
        )
        for dimension, bucket in sorted(s.buckets.items()):
            level.add_metric([dimension], bucket.level)
            capacity.add_metric([dimension], bucket.capacity)
        yield level
        yield capacity
