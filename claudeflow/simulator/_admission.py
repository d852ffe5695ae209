"""Admission of every endpoint against its buckets, and the 429s it answers with.

Three independent pools, as the API has them (api doc §1.1, §6, §1.5): Messages (RPM,
ITPM, OTPM per API key and model class), Token Counting (its own RPM) and the batch
endpoints (their own RPM). A refused request consumes nothing.
"""

from __future__ import annotations

import math

from .._clock import Clock
from ..limiter._classes import ModelClasses
from ._cache import CachePlan
from ._config import SimulatorConfig
from ._limits import Cost, Denial, LimitSet, RateLimiter
from ._stats import Stats
from ._wire import SimError

__all__ = ["Admission"]

_HELP = (
    "For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the "
    "response headers for current usage. Please reduce the prompt length or the maximum "
    "tokens requested, or try again later."
)


class Admission:
    """Rate-limit decisions; raises :class:`SimError` (429) for refused requests."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        clock: Clock,
        wall_offset: float,
        org_id: str,
        stats: Stats,
        classes: ModelClasses,
    ) -> None:
        scale = config.minute_seconds
        self.messages = RateLimiter(
            rpm=config.rpm,
            input_tpm=config.input_tpm,
            output_tpm=config.output_tpm,
            minute_seconds=scale,
            burst=config.burst,
        )
        # Token counting and batches have their own pools, apart from Messages (api doc §1.1).
        self.count_tokens = RateLimiter(rpm=config.count_tokens_rpm, minute_seconds=scale)
        self.batches = RateLimiter(rpm=config.batch.rpm, minute_seconds=scale)
        self._config = config
        self._clock = clock
        self._wall_offset = wall_offset
        self._org_id = org_id
        self._stats = stats
        self._classes = classes
        self._reserve = config.otpm_mode == "reserve_max_tokens"

    def admit_message(
        self, key: str, model: str, plan: CachePlan, max_tokens: int, now: float
    ) -> LimitSet | None:
        """Debit RPM, ITPM and OTPM all at once, or raise the 429 (consuming nothing)."""
        if not self.messages.enabled:
            return None
        limits = self.messages.scope(key, self._classes(model), now)
        # Cache-aware ITPM: cache reads are free unless the model counts them (api doc §1.3).
        itpm = plan.input_tokens + plan.cache_creation
        if self._config.count_cache_reads:
            itpm += plan.cache_read
        # "actual" mode: admission needs a positive OTPM balance and tokens are debited
        # as they are produced. "reserve" mode: max_tokens is debited up front.
        output_need = max_tokens if self._reserve else min(1, max_tokens)
        denial = self.messages.check(limits, Cost(1, itpm, output_need), now)
        if denial is not None:
            raise self._rate_limited(denial, limits, f"(org: {self._org_id}, model: {model})")
        # Checked first, debited after: a refused request consumes nothing (api doc §1.2, CAP-2).
        limits.take(Cost(1, itpm, max_tokens if self._reserve else 0), now)
        return limits

    def admit_requests(self, limiter: RateLimiter, key: str, scope: str, label: str) -> None:
        """Admission for endpoints limited by requests only (count_tokens, batches).

        :param scope: bucket name; ``label`` names the API in the 429 message
        """
        if not limiter.enabled:
            return
        now = self._clock.now()
        limits = limiter.scope(key, scope, now)
        denial = limiter.check(limits, Cost(1), now)
        if denial is not None:
            raise self._rate_limited(denial, None, f"for {label} (org: {self._org_id})")
        limits.take(Cost(1), now)

    def headers(self, limits: LimitSet) -> dict[str, str]:
        """The ``anthropic-ratelimit-*`` headers of a Messages scope, now."""
        now = self._clock.now()
        return self.messages.headers(limits, now, self._wall_offset, self._config.round_remaining)

    def scope_headers(self, key: str, model: str) -> dict[str, str]:
        """Rate-limit headers of ``(key, model)`` without admitting anything."""
        if not self.messages.enabled:
            return {}
        return self.headers(self.messages.scope(key, self._classes(model), self._clock.now()))

    def retry_after(self, seconds: float) -> dict[str, str]:
        """``retry-after`` in whole seconds, rounded up (and ``retry-after-ms`` if enabled)."""
        # Whole seconds, rounded up (api doc §2.2): a retry at the second below would fail.
        headers = {"retry-after": str(max(1, math.ceil(seconds - 1e-9))), "x-should-retry": "true"}
        if self._config.retry_after_ms:
            headers["retry-after-ms"] = str(max(1, math.ceil(seconds * 1000 - 1e-6)))
        return headers

    def _rate_limited(self, denial: Denial, limits: LimitSet | None, subject: str) -> SimError:
        self._stats.rate_limited += 1
        self._stats.rate_limited_by[denial.dimension] += 1
        # The 429 carries the full rate-limit header set, as the API's does (§2.3, CAP-2).
        headers = self.headers(limits) if limits is not None else {}
        message = (
            f"This request would exceed your organization's rate limit of "
            f"{denial.describe()} {subject}."
        )
        if denial.never_fits:
            # Not even a full bucket holds it: retrying is pointless, so say so.
            headers["x-should-retry"] = "false"
            message += " This request can never fit within that limit. " + _HELP
        else:
            headers.update(self.retry_after(denial.wait))
            message += " " + _HELP
        return SimError(429, "rate_limit_error", message, headers=headers)
