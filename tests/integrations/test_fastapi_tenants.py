"""TenantLimiter in virtual time: caps, buckets, refunds, headers and forgetting."""

from __future__ import annotations

import pytest

from claudeflow import ConfigError
from claudeflow.integrations.fastapi import TenantLimiter, TenantQuota, TenantQuotaExceeded
from claudeflow.testing import FakeClock


def test_concurrency_cap_is_per_tenant_and_a_release_frees_the_slot() -> None:
    limiter = TenantLimiter(TenantQuota(max_concurrent=2), FakeClock())
    a1, _ = limiter.acquire("a"), limiter.acquire("a")
    with pytest.raises(TenantQuotaExceeded) as refused:
        limiter.acquire("a")
    assert refused.value.tenant == "a" and refused.value.retry_after == 1.0
    limiter.acquire("b")  # another tenant is not affected
    a1.release()
    a1.release()  # idempotent
    assert limiter.in_flight("a") == 1
    limiter.acquire("a")


async def test_request_bucket_refills_and_reports_when_to_retry() -> None:
    clock = FakeClock()
    limiter = TenantLimiter(TenantQuota(max_concurrent=None, rpm=6, window_s=60), clock)
    for _ in range(6):
        limiter.acquire("a").release()
    with pytest.raises(TenantQuotaExceeded) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after == pytest.approx(10.0)
    assert refused.value.headers == {
        "RateLimit-Policy": '"tenant";q=6;w=60',
        "RateLimit": '"tenant";r=0;t=10',
    }
    await clock.advance(10.0)
    limiter.acquire("a")


def test_refund_returns_the_request_to_the_bucket() -> None:
    limiter = TenantLimiter(TenantQuota(max_concurrent=None, rpm=1), FakeClock())
    limiter.acquire("a").release(refund=True)
    limiter.acquire("a").release()
    with pytest.raises(TenantQuotaExceeded):
        limiter.acquire("a")


def test_headers_show_what_is_left() -> None:
    limiter = TenantLimiter(TenantQuota(rpm=10, window_s=60), FakeClock())
    assert limiter.headers("a") == {}
    limiter.acquire("a")
    assert limiter.headers("a")["RateLimit"] == '"tenant";r=9;t=6'
    assert TenantLimiter(TenantQuota(rpm=None), FakeClock()).headers("a") == {}


async def test_idle_tenants_are_forgotten_and_busy_ones_are_kept() -> None:
    clock = FakeClock()
    limiter = TenantLimiter(TenantQuota(max_tenants=2, rpm=60, window_s=60), clock)
    busy = limiter.acquire("busy")
    limiter.acquire("done").release()
    with pytest.raises(TenantQuotaExceeded, match="too many active tenants"):
        limiter.acquire("new")  # "done" has not refilled its bucket yet
    await clock.advance(1.0)
    limiter.acquire("new")
    assert len(limiter) == 2 and limiter.in_flight("busy") == 1
    busy.release()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"header": ""}, "header", id="header"),
        pytest.param({"max_concurrent": 0}, "max_concurrent", id="max_concurrent"),
        pytest.param({"rpm": -1}, "rpm", id="rpm"),
        pytest.param({"burst": 2.0}, "burst", id="burst"),
        pytest.param({"window_s": 0}, "window_s", id="window_s"),
        pytest.param({"max_tenants": True}, "max_tenants", id="max_tenants"),
        pytest.param({"default_tenant": ""}, "default_tenant", id="default_tenant"),
    ],
)
def test_bad_quota_names_the_argument(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(ConfigError) as error:
        TenantQuota(**kwargs)  # type: ignore[arg-type]
    assert error.value.argument == argument
