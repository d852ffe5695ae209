"""What the server's headers say about waiting: ``retry-after`` and ``anthropic-ratelimit-*``.

Both parsers are pure and total: a missing or malformed header gives ``None``, never an
exception, because a header we cannot read must not turn a response into a crash.
Times are computed against ``now_wall`` (seconds since the epoch), passed in so that tests
are exact and the parsers never read a clock.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ClassVar

__all__ = [
    "DimensionView",
    "ServerLimits",
    "enforced_counts",
    "parse_rate_limits",
    "parse_retry_after",
]

_PREFIX = "anthropic-ratelimit-"
# Attribute name -> the header family's infix (``anthropic-ratelimit-<infix>-limit``).
_DIMENSIONS = {
    "requests": "requests",
    "input_tokens": "input-tokens",
    "output_tokens": "output-tokens",
    "tokens": "tokens",
}
# The dimensions the API enforces; ``tokens`` is only a reporting view (api doc 2.3).
_ENFORCED = ("requests", "input_tokens", "output_tokens")


def parse_retry_after(headers: Mapping[str, str], *, now_wall: float) -> float | None:
    """Seconds the server asks us to wait, or ``None`` when it does not say (usably).

    Tried in order, as the official SDKs do: ``retry-after-ms`` (float milliseconds),
    ``retry-after`` as float seconds, ``retry-after`` as an HTTP date (relative to
    ``now_wall``). A form that is negative, non-finite or unparsable is skipped, so a
    past date gives ``None``. There is deliberately no upper cap: old SDKs ignored values
    above 60 s and retried straight into the same 429.

    >>> parse_retry_after({"retry-after": "58"}, now_wall=0.0)
    58.0
    """
    # Any mapping a user passes, not only a transport's lower-cased one.
    lower = _lower(headers)
    millis = _non_negative(lower.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = lower.get("retry-after")
    if raw is None:
        return None
    seconds = _non_negative(raw)
    if seconds is not None:
        return seconds
    moment = _http_date(raw)
    return None if moment is None or moment < now_wall else moment - now_wall


@dataclass(frozen=True, slots=True)
class DimensionView:
    """One ``anthropic-ratelimit-<dimension>-*`` family; ``None`` where absent or malformed.

    :ivar limit: the per-minute limit in force
    :ivar remaining: what is left (token counts are rounded to thousands by the API)
    :ivar reset_in: seconds until the bucket is full again (0.0 when it already is)
    """

    limit: int | None = None
    remaining: int | None = None
    reset_in: float | None = None


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The server's view of every rate-limit dimension, from one response's headers.

    ``ServerLimits.empty`` is the value for a response without such headers.
    """

    requests: DimensionView = DimensionView()
    input_tokens: DimensionView = DimensionView()
    output_tokens: DimensionView = DimensionView()
    tokens: DimensionView = DimensionView()

    empty: ClassVar[ServerLimits]

    def exhausted(self) -> tuple[str, ...]:
        """Names of the enforced dimensions whose ``remaining`` is 0, in a fixed order."""
        return tuple(name for name in _ENFORCED if getattr(self, name).remaining == 0)


ServerLimits.empty = ServerLimits()


def parse_rate_limits(headers: Mapping[str, str], *, now_wall: float) -> ServerLimits:
    """Read the ``anthropic-ratelimit-*`` headers into a :class:`ServerLimits`.

    >>> limits = parse_rate_limits({"anthropic-ratelimit-requests-remaining": "0"}, now_wall=0)
    >>> limits.exhausted()
    ('requests',)
    """
    lower = _lower(headers)
    # None at all (a proxy's error page, say): the shared empty view, no parsing.
    if not any(key.startswith(_PREFIX) for key in lower):
        return ServerLimits.empty
    views = {
        name: _dimension(lower, f"{_PREFIX}{infix}-", now_wall)
        for name, infix in _DIMENSIONS.items()
    }
    return ServerLimits(**views)


# (attribute, limit header, remaining header) of each enforced dimension.
_COUNT_HEADERS = tuple(
    (name, f"{_PREFIX}{_DIMENSIONS[name]}-limit", f"{_PREFIX}{_DIMENSIONS[name]}-remaining")
    for name in _ENFORCED
)


def enforced_counts(lower: Mapping[str, str]) -> list[tuple[str, int | None, int | None]]:
    """``(dimension, limit, remaining)`` of each enforced dimension, from lower-cased headers.

    The part of :func:`parse_rate_limits` the limiter needs on every response, without
    building the whole view (a response's hot path).
    """
    return [
        (name, _count(lower.get(limit)), _count(lower.get(remaining)))
        for name, limit, remaining in _COUNT_HEADERS
    ]


def _dimension(lower: Mapping[str, str], prefix: str, now_wall: float) -> DimensionView:
    reset = _rfc3339(lower.get(prefix + "reset"))
    return DimensionView(
        limit=_count(lower.get(prefix + "limit")),
        remaining=_count(lower.get(prefix + "remaining")),
        # Floored at 0: the epoch-zero reset the API sends for a full bucket means "now".
        reset_in=None if reset is None else max(0.0, reset - now_wall),
    )


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}


def _non_negative(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _count(raw: str | None) -> int | None:
    if raw is None:
        return None
    digits = raw.strip()
    # isascii too: isdigit accepts "²", which int() refuses.
    return int(digits) if digits.isascii() and digits.isdigit() else None


def _http_date(raw: str) -> float | None:
    try:
        moment = parsedate_to_datetime(raw)
    # Each of these comes out of parsedate_to_datetime for some malformed date.
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _timestamp(moment)


@functools.lru_cache(maxsize=256)
def _rfc3339(raw: str | None) -> float | None:
    # Cached: reset stamps have one-second resolution, so consecutive responses repeat them.
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return _timestamp(moment)


def _timestamp(moment: datetime) -> float | None:
    # A date without a zone is UTC: both header formats are defined in UTC.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.timestamp()
    # A year beyond what the platform's time functions hold.
    except (OverflowError, OSError, ValueError):
        return None
