"""Seeded fault injection: which request fails, and how.

Each fault kind has its own RNG (seeded ``f"{seed}/{kind}"``) and every request that
reaches fault injection draws once from each of them, whatever happens next. The
number of faults of one kind over N requests is therefore a pure function of the seed,
the rate and N, and tests can reproduce it exactly.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from enum import Enum

from ._config import FaultConfig
from ._wire import SimError

__all__ = ["Fault", "FaultInjector", "fault_error"]


class Fault(Enum):
    """A fault to inject. ``before_admission`` faults consume no quota."""

    OVERLOAD_WINDOW = "overload_window"
    SPEND_CAP = "spend_cap"
    ERROR_529 = "error_529"
    ERROR_500 = "error_500"
    RAMP_429 = "ramp_429"
    ERROR_504 = "error_504"
    STREAM_ERROR = "stream_error"
    CONNECTION_DROP = "connection_drop"

    @property
    def before_admission(self) -> bool:
        # These two break a reply under way, so the request was admitted and paid for first.
        return self not in (Fault.STREAM_ERROR, Fault.CONNECTION_DROP)


# Rate field name -> fault, in priority order (FaultConfig.rate_names()).
_BY_RATE = {
    "spend_cap_rate": Fault.SPEND_CAP,
    "error_529": Fault.ERROR_529,
    "error_500": Fault.ERROR_500,
    "ramp_429": Fault.RAMP_429,
    "error_504": Fault.ERROR_504,
    "stream_error": Fault.STREAM_ERROR,
    "connection_drop": Fault.CONNECTION_DROP,
}


class FaultInjector:
    """Decides the fault (if any) of each request."""

    __slots__ = ("_config", "_draws", "_seed", "enabled")

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._config = config
        self._seed = seed
        self.enabled = config.enabled
        self._draws: list[tuple[float, random.Random, Fault]] = []
        self.reset()

    def reset(self) -> None:
        """Rewind every RNG to its seed."""
        self._draws = [
            (getattr(self._config, name), random.Random(f"{self._seed}/{name}"), fault)
            for name, fault in _BY_RATE.items()
        ]

    def draw(self, *, elapsed: float, admitted: int, streaming: bool) -> Fault | None:
        """The fault of the next request.

        :param elapsed: real seconds since the simulator started (for the window)
        :param admitted: requests admitted so far (for ``spend_cap_after``)
        :param streaming: a mid-stream error only applies to streamed replies
        """
        fired: Fault | None = None
        for rate, rng, fault in self._draws:
            # Every RNG draws even after one fired, so each kind's sequence ignores the others.
            hit = rng.random() < rate
            if hit and fired is None and (streaming or fault is not Fault.STREAM_ERROR):
                fired = fault
        # The window and the spend cap override random faults: they model states, not chance.
        window = self._config.overload_window
        if window is not None and window[0] <= elapsed < window[1]:
            return Fault.OVERLOAD_WINDOW
        cap_after = self._config.spend_cap_after
        if cap_after is not None and admitted >= cap_after:
            return Fault.SPEND_CAP
        return fired


def fault_error(fault: Fault, headers: dict[str, str], wall: float) -> SimError:
    """The error of a fault injected before admission.

    :param headers: rate-limit (and, where due, ``retry-after``) headers to send
    :param wall: Unix time now, for the spend cap's "regain access" date
    """
    if fault in (Fault.ERROR_529, Fault.OVERLOAD_WINDOW):
        return SimError(529, "overloaded_error", "Overloaded", headers=_retry(headers, True))
    if fault is Fault.ERROR_500:
        return SimError(500, "api_error", "Internal server error", headers=_retry(headers, True))
    if fault is Fault.RAMP_429:
        message = (
            "This request would exceed a ramp limit, which caps how fast your organization's "
            "usage can grow. Please ramp up traffic gradually and retry after the time in the "
            "retry-after header."
        )
        code = "ramp_limit_exceeded"
        return SimError(429, "rate_limit_error", message, error_code=code, headers=headers)
    today = datetime.fromtimestamp(wall, UTC)
    # Access returns at 00:00 UTC on the first of next month (api doc §1.6); December rolls over.
    month = datetime(today.year + today.month // 12, today.month % 12 + 1, 1, tzinfo=UTC)
    message = (
        "You have reached your API usage limits: your organization's monthly spend cap. "
        f"You will regain access on {month:%Y-%m-%d} at 00:00 UTC."
    )
    # No retry-after, and tell SDKs not to retry: only next month or a tier raise helps.
    code = "enforced_spend_limit_reached"
    return SimError(
        429, "rate_limit_error", message, error_code=code, headers=_retry(headers, False)
    )


def _retry(headers: dict[str, str], retry: bool) -> dict[str, str]:
    return {**headers, "x-should-retry": "true" if retry else "false"}
