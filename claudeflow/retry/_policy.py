"""Should we try again, and when: the one retry decision of claudeflow.

:class:`RetryPolicy` is configuration plus two pure functions of it. It never sleeps and
never reads a clock: the caller passes the attempt count, the time already waited, the
RNG and the wall time, so every decision can be tested exactly.

Classification, in order (first match wins):

1. never 400/401/402/403/404/413, and never a 429 for a spend cap
   (``enforced_spend_limit_reached``, ``contract_spend_limit_reached``): retrying cannot
   succeed, it only burns requests;
2. an ``x-should-retry: true|false`` header decides (the server knows best);
3. otherwise a status in ``retry_statuses`` is retried;
4. connection failures and timeouts are retried (a refused connection or an unknown
   host only ``refused_retries`` times, after ``base_delay``: almost never transient, a
   wrong ``base_url`` must not take minutes to report); so is a mid-stream ``error`` event of
   type ``overloaded_error``, ``api_error`` or ``timeout_error`` (the caller asks only
   before the first content event, so nothing was delivered yet);
5. everything else (``RequestRejected`` such as ``CapacityError``, bugs) is not.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from .._checks import check_count, check_fraction, check_non_negative, check_positive
from .._errors import APIConnectionError, APIStatusError, ConfigError, StreamError, TransportError
from ._headers import parse_retry_after

__all__ = ["DEFAULT_RETRY_STATUSES", "NEVER_RETRY_STATUSES", "RetryPolicy", "is_retryable"]

DEFAULT_RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
NEVER_RETRY_STATUSES = frozenset({400, 401, 402, 403, 404, 413})
_SPEND_CAP_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})
_UNREACHABLE = frozenset({"refused", "dns"})
_RETRYABLE_STREAM_TYPES = frozenset({"overloaded_error", "api_error", "timeout_error"})
# The spread added to a server's retry-after grows with it up to this many seconds, so
# with the default jitter (0.25) it never exceeds 1 s: the header's own resolution.
_SPREAD_CAP_S = 4.0
# 2.0 ** 1024 overflows; any exponent past this is far beyond every sane max_delay.
_MAX_EXPONENT = 1000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to retry a failed attempt and how long to wait first.

    Delay: the server's ``retry-after`` (``retry-after-ms`` first) when present, uncapped,
    plus a spread of ``u * jitter * min(retry_after, 4 s)``; else exponential backoff
    ``min(base_delay * 2 ** (attempt - 1), max_delay) * (1 - jitter + 2 * jitter * u)``.
    ``u`` is one ``rng.random()`` draw per decision, so a seeded RNG replays exactly.
    The spread is never negative: a client that waits less than ``retry-after`` gets
    another 429, while identical retry-afters across many jobs would otherwise all fire at
    the same instant.

    :param max_retries: retries after the first attempt (0 disables retrying)
    :param base_delay: first backoff delay in seconds
    :param max_delay: cap of the backoff delay (never applied to a server's retry-after)
    :param jitter: relative randomisation, in ``[0, 1]``
    :param budget_s: total seconds of retry waiting allowed per request (``None``: no cap)
    :param retry_statuses: HTTP statuses retried when ``x-should-retry`` is absent
    :param probe_delay: pause before the first probe after a 529 trips a pool's gate
        (see :class:`~claudeflow.retry.OverloadGate`); it doubles with each further 529
    :param max_probe_delay: cap of that pause; it bounds how late the line restarts
        after the API recovers
    :param refused_retries: retries of a refused connection or an unknown host name
        (``APIConnectionError.kind`` ``"refused"``/``"dns"``), each after ``base_delay``;
        counted against the job's attempts, so one that already retried gives up on them
    :raises ConfigError: for a bad argument, naming it

    >>> from claudeflow import APITimeoutError
    >>> RetryPolicy(jitter=0.0).next_delay(
    ...     APITimeoutError("slow"), attempt=3, waited_s=0.0, rng=random.Random(0), now_wall=0.0
    ... )
    2.0
    """

    max_retries: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    jitter: float = 0.25
    budget_s: float | None = None
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    refused_retries: int = 1
    probe_delay: float = 0.1
    max_probe_delay: float = 0.5

    def __post_init__(self) -> None:
        check_count("max_retries", self.max_retries, minimum=0)
        check_count("refused_retries", self.refused_retries, minimum=0)
        check_positive("base_delay", self.base_delay, allow_none=False)
        check_positive("max_delay", self.max_delay, allow_none=False)
        if self.max_delay < self.base_delay:
            raise ConfigError("max_delay", f"must be >= base_delay ({self.base_delay})")
        check_positive("probe_delay", self.probe_delay, allow_none=False)
        check_positive("max_probe_delay", self.max_probe_delay, allow_none=False)
        if self.max_probe_delay < self.probe_delay:
            raise ConfigError("max_probe_delay", f"must be >= probe_delay ({self.probe_delay})")
        check_fraction("jitter", self.jitter, allow_zero=True, allow_one=True)
        check_positive("budget_s", self.budget_s)
        # Normalise any iterable of ints (set, list) to the frozen type the field promises.
        object.__setattr__(self, "retry_statuses", _check_statuses(self.retry_statuses))

    @property
    def patience_s(self) -> float:
        """How long a request may keep meeting 529s: the back-off schedule's total
        (``max_retries`` delays), or ``budget_s`` if smaller. A pool's overload gate paces
        those attempts, so their limit is time, not a count that fast probes would spend
        in seconds."""
        total = sum(
            min(self.base_delay * 2.0 ** min(i, _MAX_EXPONENT), self.max_delay)
            for i in range(self.max_retries)
        )
        return total if self.budget_s is None else min(total, self.budget_s)

    def retryable(self, error: BaseException) -> bool:
        """Whether ``error`` may ever be retried under this policy (ignores counts/budget)."""
        return _classify(error, self.retry_statuses)

    def next_delay(
        self,
        error: BaseException,
        *,
        attempt: int,
        waited_s: float,
        rng: random.Random,
        now_wall: float,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up.

        :param error: why attempt number ``attempt`` failed
        :param attempt: attempts already made (1 after the first failure)
        :param waited_s: seconds already spent waiting between earlier attempts
        :param rng: source of jitter (inject a seeded one for reproducible runs)
        :param now_wall: current wall time, for HTTP-date ``retry-after`` values
        """
        check_count("attempt", attempt)
        check_non_negative("waited_s", waited_s)
        if attempt > self.max_retries or not self.retryable(error):
            return None
        if _unreachable(error) and attempt > self.refused_retries:
            return None
        delay = self._delay(error, attempt, rng.random(), now_wall)
        # Given up, not shortened: a wait cut below retry-after would only earn another 429.
        if self.budget_s is not None and waited_s + delay > self.budget_s:
            return None
        return delay

    def _delay(self, error: BaseException, attempt: int, u: float, now_wall: float) -> float:
        server = None
        if isinstance(error, APIStatusError):
            server = parse_retry_after(error.headers, now_wall=now_wall)
        if server is not None:
            return server + u * self.jitter * min(server, _SPREAD_CAP_S)
        # Quick and flat: one more look in case a server was restarting, no long backoff.
        exponent = 0 if _unreachable(error) else min(attempt - 1, _MAX_EXPONENT)
        backoff = min(self.base_delay * 2.0**exponent, self.max_delay)
        return backoff * (1.0 - self.jitter + 2.0 * self.jitter * u)


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` may be retried under the default rules (see the module docstring)."""
    return _classify(error, DEFAULT_RETRY_STATUSES)


def _classify(error: BaseException, retry_statuses: frozenset[int]) -> bool:
    if isinstance(error, APIStatusError):
        return _status_retryable(error, retry_statuses)
    if isinstance(error, StreamError):
        return error.type in _RETRYABLE_STREAM_TYPES
    # TransportError covers APIConnectionError and APITimeoutError: no response at all.
    return isinstance(error, TransportError)


def _unreachable(error: BaseException) -> bool:
    return isinstance(error, APIConnectionError) and error.kind in _UNREACHABLE


def _status_retryable(error: APIStatusError, retry_statuses: frozenset[int]) -> bool:
    if error.status_code in NEVER_RETRY_STATUSES:
        return False
    if error.status_code == 429 and error.error_code in _SPEND_CAP_CODES:
        return False  # the cap holds until the month ends; a retry only burns a request
    should_retry = error.headers.get("x-should-retry", "").strip().lower()
    # Only the two values the API sends count; anything else falls back to the status.
    if should_retry in ("true", "false"):
        return should_retry == "true"
    return error.status_code in retry_statuses


def _check_statuses(statuses: Iterable[int]) -> frozenset[int]:
    try:
        result = frozenset(statuses)
    except TypeError as exc:
        raise ConfigError("retry_statuses", "must be an iterable of HTTP statuses") from exc
    for status in result:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError("retry_statuses", f"{status!r} is not an HTTP status")
        if status in NEVER_RETRY_STATUSES:
            # Refused, not ignored: a configured status that silently never retries would mislead.
            raise ConfigError("retry_statuses", f"{status} is never retryable")
    return result
