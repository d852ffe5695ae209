"""Long-window quotas: caps per UTC day or calendar month on requests, tokens or dollars.

Beside the per-minute buckets, an account may have (or a team may set) a monthly request
quota or a daily spend cap. A :class:`Quota` caps one period for one pool (a model class
or a pool name from ``Flow(pools=...)``) or for the whole Flow. Like the budget, a request
is charged its worst case when it starts (one request, estimated input plus ``max_tokens``,
the worst-case price) and settled to its actual usage when it ends, so the cap holds with
requests in flight; one that can no longer fit is refused with
:class:`~claudeflow.QuotaExceededError`, which says when the period resets.

Usage is kept in a small JSON state file so that a restart does not reset it. It is
written atomically (temporary file, then rename) at most once per ``flush_s`` and when the
Flow closes: a crash loses at most that much of the count.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .._clock import wall_time
from .._config import check_positive
from .._errors import ConfigError, QuotaExceededError

__all__ = ["DEFAULT_QUOTA_FILE", "Quota", "QuotaBook", "QuotaCharge"]

log = logging.getLogger("claudeflow")

DEFAULT_QUOTA_FILE = Path("~/.local/state/claudeflow/quotas.json")
_FIELDS = ("requests", "tokens", "usd")
_ADJECTIVE = {"day": "daily", "month": "monthly"}


@dataclass(frozen=True, slots=True)
class Quota:
    """A cap per UTC ``"day"`` or calendar ``"month"``; give at least one of the three.

    >>> Quota("month", requests=250_000)
    Quota(period='month', requests=250000, tokens=None, usd=None, pool=None)
    """

    period: Literal["day", "month"]
    requests: int | None = None
    tokens: int | None = None  # input plus output tokens
    usd: float | None = None
    pool: str | None = None  # a model class or pool name; None: every request of the Flow

    def __post_init__(self) -> None:
        if self.period not in ("day", "month"):
            raise ConfigError("period", f"must be 'day' or 'month', got {self.period!r}")
        for name in _FIELDS:
            check_positive(name, getattr(self, name))
        if all(getattr(self, name) is None for name in _FIELDS):
            raise ConfigError("requests", "give at least one of requests, tokens or usd")
        if self.pool is not None and (not isinstance(self.pool, str) or not self.pool):
            raise ConfigError("pool", "must be a non-empty str or None")

    @property
    def name(self) -> str:
        return f"{self.pool or '*'}/{self.period}"


@dataclass(frozen=True, slots=True)
class QuotaCharge:
    """What one request may take from (or took from) a quota."""

    requests: int
    tokens: int
    usd: float


class QuotaBook:
    """Usage of every quota in the current period, persisted in ``path``."""

    def __init__(
        self,
        quotas: Iterable[Quota],
        path: str | os.PathLike[str] | None = None,
        *,
        wall: Callable[[], float] = wall_time,
        flush_s: float = 1.0,
    ) -> None:
        self.quotas = tuple(quotas)
        for quota in self.quotas:
            if not isinstance(quota, Quota):
                raise ConfigError("quotas", f"must be Quota objects, got {type(quota).__name__}")
        names = [q.name for q in self.quotas]
        if len(set(names)) != len(names):
            raise ConfigError("quotas", f"one quota per pool and period, got {names}")
        self.path = Path(path or DEFAULT_QUOTA_FILE).expanduser()
        self._wall = wall
        self._flush_s = flush_s
        self._used: dict[str, dict[str, Any]] = {}
        self._reserved: dict[str, QuotaCharge] = {}
        # Long ago: the first settle writes at once, so a fresh file exists from the start.
        self._written_at = -1e18
        self._dirty = False
        if self.quotas:
            self._load()

    # -- admission -------------------------------------------------------------------

    def check(self, pool: str, charge: QuotaCharge) -> None:
        """Raise :class:`QuotaExceededError` if ``charge`` does not fit every quota of ``pool``."""
        for quota in self._of(pool):
            used = self._usage(quota)
            held = self._reserved.get(quota.name, _ZERO)
            for field in _FIELDS:
                cap = getattr(quota, field)
                total = used[field] + getattr(held, field) + getattr(charge, field)
                # Used, in flight and this charge together: the cap holds with requests in flight.
                if cap is not None and total > cap + 1e-12:
                    raise self._refusal(quota, field, used[field], getattr(held, field))

    def _refusal(self, quota: Quota, field: str, used: float, held: float) -> QuotaExceededError:
        resets = _period_end(quota.period, self._wall())
        when = datetime.fromtimestamp(resets, UTC).isoformat().replace("+00:00", "Z")
        whose = quota.pool or "this Flow"
        return QuotaExceededError(
            f"the {_ADJECTIVE[quota.period]} {field} quota of {whose} ({getattr(quota, field):g}) "
            f"cannot pay for this request ({used:g} used, {held:g} in flight); "
            f"it resets at {when}",
            resets_at=resets,
        )

    def reserve(self, pool: str, charge: QuotaCharge) -> None:
        for quota in self._of(pool):
            held = self._reserved.get(quota.name, _ZERO)
            self._reserved[quota.name] = _add(held, charge, 1)

    def settle(self, pool: str, reserved: QuotaCharge, actual: QuotaCharge) -> None:
        for quota in self._of(pool):
            held = self._reserved.get(quota.name, _ZERO)
            # The worst case comes off the in-flight total; the actual usage goes on the books.
            self._reserved[quota.name] = _add(held, reserved, -1)
            used = self._usage(quota)
            for field in _FIELDS:
                used[field] += getattr(actual, field)
            self._dirty = True
        self._maybe_flush()

    def usage(self) -> dict[str, dict[str, Any]]:
        """Each quota's period and usage so far (for ``stats()``)."""
        return {q.name: dict(self._usage(q)) for q in self.quotas}

    # -- persistence -----------------------------------------------------------------

    def flush(self) -> None:
        """Write the usage now (atomically)."""
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Temporary file, then rename: a crash mid-write leaves the old file, never half a new one.
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._used, sort_keys=True))
        os.replace(temporary, self.path)
        self._written_at = self._wall()
        self._dirty = False

    def _maybe_flush(self) -> None:
        # At most once per flush_s: a file write per request would cost more than the request.
        if self._wall() - self._written_at >= self._flush_s:
            self.flush()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        # No file yet is a first run, not an error.
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            message = f"{self.path} is not a readable quota file: {exc}"
            # Refused, not reset: starting from zero would silently lift every cap.
            raise ConfigError("quota_file", message) from exc
        if isinstance(data, dict):
            # An entry edited out of shape restarts its own count; the others keep theirs.
            self._used = {k: v for k, v in data.items() if _valid_entry(v)}

    # -- periods ---------------------------------------------------------------------

    def _of(self, pool: str) -> list[Quota]:
        return [q for q in self.quotas if q.pool is None or q.pool == pool]

    def _usage(self, quota: Quota) -> dict[str, Any]:
        """The quota's usage in the current period (a new period starts at zero)."""
        period = _period_key(quota.period, self._wall())
        entry = self._used.get(quota.name)
        # A new period is noticed when used, so no timer is needed to reset a quota.
        if entry is None or entry.get("period") != period:
            entry = self._used[quota.name] = {
                "period": period,
                "requests": 0,
                "tokens": 0,
                "usd": 0.0,
            }
            self._dirty = True
        return entry


_ZERO = QuotaCharge(0, 0, 0.0)


def _add(a: QuotaCharge, b: QuotaCharge, sign: int) -> QuotaCharge:
    return QuotaCharge(
        # Floored at zero: float sums of dollars may undershoot, and room below zero lifts the cap.
        max(0, a.requests + sign * b.requests),
        max(0, a.tokens + sign * b.tokens),
        max(0.0, a.usd + sign * b.usd),
    )


def _valid_entry(entry: object) -> bool:
    return (
        isinstance(entry, Mapping)
        and isinstance(entry.get("period"), str)
        and all(isinstance(entry.get(f), int | float) for f in _FIELDS)
    )


def _period_key(period: str, now: float) -> str:
    # UTC: the host's time zone must not move a reset.
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


def _period_end(period: str, now: float) -> float:
    """The UTC instant the current period ends (its quota resets)."""
    moment = datetime.fromtimestamp(now, UTC)
    if period == "day":
        start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()
        return start + 86_400
    days = calendar.monthrange(moment.year, moment.month)[1]
    return datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp() + days * 86_400
