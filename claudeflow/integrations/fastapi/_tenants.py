"""Per-tenant quotas checked before a request reaches the Flow.

The Flow enforces the account's limits for everyone together. On top of that, a
multi-tenant service wants no single tenant (a customer, an API key of its own, a
team) to fill the shared queue: each tenant gets a cap on Claude calls in flight or
queued, and optionally a requests-per-window token bucket. Both are checked without
waiting, so an over-quota tenant gets an immediate 429 and never occupies a place in
line that another tenant could use.

Pure state on an injected clock: no framework import, no loop binding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from ..._checks import check_count, check_positive
from ..._clock import Clock, LoopClock
from ..._errors import ConfigError, RequestRejected
from ...limiter import TokenBucket

__all__ = ["TenantLimiter", "TenantQuota", "TenantQuotaExceeded", "TenantSlot"]

# The IETF RateLimit draft names each policy; one policy per service is enough here.
_POLICY_NAME: Final = "tenant"


@dataclass(frozen=True, slots=True)
class TenantQuota:
    """What one tenant may use of the shared Flow.

    :param header: request header holding the tenant key (case-insensitive)
    :param max_concurrent: Claude calls one tenant may have queued or in flight
        (``None``: no cap)
    :param rpm: Claude calls one tenant may start per window (``None``: no bucket)
    :param window_s: length of the ``rpm`` window in seconds (60 for a real minute)
    :param burst: bucket capacity as a fraction of one window's worth, in ``(0, 1]``
    :param default_tenant: key used when the header is missing; ``None`` rejects such
        requests with 400
    :param max_tenants: tenants tracked at once; idle ones are forgotten first
    :param busy_retry_after_s: ``Retry-After`` hint when a tenant is at its concurrency
        cap (when a slot frees is unknowable in advance)
    """

    header: str = "x-tenant-id"
    max_concurrent: int | None = 4
    rpm: float | None = None
    window_s: float = 60.0
    burst: float = 1.0
    default_tenant: str | None = "anonymous"
    max_tenants: int = 10_000
    busy_retry_after_s: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.header, str) or not self.header:
            raise ConfigError("header", "must be a non-empty header name")
        check_count("max_concurrent", self.max_concurrent, allow_none=True)
        check_count("max_tenants", self.max_tenants)
        check_positive("rpm", self.rpm)
        check_positive("window_s", self.window_s, allow_none=False)
        check_positive("burst", self.burst, allow_none=False)
        check_positive("busy_retry_after_s", self.busy_retry_after_s, allow_none=False)
        if self.burst > 1.0:
            raise ConfigError("burst", f"must be in (0, 1], got {self.burst!r}")
        if self.default_tenant is not None and not self.default_tenant:
            raise ConfigError("default_tenant", "must be a non-empty string or None")


class TenantQuotaExceeded(RequestRejected):
    """A tenant is over its own quota; the request was not queued.

    :ivar tenant: the tenant key
    :ivar retry_after: seconds after which a retry can succeed
    :ivar headers: IETF ``RateLimit-Policy``/``RateLimit`` headers describing the quota
    """

    def __init__(
        self, message: str, *, tenant: str, retry_after: float, headers: dict[str, str]
    ) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.retry_after = retry_after
        self.headers = headers


class TenantSlot:
    """One admitted Claude call of a tenant; :meth:`release` it once (later calls do nothing)."""

    __slots__ = ("_clock", "_state", "released", "tenant")

    def __init__(self, tenant: str, state: _TenantState, clock: Clock) -> None:
        self.tenant = tenant
        self._state = state
        self._clock = clock
        self.released = False

    def release(self, *, refund: bool = False) -> None:
        """Free the concurrency slot; ``refund`` also returns the request to the bucket.

        Refund when the call never reached the API (e.g. the Flow's queue was full): a
        rejected request must not burn the tenant's quota.
        """
        if self.released:
            return
        self.released = True
        self._state.in_flight -= 1
        if refund and self._state.bucket is not None:
            self._state.bucket.give(1, self._clock.now())


class _TenantState:
    __slots__ = ("bucket", "in_flight")

    def __init__(self, bucket: TokenBucket | None) -> None:
        self.bucket = bucket
        self.in_flight = 0


class TenantLimiter:
    """The runtime state of a :class:`TenantQuota`: one small record per active tenant."""

    def __init__(self, quota: TenantQuota, clock: Clock | None = None) -> None:
        self.quota = quota
        self._clock = clock or LoopClock()
        self._tenants: dict[str, _TenantState] = {}

    def __len__(self) -> int:
        return len(self._tenants)

    def in_flight(self, tenant: str) -> int:
        state = self._tenants.get(tenant)
        return 0 if state is None else state.in_flight

    def acquire(self, tenant: str) -> TenantSlot:
        """Admit one call for ``tenant`` now, or raise :class:`TenantQuotaExceeded`."""
        state = self._state(tenant)
        cap = self.quota.max_concurrent
        if cap is not None and state.in_flight >= cap:
            raise TenantQuotaExceeded(
                f"tenant {tenant!r} already has {state.in_flight} requests in progress "
                f"(limit {cap}); retry after one finishes",
                tenant=tenant,
                retry_after=self.quota.busy_retry_after_s,
                headers={},
            )
        if state.bucket is not None:
            now = self._clock.now()
            if not state.bucket.can_take(1, now):
                wait = state.bucket.time_until(1, now)
                raise TenantQuotaExceeded(
                    f"tenant {tenant!r} used its {self.quota.rpm:g} requests per "
                    f"{self.quota.window_s:g}s; retry in {wait:.3g}s",
                    tenant=tenant,
                    retry_after=wait,
                    headers=self._rate_headers(state.bucket, now),
                )
            state.bucket.take(1, now)
        state.in_flight += 1
        return TenantSlot(tenant, state, self._clock)

    def headers(self, tenant: str) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` for ``tenant`` (empty without a bucket)."""
        state = self._tenants.get(tenant)
        if state is None or state.bucket is None:
            return {}
        return self._rate_headers(state.bucket, self._clock.now())

    def _rate_headers(self, bucket: TokenBucket, now: float) -> dict[str, str]:
        # draft-ietf-httpapi-ratelimit-headers-10: q = quota units per window w (seconds);
        # r = units remaining; t = seconds until the quota is back.
        remaining, reset = bucket.ratelimit_state(now)
        quota = self.quota
        return {
            "RateLimit-Policy": f'"{_POLICY_NAME}";q={quota.rpm:g};w={quota.window_s:g}',
            "RateLimit": f'"{_POLICY_NAME}";r={remaining};t={math.ceil(reset)}',
        }

    def _state(self, tenant: str) -> _TenantState:
        state = self._tenants.get(tenant)
        if state is not None:
            return state
        if len(self._tenants) >= self.quota.max_tenants:
            self._forget_idle()
            if len(self._tenants) >= self.quota.max_tenants:
                raise TenantQuotaExceeded(
                    f"too many active tenants ({len(self._tenants)}); retry shortly",
                    tenant=tenant,
                    retry_after=self.quota.busy_retry_after_s,
                    headers={},
                )
        state = _TenantState(self._new_bucket())
        self._tenants[tenant] = state
        return state

    def _new_bucket(self) -> TokenBucket | None:
        quota = self.quota
        if quota.rpm is None:
            return None
        return TokenBucket(
            quota.rpm / quota.window_s, quota.rpm * quota.burst, now=self._clock.now()
        )

    def _forget_idle(self) -> None:
        """Drop tenants indistinguishable from new ones: nothing in flight, bucket full."""
        now = self._clock.now()
        idle = [
            key
            for key, state in self._tenants.items()
            if state.in_flight == 0
            and (state.bucket is None or state.bucket.time_until_full(now) == 0)
        ]
        for key in idle:
            del self._tenants[key]
