"""The Flow's grouped settings: the queue, token counting, and spending.

Each is a frozen object checked at construction, so a bad value fails where it is
written and names its field, and a Flow's settings can be built once and shared (as
httpx's ``Timeout`` and ``Limits`` are).

No ``from __future__ import annotations`` here, unlike elsewhere: the fields' types are
evaluated where they are written, so ``typing.get_type_hints`` resolves them wherever the
classes say they live (``claudeflow``, whose namespace does not import ``Estimator``).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .._checks import check_count, check_instance, check_non_negative, check_positive
from .._errors import ConfigError
from ..limiter import Quota
from ..tokens import OutputReservation, PriceTable
from ._jobs import Estimator

__all__ = ["QueuePolicy", "SpendPolicy", "TokenCounting"]


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """How requests wait before they start.

    :param max_size: max requests waiting; beyond it ``create`` raises
        :class:`QueueFullError` (or waits for space with ``wait_for_space=True``);
        ``None``: unbounded.
    :param aging_s: seconds of waiting worth one priority class, so a low class cannot
        starve (``None``: strict classes).
    :param timeout: default limit in seconds on how long a request may wait before its
        first attempt starts (``create(queue_timeout=...)`` overrides it per call).
    """

    max_size: int | None = 100_000
    aging_s: float | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        check_count("max_size", self.max_size, allow_none=True)
        check_positive("aging_s", self.aging_s)
        check_positive("timeout", self.timeout)


@dataclass(frozen=True, slots=True)
class TokenCounting:
    """How a request's cost in tokens is estimated before it is admitted.

    :param mode: ``"local"`` (tiktoken, or ``estimator``) or ``"server"``: exact counts
        from ``/v1/messages/count_tokens``, within ``count_tokens_rpm`` and cached by
        content, with the local estimate as the fallback.
    :param count_tokens_rpm: the rate of those counting calls.
    :param calibrate: correct local estimates online by the server's counts (per model).
    :param estimator: anything with ``async estimate_async(body) -> int`` (default:
        :class:`TokenEstimator`); only with ``mode="local"``.
    :param count_cache_reads: count cache reads toward input tokens per minute (only a
        few older models do).
    :param output_reservation: how many output tokens to reserve per request (default:
        ``max_tokens``; ``OutputReservation(mode="adaptive")`` for accounts whose OTPM
        counts actual output only). It learns as it goes: give each Flow its own.
    """

    mode: Literal["local", "server"] = "local"
    count_tokens_rpm: float = 5_000
    calibrate: bool = True
    estimator: Estimator | None = None
    count_cache_reads: bool = False
    output_reservation: OutputReservation | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("local", "server"):
            raise ConfigError("mode", f"must be 'local' or 'server', got {self.mode!r}")
        check_positive("count_tokens_rpm", self.count_tokens_rpm, allow_none=False)
        _check_bool("calibrate", self.calibrate)
        _check_bool("count_cache_reads", self.count_cache_reads)
        if isinstance(self.output_reservation, str):
            # The runner's and gateway's configs take the mode's name; here it is an object.
            raise ConfigError(
                "output_reservation",
                f"must be an OutputReservation, e.g. "
                f"OutputReservation(mode={self.output_reservation!r}), got a str",
            )
        check_instance("output_reservation", self.output_reservation, OutputReservation)
        if self.estimator is None:
            return
        if not callable(getattr(self.estimator, "estimate_async", None)):
            kind = type(self.estimator).__name__
            raise ConfigError("estimator", f"must have an async estimate_async(body), got {kind}")
        if self.mode == "server":
            # Two sources of counts would leave it unclear which one admission trusts.
            raise ConfigError("estimator", "is for mode='local'; mode='server' counts exactly")


@dataclass(frozen=True, slots=True)
class SpendPolicy:
    """What the Flow may spend, and at which prices.

    :param budget_usd: a spending cap that holds: each request is charged its worst case
        when it starts and settled to its price (``None``: no cap).
    :param quotas: daily or monthly caps (:class:`Quota`), one per pool and period.
    :param quota_file: where the quotas' usage is kept across restarts (default
        ``~/.local/state/claudeflow/quotas.json``).
    :param prices: the price table (default: the built-in one); unknown models are
        reported unpriced, never guessed.
    """

    budget_usd: float | None = None
    quotas: Sequence[Quota] = ()
    quota_file: str | os.PathLike[str] | None = None
    prices: PriceTable | None = None

    def __post_init__(self) -> None:
        if self.budget_usd is not None:
            check_non_negative("budget_usd", self.budget_usd)
        # A tuple, so that the frozen object cannot change under the Flow through a list.
        object.__setattr__(self, "quotas", _quotas(self.quotas))
        path: object = self.quota_file
        if path is not None and not isinstance(path, str | os.PathLike):
            raise ConfigError("quota_file", f"must be a str or a path, got {type(path).__name__}")
        check_instance("prices", self.prices, PriceTable)

    @property
    def priced(self) -> bool:
        """Whether requests need a worst-case price: a budget or a dollar quota is set."""
        return self.budget_usd is not None or any(q.usd for q in self.quotas)


def _quotas(given: object) -> tuple[Quota, ...]:
    """``given`` as a tuple of quotas, at most one per pool and period."""
    if isinstance(given, str) or not isinstance(given, Sequence):
        raise ConfigError("quotas", f"must be a sequence of Quota, got {type(given).__name__}")
    for quota in given:
        if not isinstance(quota, Quota):
            raise ConfigError("quotas", f"must be Quota objects, got {type(quota).__name__}")
    names = [quota.name for quota in given]
    if len(set(names)) != len(names):
        raise ConfigError("quotas", f"one quota per pool and period, got {names}")
    return tuple(given)


def _check_bool(argument: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(argument, f"must be True or False, got {type(value).__name__}")
