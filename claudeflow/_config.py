"""Frozen configuration objects, validated at construction."""

from __future__ import annotations

from dataclasses import dataclass

from ._checks import check_fraction, check_number, check_positive
from ._errors import ConfigError

__all__ = ["RateLimits", "Timeouts", "check_positive"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-minute limits of one model class, as the account's tier grants them.

    Any dimension left ``None`` is unlimited (or, with header learning on, learned from
    the server). ``window_s`` is the length of the "minute": 60 for the real API, a few
    seconds for a time-scaled simulator. ``burst`` is the bucket capacity as a fraction of
    one window's worth: 1.0 lets a full minute's quota go at once; the API may enforce
    per-minute limits over shorter windows, so a smaller burst is safer at startup.
    ``lead_s`` holds back that many seconds of refill in every bucket: a request takes
    from our bucket when it is sent but from the server's only when it arrives, so the
    server's bucket refills that much later than ours and, without the margin, a request
    admitted the instant ours can pay finds the server's a little short (a 429). An
    in-memory pool keeps less once answers come back: per bucket, the longest a request
    was out while the server's bucket may have been full (see ``limiter._transit``),
    never more than ``lead_s``.
    ``output_lead_s`` (default: ``lead_s``) is the same for output tokens alone; output
    charged as it is generated reaches us late, so it may want more in hand.

    >>> RateLimits(rpm=50, input_tpm=30_000, output_tpm=8_000).per_second("rpm")
    0.8333333333333334
    """

    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    window_s: float = 60.0
    burst: float = 1.0
    lead_s: float = 0.05
    output_lead_s: float | None = None

    def __post_init__(self) -> None:
        for name in ("rpm", "input_tpm", "output_tpm"):
            check_positive(name, getattr(self, name))
        check_positive("window_s", self.window_s, allow_none=False)
        check_fraction("burst", self.burst, allow_zero=False, allow_one=True)
        if not 0 <= check_number("lead_s", self.lead_s) < self.window_s:
            raise ConfigError("lead_s", f"must be in [0, window_s), got {self.lead_s!r}")
        out = self.output_lead_s
        if out is not None and not 0 <= check_number("output_lead_s", out) < self.window_s:
            raise ConfigError("output_lead_s", f"must be in [0, window_s), got {out!r}")
        if self.rpm is not None and self.rpm * self.burst < 1.0 - 1e-9:
            raise ConfigError(
                "burst",
                f"rpm x burst = {self.rpm * self.burst:.3g}: the bucket must hold at least "
                "one request",
            )

    @property
    def leads(self) -> tuple[float, float, float]:
        """Seconds of refill kept in hand for requests, input and output tokens."""
        out = self.lead_s if self.output_lead_s is None else self.output_lead_s
        return (self.lead_s, self.lead_s, out)

    def per_second(self, dimension: str) -> float | None:
        """Refill rate of ``dimension`` (``rpm``, ``input_tpm`` or ``output_tpm``) per second."""
        limit: float | None = getattr(self, dimension)
        return None if limit is None else limit / self.window_s

    def capacity(self, dimension: str) -> float | None:
        """Bucket capacity of ``dimension``: ``burst`` times one window's worth."""
        limit: float | None = getattr(self, dimension)
        return None if limit is None else limit * self.burst


@dataclass(frozen=True, slots=True)
class Timeouts:
    """HTTP timeouts in seconds: ``connect`` to open a connection, ``total`` per attempt.

    A stream is bounded per read instead (``total`` seconds without a byte), as in the
    SDK, so a long generation is never cut off while it is still arriving.
    """

    connect: float = 10.0
    total: float = 600.0

    def __post_init__(self) -> None:
        check_positive("connect", self.connect, allow_none=False)
        check_positive("total", self.total, allow_none=False)
