"""The knobs of :class:`~claudeflow.limiter.RedisBackend`, checked once, and its URL.

The URL is kept twice: as given (to connect) and with its password masked (for reprs,
logs and errors); the password itself is returned too, so that a server's error text
that happens to repeat it can be scrubbed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .._checks import check_non_negative, check_positive
from .._errors import ConfigError

__all__ = ["RedisSettings", "check_url"]

_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """The backend's knobs, checked once (see :class:`RedisBackend` for their meaning)."""

    on_failure: str
    timeout_s: float
    heartbeat_s: float
    key_ttl_s: float
    reconnect_max_s: float
    fail_after_s: float = 5.0

    def __post_init__(self) -> None:
        if self.on_failure not in ("fail", "degrade"):
            raise ConfigError("on_failure", f"must be 'fail' or 'degrade', got {self.on_failure!r}")
        for name in ("timeout_s", "heartbeat_s", "key_ttl_s", "reconnect_max_s"):
            check_positive(name, getattr(self, name), allow_none=False)
        check_non_negative("fail_after_s", self.fail_after_s)
        # Keys must outlive a live process's head entry (three heartbeats), or expire under it.
        if self.key_ttl_s <= 3 * self.heartbeat_s:
            raise ConfigError("key_ttl_s", f"must exceed 3 * heartbeat_s, got {self.key_ttl_s!r}")


def check_url(url: object) -> tuple[str, str]:
    """The URL with its password masked, and the password (to scrub from messages)."""
    if not isinstance(url, str):
        raise ConfigError("url", f"must be a str, got {type(url).__name__}")
    try:
        parts = urlsplit(url)
        secret = parts.password or ""
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ConfigError("url", "is not a valid URL") from None
    if parts.scheme not in _SCHEMES:
        schemes = ", ".join(_SCHEMES)
        raise ConfigError("url", f"scheme must be one of {schemes}; got {parts.scheme!r}")
    # A unix socket URL names a path, not a host.
    if parts.scheme != "unix" and not host:
        raise ConfigError("url", "has no host")
    user = parts.username or ""
    # Rebuilt from the parts, not by replacing text: the password may occur elsewhere too.
    netloc = f"{user}:***@{host}{port}" if secret else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc)), secret
