"""Prometheus metrics on the gateway's own registry (never the process-global one).

Per-request series are recorded as requests finish; the Flow's state (queue depth,
bucket levels, upstream 429s) is read from ``flow.stats()`` at scrape time by a
collector, so a scrape always shows the present, not the last request's view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

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
        # Our own registry: two gateways in one process (tests) would collide in the global one.
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
        # One snapshot per scrape, so every series of it describes the same instant.
        s = self._stats()
        yield _family(
            CounterMetricFamily, "upstream_rate_limited", "Upstream 429 answers (retried or not)",
            [], [((), s.rate_limited)],
        )  # fmt: skip
        yield _family(
            CounterMetricFamily, "upstream_responses", "Upstream answers by status",
            ["status"], [((str(k),), v) for k, v in sorted(s.statuses.items())],
        )  # fmt: skip
        yield _family(
            CounterMetricFamily, "cache_read_input_tokens",
            "Input tokens served from the prompt cache", [], [((), s.cache_read_input_tokens)],
        )  # fmt: skip
        yield _family(
            GaugeMetricFamily, "queue_depth", "Requests waiting, per priority",
            ["priority"], [((str(k),), v) for k, v in sorted(s.queue_by_priority.items())],
        )  # fmt: skip
        yield _family(
            GaugeMetricFamily, "in_flight", "Requests being answered upstream",
            [], [((), s.in_flight)],
        )  # fmt: skip
        buckets = sorted(s.buckets.items())
        yield _family(
            GaugeMetricFamily, "bucket_level", "Capacity left in each bucket",
            ["dimension"], [((k,), b.level) for k, b in buckets],
        )  # fmt: skip
        yield _family(
            GaugeMetricFamily, "bucket_capacity", "Size of each bucket",
            ["dimension"], [((k,), b.capacity) for k, b in buckets],
        )  # fmt: skip
        yield from _pools_and_keys(s)


def _pools_and_keys(s: FlowStats) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    """Every pool's buckets, every key's state, the response cache."""
    pools = sorted(s.pools.items())
    yield _family(
        GaugeMetricFamily, "pool_bucket_level", "Capacity left in each pool's bucket",
        ["pool", "dimension"],
        [((p, d), b.level) for p, st in pools for d, b in sorted(st.buckets.items())],
    )  # fmt: skip
    yield _family(
        GaugeMetricFamily, "pool_bucket_capacity", "Size of each pool's bucket",
        ["pool", "dimension"],
        [((p, d), b.capacity) for p, st in pools for d, b in sorted(st.buckets.items())],
    )  # fmt: skip
    yield _family(
        GaugeMetricFamily, "pool_paused_seconds", "Seconds a pool stays paused (429)",
        ["pool"], [((p,), st.paused_for_s) for p, st in pools],
    )  # fmt: skip
    keys = sorted(s.keys.items())
    yield _family(
        GaugeMetricFamily, "key_active", "1 while a key is in use, 0 once retired",
        ["key"], [((k,), float(st.active)) for k, st in keys],
    )  # fmt: skip
    yield _family(
        CounterMetricFamily, "key_requests", "Requests sent with each key",
        ["key"], [((k,), st.requests) for k, st in keys],
    )  # fmt: skip
    cache = s.cache
    if cache is not None:
        for name in ("hits", "misses", "coalesced"):
            yield _family(
                CounterMetricFamily, f"cache_{name}", f"Response cache {name}",
                [], [((), getattr(cache, name))],
            )  # fmt: skip


_F = TypeVar("_F", CounterMetricFamily, GaugeMetricFamily)


def _family(
    kind: type[_F],
    name: str,
    documentation: str,
    labels: list[str],
    rows: Iterable[tuple[Sequence[str], float]],
) -> _F:
    family = kind(f"{_NS}_{name}", documentation, labels=labels)
    for values, value in rows:
        family.add_metric(list(values), value)
    return family
