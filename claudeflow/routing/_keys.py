"""API keys: each with its own pools (its own limits) and, optionally, its own endpoint.

A Flow holds one or more keys in a :class:`KeyRing`. Admission tries the keys whose pool
for the request's model class can pay now, least busy first. A key the API refuses for
good (401, 403, or out of credit) leaves the rotation with one log line; the others go on,
and when none is left every queued request fails with that cause. Keys can be added and
removed while the Flow runs.

The key itself lives only in the request headers of its entry: every repr, log line and
statistic names a key by its ``name`` (given, or a short fingerprint of the key).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .._errors import ConfigError
from ..transport import Transport
from ..transport._base import masked
from ._pools import Pool, PoolFactory

__all__ = ["ApiKey", "KeyEntry", "KeyRing", "KeyStatistics", "fingerprint"]

log = logging.getLogger("claudeflow")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key for a key pool; ``base_url`` sends its requests to another endpoint.

    >>> ApiKey("sk-ant-...", name="team-a")
    ApiKey(name='team-a', base_url=None)
    """

    key: str = field(repr=False)
    name: str | None = None
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ConfigError("api_key", "each key must be a non-empty str")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ConfigError("name", "must be a non-empty str or None")
        # Only the type here: the transport made for the URL checks its form.
        if self.base_url is not None and not isinstance(self.base_url, str):
            raise ConfigError("base_url", f"must be a str, got {type(self.base_url).__name__}")

    @property
    def label(self) -> str:
        """What logs, stats and pool names call this key (never the key itself)."""
        return self.name or f"key-{fingerprint(self.key)}"

    def __repr__(self) -> str:
        # The label, never the key: reprs end up in logs and tracebacks.
        return f"ApiKey(name={self.label!r}, base_url={self.base_url!r})"


def fingerprint(key: str) -> str:
    """Eight hex digits of the key's SHA-256: stable, and says nothing about the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class KeyStatistics:
    """One key's state for ``stats()``."""

    name: str
    active: bool
    retired_reason: str
    in_flight: int
    requests: int


class KeyEntry:
    """A key in the ring: its headers, its transport, its pools and its counters."""

    __slots__ = (
        "_name",
        "_pools",
        "active",
        "api_key",
        "headers",
        "in_flight",
        "refusal",
        "requests",
        "retired_reason",
        "transport",
    )

    def __init__(self, api_key: ApiKey, headers: Mapping[str, str], transport: Transport) -> None:
        self.api_key = api_key
        self._name = api_key.label  # once: every result names its key, and this hashes it
        # The only place the key is kept; everything else names it by its label.
        self.headers = _Headers({**headers, "x-api-key": api_key.key})
        self.transport = transport
        self.active = True
        self.retired_reason = ""
        self.refusal: BaseException | None = None  # the error that retired it
        self.in_flight = 0
        self.requests = 0
        self._pools: dict[str, Pool] = {}

    @property
    def name(self) -> str:
        return self._name

    def statistics(self) -> KeyStatistics:
        return KeyStatistics(
            self.name, self.active, self.retired_reason, self.in_flight, self.requests
        )

    def __repr__(self) -> str:
        state = "active" if self.active else f"retired: {self.retired_reason}"
        return f"KeyEntry({self.name!r}, {state})"


class KeyRing:
    """The Flow's keys; makes each key's pool of a model class on first use.

    :param make_transport: builds the transport for a key's base URL (``None``: the
        Flow's own); the ring closes what it made.
    """

    def __init__(
        self,
        headers: Mapping[str, str],
        pools: PoolFactory,
        make_transport: Callable[[str | None], Transport],
    ) -> None:
        self._headers = dict(headers)
        self._pools = pools
        self._make_transport = make_transport
        self._entries: dict[str, KeyEntry] = {}
        self.on_change: Callable[[], None] = _noop

    def add(self, api_key: ApiKey) -> KeyEntry:
        if api_key.label in self._entries:
            raise ConfigError("api_key", f"a key named {api_key.label!r} is already in the pool")
        entry = KeyEntry(api_key, self._headers, self._make_transport(api_key.base_url))
        self._entries[api_key.label] = entry
        # A new key is new capacity: waiting lines may go at once.
        self.on_change()
        return entry

    def remove(self, name: str) -> KeyEntry:
        """Take key ``name`` out of rotation (requests in flight on it finish)."""
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError("name", f"no key named {name!r} (keys: {sorted(self._entries)})")
        # Retired first: requests in flight on it finish, and the lines wake to the change.
        self.retire(entry, "removed")
        del self._entries[name]
        return entry

    def retire(self, entry: KeyEntry, reason: str, error: BaseException | None = None) -> None:
        """The API refused this key for good: take it out of rotation, once, with a log line."""
        # Once: requests in flight on a dead key fail too, and one log line is enough.
        if not entry.active:
            return
        entry.active = False
        entry.retired_reason = reason
        entry.refusal = error
        left = sum(e.active for e in self._entries.values())
        log.warning("key %s leaves the rotation (%s); %d key(s) left", entry.name, reason, left)
        self.on_change()

    def refuse(self, pool: Pool, error: BaseException) -> None:
        """The API denies this key the pool's model class (a 403): the key serves the rest."""
        # This class only: a key refused one model (not enabled for it) still serves the others.
        if pool.refusal is None:
            pool.refusal = error
            log.warning("key %s may not use %s (%s)", pool.key.name, pool.model_class, error)
            self.on_change()

    def refusal(self, model_class: str) -> BaseException | None:
        """Why no key serves ``model_class``: the latest refusal among its keys, if any."""
        found: BaseException | None = None
        for entry in self._entries.values():
            pool = entry._pools.get(model_class)
            # A class's refusal is the more specific reason, so it wins over the key's own.
            found = (pool.refusal if pool is not None else None) or entry.refusal or found
        return found

    def pools(self, model_class: str) -> list[Pool]:
        """The active keys' pools for ``model_class`` (unless refused), least busy key first."""
        found = [
            pool
            for e in self._entries.values()
            if e.active and (pool := self.pool(e, model_class)).refusal is None
        ]
        if len(found) > 1:
            # Least busy first spreads the load; the sort is stable, so ties keep the keys' order.
            found.sort(key=lambda pool: pool.key.in_flight)
        return found

    def pool(self, entry: KeyEntry, model_class: str) -> Pool:
        found = entry._pools.get(model_class)
        if found is None:
            # On first use: a key has pools only for the classes it is asked to serve.
            found = entry._pools[model_class] = self._pools(entry, model_class)
        return found

    def all_pools(self) -> Iterator[Pool]:
        for entry in self._entries.values():
            yield from entry._pools.values()

    def __iter__(self) -> Iterator[KeyEntry]:
        # A copy: keys may be added or removed while a caller iterates.
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


class _Headers(dict[str, str]):
    """Request headers (lower-case names); the repr masks credentials."""

    def __repr__(self) -> str:
        return repr(masked(self))


def _noop() -> None:
    return None
