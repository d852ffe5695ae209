"""The engine behind the gateway: one Flow (and its transport) built from the config.

This is the one place where config keys become :class:`~claudeflow.Flow` arguments: the
key pool, per-pool limits, pools, routes, quotas, the response cache, Message Batches and
the shared Redis backend. Key values are read here from the environment variables the
config names and handed to the Flow; they are kept nowhere else in the gateway.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .._clock import Clock
from .._config import RateLimits
from .._errors import ConfigError
from ..cache import ResponseCache
from ..limiter import Backend
from ..routing import ApiKey, Routes
from ..scheduler import Flow, QueuePolicy, SpendPolicy, TokenCounting
from ..scheduler._flow import DEFAULT_BASE_URL
from ..tokens import OutputReservation
from ..transport import AiohttpTransport, Transport
from ._upstream import UpstreamConfig

__all__ = ["Engine", "build_engine"]


@dataclass(frozen=True, slots=True)
class Engine:
    """The Flow, the transport it shares with ``count_tokens``, and the upstream headers."""

    flow: Flow
    transport: Transport
    headers: dict[str, str] = field(repr=False)
    closers: tuple[Callable[[], Awaitable[Any]], ...] = field(default=(), repr=False)

    async def aclose(self) -> None:
        """Close what the engine opened besides the Flow (transport, cache client)."""
        await self.transport.aclose()
        for close in self.closers:
            await close()


def build_engine(
    upstream: UpstreamConfig, *, transport: Transport | None = None, clock: Clock | None = None
) -> Engine:
    """Build (but do not start) the Flow the gateway sends everything through."""
    keys = _api_keys(upstream)
    # The SDKs' own variable, so the gateway points where an SDK in its place would.
    base_url = upstream.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    # One transport for the Flow and count_tokens: one connection pool upstream.
    transport = transport or AiohttpTransport(base_url)
    cache, closers = _cache(upstream)
    flow = Flow(
        api_key=keys,
        base_url=base_url,
        limits=_limits(upstream),
        pools=upstream.pools or None,
        routes=_routes(upstream),
        spend=SpendPolicy(quotas=upstream.quotas, quota_file=upstream.quota_file),
        backend=_backend(upstream, clock),
        concurrency=upstream.concurrency,
        tokens=TokenCounting(
            output_reservation=OutputReservation(mode=upstream.output_reservation)
        ),
        queue=QueuePolicy(max_size=upstream.max_queue, timeout=upstream.queue_timeout_s),
        cache=cache,
        coalesce=upstream.coalesce,
        batches=upstream.batches,
        transport=transport,
        clock=clock,
    )
    # count_tokens has no key pool: it goes out with the first key.
    headers = {"x-api-key": keys[0].key, "anthropic-version": "2023-06-01"}
    return Engine(flow=flow, transport=transport, headers=headers, closers=closers)


def _api_keys(upstream: UpstreamConfig) -> list[ApiKey]:
    if not upstream.keys:
        key = upstream.api_key or os.environ.get(upstream.api_key_env)
        if not key:
            raise ConfigError(
                "upstream.api_key_env", f"${upstream.api_key_env} is not set (the Anthropic key)"
            )
        return [ApiKey(key)]
    keys = []
    for index, entry in enumerate(upstream.keys):
        value = os.environ.get(entry.env)
        if not value:
            raise ConfigError(f"upstream.keys[{index}].env", f"${entry.env} is not set")
        keys.append(ApiKey(value, name=entry.name, base_url=entry.base_url))
    return keys


def _limits(upstream: UpstreamConfig) -> RateLimits | dict[str, RateLimits]:
    if not upstream.limits:
        return upstream.default_limits()
    # "*" first, so one given in the config replaces the default.
    return {"*": upstream.default_limits(), **upstream.limits}


def _routes(upstream: UpstreamConfig) -> Routes | None:
    routes = upstream.routes
    if not upstream.aliases:
        return routes
    # The older [upstream] aliases are route aliases too (routes.aliases win on a clash).
    aliases = {**upstream.aliases, **routes.aliases}
    return Routes(aliases, routes.rules, routes.splits, routes.fallbacks)


def _backend(upstream: UpstreamConfig, clock: Clock | None) -> Backend | None:
    if upstream.redis is None:
        return None
    from ..limiter import RedisBackend  # the redis client is needed only now

    return RedisBackend(upstream.redis, on_failure=upstream.redis_on_failure, clock=clock)


def _cache(
    upstream: UpstreamConfig,
) -> tuple[ResponseCache | None, tuple[Callable[[], Awaitable[Any]], ...]]:
    config = upstream.cache
    if config is None:
        return None, ()
    if config.backend == "memory":
        cache = ResponseCache(
            ttl_s=config.ttl_s, max_entries=config.max_entries, max_bytes=config.max_bytes
        )
        return cache, ()
    import redis.asyncio  # only a Redis cache needs the client

    # The engine made this client, so the engine closes it (closers).
    client = redis.asyncio.Redis.from_url(upstream.redis or "")
    return ResponseCache(ttl_s=config.ttl_s, redis=client), (client.aclose,)
