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
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from .._errors import ClaudeflowError, ConfigError
from ..scheduler._request import parse_priority

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
class UpstreamConfig:
    """The Anthropic account behind the gateway; its key never leaves the process.

    :param api_key_env: environment variable holding the Anthropic key
    :param aliases: model names clients may use, mapped to real model ids
    :param models: model ids listed by ``GET /v1/models`` besides the aliases
    """

    base_url: str | None = None
    api_key_env: str = "ANTHROPIC_API_KEY"
    api_key: str | None = field(default=None, repr=False)
    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    window_s: float = 60.0
    concurrency: int | None = 16
    max_queue: int | None = 10_000
    queue_timeout_s: float | None = 30.0
    aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    models: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """One gateway key: who it is, how urgent, which models, and its own quotas.

    ``rpm`` counts requests per minute, ``tpm`` input plus output tokens per minute
    (debited after each response), ``budget_usd_per_day`` dollars per UTC day.
    """

    name: str
    key_sha256: str = field(repr=False)
    priority: int = 1
    models: frozenset[str] | None = None
    rpm: float | None = None
    tpm: float | None = None
    budget_usd_per_day: float | None = None

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


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
    upstream: UpstreamConfig = UpstreamConfig()
    clients: tuple[ClientConfig, ...] = ()
    alerts: AlertConfig = AlertConfig()
    source: str | None = None

    def client_by_hash(self) -> Mapping[str, ClientConfig]:
        return {client.key_sha256: client for client in self.clients}

    def resolve_model(self, name: str) -> str:
        return self.upstream.aliases.get(name, name)


def load_config(path: str | Path) -> GatewayConfig:
    """Read and validate the TOML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str | None = None) -> GatewayConfig:
    """Validate TOML ``text``; errors name the key and its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}") from None
    root = _Table(data, "", _Lines(text))
    root.only("gateway", "upstream", "clients", "alerts")
    gateway = root.table("gateway")
    gateway.only("host", "port", "budget_usd_per_day", "default_max_tokens", "shutdown_timeout_s")
    config = GatewayConfig(
        host=gateway.text("host", "127.0.0.1"),
        port=int(gateway.number("port", 8080, integer=True, allow_zero=True)),
        budget_usd_per_day=gateway.optional_number("budget_usd_per_day"),
        default_max_tokens=int(gateway.number("default_max_tokens", 4096, integer=True)),
        shutdown_timeout_s=gateway.number("shutdown_timeout_s", 30.0),
        upstream=_upstream(root.table("upstream")),
        clients=tuple(_client(t) for t in root.tables("clients")),
        alerts=_alerts(root.table("alerts")),
        source=source,
    )
    _check_unique(config, root)
    return config


def _upstream(t: _Table) -> UpstreamConfig:
    t.only(
        "base_url", "api_key_env", "api_key", "rpm", "input_tpm", "output_tpm", "window_s",
        "concurrency", "max_queue", "queue_timeout_s", "aliases", "models",
    )  # fmt: skip
    aliases = t.table("aliases")
    return UpstreamConfig(
        base_url=t.optional_text("base_url"),
        api_key_env=t.text("api_key_env", "ANTHROPIC_API_KEY"),
        api_key=t.optional_text("api_key", secret=True),
        rpm=t.optional_number("rpm"),
        input_tpm=t.optional_number("input_tpm"),
        output_tpm=t.optional_number("output_tpm"),
        window_s=t.number("window_s", 60.0),
        concurrency=t.optional_int("concurrency", 16),
        max_queue=t.optional_int("max_queue", 10_000),
        queue_timeout_s=t.optional_number("queue_timeout_s", 30.0),
        aliases=MappingProxyType({k: aliases.text(k, "") for k in aliases.data}),
        models=tuple(t.strings("models") or ()),
    )


def _client(t: _Table) -> ClientConfig:
    t.only("name", "key_sha256", "priority", "models", "rpm", "tpm", "budget_usd_per_day")
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


def _alerts(t: _Table) -> AlertConfig:
    t.only("webhook_url", "budget_thresholds", "upstream_errors_per_min", "webhook_timeout_s")
    thresholds = t.data.get("budget_thresholds", [0.8, 1.0])
    if not isinstance(thresholds, list) or not all(
        isinstance(x, int | float) and not isinstance(x, bool) and 0 < x for x in thresholds
    ):
        t.fail("budget_thresholds", "must be a list of fractions > 0, e.g. [0.8, 1.0]")
    return AlertConfig(
        webhook_url=t.optional_text("webhook_url"),
        budget_thresholds=tuple(sorted(float(x) for x in thresholds)),
        upstream_errors_per_min=t.number("upstream_errors_per_min", 10.0),
        webhook_timeout_s=t.number("webhook_timeout_s", 5.0),
    )


def _check_unique(config: GatewayConfig, root: _Table) -> None:
    names: set[str] = set()
    hashes: set[str] = set()
    for table, client in zip(root.tables("clients"), config.clients, strict=True):
        if client.name in names:
            table.fail("name", f"duplicate client name {client.name!r}")
        if client.key_sha256 in hashes:
            table.fail("key_sha256", "the same key is configured twice")
        names.add(client.name)
        hashes.add(client.key_sha256)


class _Lines:
    """Finds the line of a key in the source (tomllib keeps no positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, header: str, index: int, key: str) -> int | None:
        """Line (1-based) of ``key =`` inside the ``index``-th ``header`` section."""
        start, seen = 0, -1
        if header:
            pattern = re.compile(rf"^\s*\[{{1,2}}\s*{re.escape(header)}\s*\]{{1,2}}\s*(#.*)?$")
            for number, line in enumerate(self.lines):
                if pattern.match(line):
                    seen += 1
                    if seen == index:
                        start = number + 1
                        break
            else:
                return None
        key_pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            if number > start and re.match(r"^\s*\[", line):
                return None
            if key_pattern.match(line):
                return number + 1
        return None


class _Table:
    """One TOML table with typed getters whose errors name ``path.key`` and its line."""

    def __init__(self, data: Any, path: str, lines: _Lines, index: int = 0) -> None:
        self.path = path
        self.lines = lines
        self.index = index
        if not isinstance(data, dict):
            raise ConfigError(path or "config", "must be a table")
        self.data: dict[str, Any] = data

    def fail(self, key: str, problem: str) -> Any:
        header = re.sub(r"\[\d+\]$", "", self.path)
        line = self.lines.find(header, self.index, key)
        where = f" (line {line})" if line is not None else ""
        name = f"{self.path}.{key}" if self.path else key
        raise ConfigError(name, problem + where)

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                self.fail(key, f"unknown key; expected one of {', '.join(keys)}")

    def table(self, key: str) -> _Table:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return _Table(value, self._child(key), self.lines)

    def tables(self, key: str) -> list[_Table]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"must be an array of tables ([[{key}]])")
        return [_Table(v, f"{self._child(key)}[{i}]", self.lines, i) for i, v in enumerate(value)]

    def text(self, key: str, default: str | None) -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, "is required")
        if not isinstance(value, str) or not value:
            self.fail(key, "must be a non-empty string")
        return str(value)

    def optional_text(self, key: str, *, secret: bool = False) -> str | None:
        value = self.data.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            # A secret's value is never echoed, not even its type's repr.
            self.fail(key, "must be a non-empty string" if secret else f"got {value!r:.40}")
        return value

    def number(
        self, key: str, default: float, *, integer: bool = False, allow_zero: bool = False
    ) -> float:
        value = self.data.get(key, default)
        ok = isinstance(value, int if integer else int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            kind = "an integer" if integer else "a number"
            self.fail(key, f"must be {kind} {'>=' if allow_zero else '>'} 0, got {value!r:.40}")
        return float(value)

    def optional_number(self, key: str, default: float | None = None) -> float | None:
        if self.data.get(key, default) is None:
            return None
        return self.number(key, default or 0.0)

    def optional_int(self, key: str, default: int | None) -> int | None:
        if self.data.get(key, default) is None:
            return None
        return int(self.number(key, default or 0, integer=True))

    def strings(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, "must be a list of non-empty strings")
        return list(value)

    def _child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key
