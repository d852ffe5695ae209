"""The gateway's one TOML file, validated into frozen dataclasses.

A bad value raises :class:`~claudeflow.ConfigError` naming the key as a path
(``clients[1].rpm``) and, where the file shows it, the line it is on::

    [gateway]                       # where to listen; the gateway-wide daily budget
    port = 8080
    budget_usd_per_day = 50

    [upstream]                      # the Anthropic account behind the gateway
    api_key_env = "ANTHROPIC_API_KEY"
    rpm = 50
    input_tpm = 30000
    output_tpm = 8000
    aliases = { fast = "claude-haiku-4-5" }

    [[clients]]                     # one table per gateway key (sha256 of the key)
    name = "search"
    key_sha256 = "9f86d0..."
    priority = "high"
    models = ["fast"]
    rpm = 60
    tpm = 100000
    budget_usd_per_day = 5

    [alerts]
    webhook_url = "http://127.0.0.1:9000/hook"
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .._errors import ClaudeflowError, ConfigError
from ..scheduler._request import parse_priority
from ._toml import Lines, Table
from ._upstream import UpstreamConfig, parse_upstream

__all__ = [
    "AlertConfig",
    "ClientConfig",
    "GatewayConfig",
    "UpstreamConfig",
    "hash_key",
    "load_config",
    "parse_config",
]

_SHA256: Final = re.compile(r"[0-9a-f]{64}")


def hash_key(key: str) -> str:
    """The sha256 hex digest the config stores in place of a gateway key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """One gateway key: who it is, how urgent, which models, and its own quotas.

    ``rpm`` counts requests per minute, ``tpm`` input plus output tokens per minute
    (debited after each response), ``budget_usd_per_day`` dollars per UTC day.
    """

    name: str
    # Kept out of reprs: the hash of a short key can be reversed by brute force.
    key_sha256: str = field(repr=False)
    priority: int = 1
    models: frozenset[str] | None = None
    rpm: float | None = None
    tpm: float | None = None
    budget_usd_per_day: float | None = None

    def allows(self, model: str, targets: tuple[str, ...] = ()) -> bool:
        """Listed itself, or a route (alias, split) all of whose ``targets`` are listed."""
        if self.models is None or model in self.models:
            return True
        # All, not any: a split may send any request to any of its arms.
        return bool(targets) and all(target in self.models for target in targets)


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """When to warn: budget fractions reached, and upstream 429/529s per minute."""

    webhook_url: str | None = None
    budget_thresholds: tuple[float, ...] = (0.8, 1.0)
    upstream_errors_per_min: float = 10.0
    webhook_timeout_s: float = 5.0


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything ``claudeflow serve`` reads from its TOML file."""

    host: str = "127.0.0.1"
    port: int = 8080
    budget_usd_per_day: float | None = None
    default_max_tokens: int = 4096
    shutdown_timeout_s: float = 30.0
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    clients: tuple[ClientConfig, ...] = ()
    alerts: AlertConfig = AlertConfig()
    source: str | None = None

    def client_by_hash(self) -> Mapping[str, ClientConfig]:
        return {client.key_sha256: client for client in self.clients}

    def allows(self, client: ClientConfig, model: str) -> bool:
        """May ``client`` ask for ``model`` (a model id, an alias or a split)?"""
        return client.allows(model, self.upstream.targets(model))


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        # strerror, not the whole exception: the path is in our message already.
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str | None = None) -> GatewayConfig:
    """Validate TOML ``text``; errors name the key and its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}") from None
    root = Table(data, "", Lines(text))
    root.only("gateway", "upstream", "clients", "alerts")
    gateway = root.table("gateway")
    gateway.only("host", "port", "budget_usd_per_day", "default_max_tokens", "shutdown_timeout_s")
    config = GatewayConfig(
        host=gateway.text("host", "127.0.0.1"),
        port=int(gateway.number("port", 8080, integer=True, allow_zero=True)),
        budget_usd_per_day=gateway.optional_number("budget_usd_per_day"),
        default_max_tokens=int(gateway.number("default_max_tokens", 4096, integer=True)),
        shutdown_timeout_s=gateway.number("shutdown_timeout_s", 30.0),
        upstream=parse_upstream(root.table("upstream")),
        clients=tuple(_client(t) for t in root.tables("clients")),
        alerts=_alerts(root.table("alerts")),
        source=source,
    )
    _check_unique(config, root)
    return config


def _client(t: Table) -> ClientConfig:
    t.only("name", "key_sha256", "priority", "models", "rpm", "tpm", "budget_usd_per_day")
    # A digest pasted in upper case must match the lower-case one hash_key makes.
    key_hash = t.text("key_sha256", None).lower()
    if not _SHA256.fullmatch(key_hash):
        t.fail("key_sha256", "must be 64 hex digits (print one with `claudeflow serve --hash-key`)")
    try:
        priority = parse_priority(t.data.get("priority", "normal"))
    except ClaudeflowError as exc:
        t.fail("priority", str(exc).removeprefix("priority: "))
    models = t.strings("models")
    return ClientConfig(
        name=t.text("name", None),
        key_sha256=key_hash,
        priority=priority,
        models=None if models is None else frozenset(models),
        rpm=t.optional_number("rpm"),
        tpm=t.optional_number("tpm"),
        budget_usd_per_day=t.optional_number("budget_usd_per_day"),
    )


def _alerts(t: Table) -> AlertConfig:
    t.only("webhook_url", "budget_thresholds", "upstream_errors_per_min", "webhook_timeout_s")
    thresholds = t.data.get("budget_thresholds", [0.8, 1.0])
    if not isinstance(thresholds, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and 0 < x for x in thresholds
    ):
        t.fail("budget_thresholds", "must be a list of fractions > 0, e.g. [0.8, 1.0]")
    return AlertConfig(
        webhook_url=t.optional_text("webhook_url"),
        # Sorted, so one request that crosses several thresholds alerts in rising order.
        budget_thresholds=tuple(sorted(float(x) for x in thresholds)),
        upstream_errors_per_min=t.number("upstream_errors_per_min", 10.0),
        webhook_timeout_s=t.number("webhook_timeout_s", 5.0),
    )


def _check_unique(config: GatewayConfig, root: Table) -> None:
    names: set[str] = set()
    hashes: set[str] = set()
    for table, client in zip(root.tables("clients"), config.clients, strict=True):
        if client.name in names:
            table.fail("name", f"duplicate client name {client.name!r}")
        if client.key_sha256 in hashes:
            # One key twice would authenticate as whichever client came last.
            table.fail("key_sha256", "the same key is configured twice")
        names.add(client.name)
        hashes.add(client.key_sha256)
