"""The retry decision: after a failed attempt, when (if ever) the job goes again.

One function weighs, in order: a key the server refused (another key may serve the
request at once), the :class:`RetryPolicy` (which honours ``retry-after`` and
``x-should-retry``), the pool's overload gate on a 529, the pool's pause on a 429, and
the fallback chain for an error another model may not have.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from .._clock import Clock, wall_time
from .._errors import (
    APIStatusError,
    AuthenticationError,
    BillingError,
    ClaudeflowError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from ..retry import RetryPolicy
from ..retry._headers import parse_retry_after
from ..retry._overload import is_overload
from ..routing import KeyRing, Pool
from ._job import Job
from ._server import end_probe

__all__ = ["RetryDecision"]

log = logging.getLogger("claudeflow")

# Refusals that belong to the key, not to the request: 401, 402 (no credit), and a 403
# (which may hold for one model class only, so it refuses the key that class's pool).
_KEY_REFUSED = (AuthenticationError, BillingError, PermissionDeniedError)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Decides, for one Flow run, what follows each failed attempt."""

    retry: RetryPolicy
    rng: random.Random
    clock: Clock
    ring: KeyRing
    reroute: Callable[[Job, BaseException], bool]  # the next model of a fallback chain

    def delay(self, job: Job, pool: Pool, error: ClaudeflowError) -> float | None:
        """The delay before ``job``'s next attempt after ``error``; ``None``: it ends."""
        end_probe(pool)  # a failure answers the probe too: the line may go on
        if isinstance(error, _KEY_REFUSED) and self._refuse_key(job, pool, error):
            return 0.0
        overload = is_overload(error)
        # 529s are counted in time (patience_s), not attempts: the gate's probes are fast,
        # and the attempts they took must not use up the retries of a later 500.
        if overload:
            job.overloaded_attempts += 1
        attempt = 1 if overload else job.attempts - job.overloaded_attempts
        delay = self.retry.next_delay(
            error, attempt=attempt, waited_s=job.retry_wait_s, rng=self.rng, now_wall=wall_time()
        )
        if delay is not None and overload and self._out_of_patience(job):
            delay = None
        if delay is not None and overload:
            # One shared condition: the pool pauses and probes; this job keeps its place.
            pause = pool.overload.trip(
                self.clock.now(), self.rng, _retry_after(error),
                first=self.retry.probe_delay, cap=self.retry.max_probe_delay,
            )  # fmt: skip
            log.info("529 on %s: probing again in %.2f s", pool.name, pause)
            delay = 0.0
        if delay is not None and isinstance(error, RateLimitError):
            # Hold everyone back until the server's retry-after: no stampede.
            pool.buckets.pause(delay, reason=f"429 ({error.message[:80]})")
            log.warning(
                "429 from the server on %s: admission paused for %.2f s (%s)",
                pool.name, delay, error,
            )  # fmt: skip
        if delay is None and _falls_back(error) and self.reroute(job, error):
            delay = 0.0  # the next model of its fallback chain, at once
        if delay is not None:
            log.info("attempt %d failed (%s); retrying in %.2f s", job.attempts, error, delay)
        return delay

    def _out_of_patience(self, job: Job) -> bool:
        now = self.clock.now()
        if job.overloaded_since is None:
            job.overloaded_since = now
        return now - job.overloaded_since > self.retry.patience_s

    def _refuse_key(self, job: Job, pool: Pool, error: APIStatusError) -> bool:
        """Take the key out of service; true if another pool can still serve ``job``."""
        if isinstance(error, PermissionDeniedError):
            self.ring.refuse(pool, error)  # a 403 may hold for this model class only
        else:
            reason = f"HTTP {error.status_code} {error.type or ''}".strip()
            self.ring.retire(pool.key, reason, error)
        return bool(self.ring.pools(job.model_class))


def _falls_back(error: ClaudeflowError) -> bool:
    """An error another model may not have: overload past the retries, or no such model."""
    return is_overload(error) or isinstance(error, NotFoundError)


def _retry_after(error: ClaudeflowError) -> float | None:
    if isinstance(error, APIStatusError):
        return parse_retry_after(error.headers, now_wall=wall_time())
    return None
