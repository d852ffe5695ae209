"""``[upstream]``: the Anthropic account behind the gateway, as the Flow's arguments.

Every part of the engine is configured here: the key pool (key *values* come from the
environment variables the file names, never from the file), per-pool limits, pools,
routes, quotas, the response cache, Message Batches and the shared Redis backend::

    [upstream]
    rpm = 50                                # limits of every pool not listed below
    redis = "redis://127.0.0.1:6379/0"      # share limits (and the cache) across workers
    keys = [{ name = "team-a", env = "KEY_A" },
            { name = "team-b", env = "KEY_B", base_url = "https://eu.example" }]
    pools = { "claude-sonnet-4-6" = "sonnet" }

    [upstream.limits.sonnet]                # one pool's own limits
    rpm = 20
    output_tpm = 4000

    [upstream.routes]
    aliases = { fast = "claude-haiku-4-5" }
    splits = { cheap = { "claude-haiku-4-5" = 3, "claude-sonnet-4-6" = 1 } }
    fallbacks = { "claude-sonnet-4-6" = ["claude-haiku-4-5"] }

    [[upstream.quotas]]
    period = "day"
    usd = 20

    [upstream.cache]                        # backend = "redis" uses upstream.redis
    ttl_s = 600

    [upstream.batches]
    linger_s = 5

A value the library's own constructors refuse is reported under the key and line it
came from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from .._config import RateLimits
from .._errors import ConfigError
from ..batches import BatchOffload
from ..limiter._quota import Quota
from ..routing import Routes
from ..tokens import ReservationMode
from ._toml import Table

__all__ = ["CacheConfig", "KeyConfig", "UpstreamConfig", "parse_upstream"]

_LIMIT_KEYS = ("rpm", "input_tpm", "output_tpm", "window_s", "burst", "lead_s")
_BATCH_KEYS = ("linger_s", "max_requests", "max_bytes", "poll_s", "poll_factor", "poll_max_s")


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """One key of the pool: its name, and the environment variable holding its value."""

    name: str
    env: str
    base_url: str | None = None


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """The response cache: in this process's memory, or in ``upstream.redis``."""

    backend: Literal["memory", "redis"] = "memory"
    ttl_s: float = 3600.0
    max_entries: int = 10_000
    max_bytes: int = 64 * 2**20


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The Anthropic account behind the gateway; its keys never leave the process.

    :param api_key_env: environment variable holding the one key (without ``keys``)
    :param keys: a key pool; each entry names the variable holding its value
    :param limits: pool name or model id -> its own limits (the top-level ``rpm``,
        ``input_tpm`` and ``output_tpm`` apply to every other pool)
    :param aliases: model names clients may use, mapped to real model ids
    :param models: model ids listed by ``GET /v1/models`` besides the aliases
    :param redis: the shared backend's URL (it may hold a password: never shown)
    """

    base_url: str | None = None
    api_key_env: str = "ANTHROPIC_API_KEY"
    api_key: str | None = field(default=None, repr=False)
    keys: tuple[KeyConfig, ...] = ()
    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    window_s: float = 60.0
    limits: Mapping[str, RateLimits] = field(default_factory=dict, hash=False)
    pools: Mapping[str, str] = field(default_factory=dict, hash=False)
    concurrency: int | None = 16
    max_queue: int | None = 10_000
    queue_timeout_s: float | None = 30.0
    aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    routes: Routes = field(default_factory=Routes, hash=False)
    models: tuple[str, ...] = ()
    quotas: tuple[Quota, ...] = ()
    quota_file: str | None = None
    cache: CacheConfig | None = None
    coalesce: bool | None = None
    batches: BatchOffload | None = None
    redis: str | None = field(default=None, repr=False)
    redis_on_failure: Literal["fail", "degrade"] = "fail"
    output_reservation: ReservationMode = "max_tokens"

    def default_limits(self) -> RateLimits:
        return RateLimits(self.rpm, self.input_tpm, self.output_tpm, window_s=self.window_s)

    def targets(self, name: str) -> tuple[str, ...]:
        """The model ids a requested name can end up at (itself if it is no route)."""
        name = self.aliases.get(name, name)
        name = self.routes.aliases.get(name, name)
        arms = self.routes.splits.get(name)
        return tuple(arms) if arms is not None else (name,)


def parse_upstream(t: Table) -> UpstreamConfig:
    t.only(
        "base_url", "api_key_env", "api_key", "keys", "rpm", "input_tpm", "output_tpm",
        "window_s", "limits", "pools", "concurrency", "max_queue", "queue_timeout_s",
        "aliases", "routes", "models", "quotas", "quota_file", "cache", "coalesce",
        "batches", "redis", "redis_on_failure", "output_reservation",
    )  # fmt: skip
    window_s = t.number("window_s", 60.0)
    # secret: the URL may hold a password, so no error quotes its value.
    redis = t.optional_text("redis", secret=True)
    cache = _cache(t.table("cache")) if "cache" in t.data else None
    # Refused here, where the error can name the key and line, not later in the engine.
    if cache is not None and cache.backend == "redis" and redis is None:
        t.table("cache").fail("backend", '"redis" needs upstream.redis = "redis://..."')
    return UpstreamConfig(
        base_url=t.optional_text("base_url"),
        api_key_env=t.text("api_key_env", "ANTHROPIC_API_KEY"),
        api_key=t.optional_text("api_key", secret=True),
        keys=_keys(t),
        rpm=t.optional_number("rpm"),
        input_tpm=t.optional_number("input_tpm"),
        output_tpm=t.optional_number("output_tpm"),
        window_s=window_s,
        limits=_limits(t.table("limits"), window_s),
        pools=MappingProxyType(t.table("pools").string_map()),
        concurrency=t.optional_int("concurrency", 16),
        max_queue=t.optional_int("max_queue", 10_000),
        queue_timeout_s=t.optional_number("queue_timeout_s", 30.0),
        aliases=MappingProxyType(t.table("aliases").string_map()),
        routes=_routes(t.table("routes")),
        models=tuple(t.strings("models") or ()),
        quotas=tuple(_quota(q) for q in t.tables("quotas")),
        quota_file=t.optional_text("quota_file"),
        cache=cache,
        coalesce=t.optional_bool("coalesce"),
        batches=_batches(t.table("batches")) if "batches" in t.data else None,
        redis=redis,
        redis_on_failure=t.choice("redis_on_failure", ("fail", "degrade"), "fail"),
        # as_generated: the 2026 OTPM rule (OutputReservation explains the three).
        output_reservation=t.choice("output_reservation", get_args(ReservationMode), "max_tokens"),
    )


def _keys(t: Table) -> tuple[KeyConfig, ...]:
    keys: list[KeyConfig] = []
    for entry in t.tables("keys"):
        entry.only("name", "env", "base_url")
        name, env = entry.text("name", None), entry.text("env", None)
        keys.append(KeyConfig(name, env, entry.optional_text("base_url")))
    names = [k.name for k in keys]
    for index, name in enumerate(names):
        # Names label pools and metrics: two keys of one name would share one pool's buckets.
        if name in names[:index]:
            t.tables("keys")[index].fail("name", f"duplicate key name {name!r}")
    # Either, not both: which key serves would otherwise be a guess.
    if keys and "api_key" in t.data:
        t.fail("api_key", "give either api_key or keys, not both")
    return tuple(keys)


def _limits(t: Table, window_s: float) -> Mapping[str, RateLimits]:
    limits: dict[str, RateLimits] = {}
    for name in t.data:
        pool = t.table(name)
        pool.only(*_LIMIT_KEYS)
        with _reported(pool):
            limits[name] = RateLimits(
                rpm=pool.optional_number("rpm"),
                input_tpm=pool.optional_number("input_tpm"),
                output_tpm=pool.optional_number("output_tpm"),
                # The top-level window by default, so a time-scaled upstream scales every pool.
                window_s=pool.number("window_s", window_s),
                burst=pool.number("burst", 1.0),
                lead_s=pool.number("lead_s", 0.05, allow_zero=True),
            )
    return MappingProxyType(limits)


def _routes(t: Table) -> Routes:
    t.only("aliases", "rules", "splits", "fallbacks")
    splits = t.table("splits")
    fallbacks = t.table("fallbacks")
    with _reported(t):
        return Routes(
            aliases=t.table("aliases").string_map(),
            rules=t.table("rules").string_map(),
            splits={name: splits.table(name).number_map() for name in splits.data},
            fallbacks={name: fallbacks.strings(name) or [] for name in fallbacks.data},
        )


def _quota(t: Table) -> Quota:
    t.only("period", "requests", "tokens", "usd", "pool")
    period = t.choice("period", ("day", "month"), None)
    requests, tokens = t.optional_int("requests", None), t.optional_int("tokens", None)
    with _reported(t):
        return Quota(
            period, requests=requests, tokens=tokens, usd=t.optional_number("usd"),
            pool=t.optional_text("pool"),
        )  # fmt: skip


def _cache(t: Table) -> CacheConfig:
    t.only("backend", "ttl_s", "max_entries", "max_bytes")
    return CacheConfig(
        backend=t.choice("backend", ("memory", "redis"), "memory"),
        ttl_s=t.number("ttl_s", 3600.0),
        max_entries=int(t.number("max_entries", 10_000, integer=True)),
        max_bytes=int(t.number("max_bytes", 64 * 2**20, integer=True)),
    )


def _batches(t: Table) -> BatchOffload:
    t.only(*_BATCH_KEYS)
    d = BatchOffload()
    with _reported(t):
        return BatchOffload(
            linger_s=t.number("linger_s", d.linger_s),
            max_requests=int(t.number("max_requests", d.max_requests, integer=True)),
            max_bytes=int(t.number("max_bytes", d.max_bytes, integer=True)),
            poll_s=t.number("poll_s", d.poll_s),
            poll_factor=t.number("poll_factor", d.poll_factor),
            poll_max_s=t.number("poll_max_s", d.poll_max_s),
        )


@contextlib.contextmanager
def _reported(t: Table) -> Iterator[None]:
    """A library constructor's ConfigError, re-raised under the table's key and line."""
    try:
        yield
    except ConfigError as exc:
        if exc.argument.startswith(f"{t.path}."):
            raise  # our own getters' error: it names the key and line already
        t.fail(exc.argument, str(exc).removeprefix(f"{exc.argument}: "))
