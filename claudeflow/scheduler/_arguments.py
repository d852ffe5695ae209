"""The Flow's arguments, checked once at construction (each error names its argument)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._checks import check_count
from .._config import Timeouts
from .._errors import ConfigError, InvalidRequestError
from ..batches import BatchOffload
from ..cache import ResponseCache
from ..retry import RetryPolicy
from ..routing import ApiKey, Routes
from ..transport._base import CREDENTIAL_HEADERS, check_headers, masked

__all__ = ["ONE_KEY", "Headers", "api_keys", "as_api_key", "check_arguments", "extra_headers"]

# Credentials come from api_key only: each key's limits are its own pools'.
ONE_KEY: Final = "may not set the API key; pass keys as api_key (a list makes a key pool)"

_KINDS: Final = (
    ("base_url", str),
    ("retry", RetryPolicy),
    ("timeouts", Timeouts),
    ("routes", Routes),
    ("cache", ResponseCache),
    ("batches", BatchOffload),
)


class Headers(dict[str, str]):
    """Request headers (lower-case names); the repr masks credentials."""

    def __repr__(self) -> str:
        return repr(masked(self))


def check_arguments(given: Mapping[str, Any]) -> None:
    """Validate the Flow's arguments, naming the first one that is wrong."""
    check_count("concurrency", given["concurrency"], allow_none=True)
    if given["coalesce"] is not None and not isinstance(given["coalesce"], bool):
        raise ConfigError("coalesce", f"must be True, False or None, got {given['coalesce']!r}")
    # Here, not at the top: _policies needs _jobs, which needs this module.
    from ._policies import QueuePolicy, SpendPolicy, TokenCounting

    policies = (("queue", QueuePolicy), ("tokens", TokenCounting), ("spend", SpendPolicy))
    for argument, kind in (*_KINDS, *policies):
        value = given[argument]
        if value is not None and not isinstance(value, kind):
            raise ConfigError(argument, f"must be a {kind.__name__}, got {type(value).__name__}")
    pools = given["pools"]
    if pools is not None and not (
        isinstance(pools, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) and v for k, v in pools.items())
    ):
        raise ConfigError("pools", "must map model ids to pool names (non-empty str)")
    defaults = check_headers("default_headers", given["default_headers"], config=True)
    if CREDENTIAL_HEADERS & defaults.keys():
        raise ConfigError("default_headers", ONE_KEY)


def api_keys(given: str | ApiKey | Sequence[str | ApiKey] | None) -> list[ApiKey]:
    """One key (``$ANTHROPIC_API_KEY`` by default) or a key pool; never an empty one."""
    if given is None:
        given = os.environ.get("ANTHROPIC_API_KEY")
        if not given:
            raise ConfigError("api_key", "not given and ANTHROPIC_API_KEY is not set")
    if isinstance(given, str | ApiKey):
        return [as_api_key(given)]
    if not isinstance(given, Sequence) or not given:
        raise ConfigError("api_key", "must be a str, an ApiKey or a non-empty list of them")
    keys = [as_api_key(key) for key in given]
    labels = [key.label for key in keys]
    if len(set(labels)) != len(labels):
        raise ConfigError("api_key", f"key names must be unique, got {labels}")
    return keys


def as_api_key(key: object) -> ApiKey:
    if isinstance(key, ApiKey):
        return key
    if isinstance(key, str) and key:
        return ApiKey(key)
    raise ConfigError("api_key", f"must be a non-empty str or an ApiKey, got {type(key).__name__}")


def extra_headers(extra: Mapping[str, str] | None) -> dict[str, str] | None:
    """A call's extra headers, lower-cased; credentials refused (they belong to keys)."""
    if extra is None:
        return None
    lowered = check_headers("extra_headers", extra)
    if not lowered:
        return None
    if CREDENTIAL_HEADERS & lowered.keys():
        raise InvalidRequestError(f"extra_headers: {ONE_KEY}")
    return lowered
