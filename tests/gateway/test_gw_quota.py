"""Each client's own quotas, in virtual time: requests/min, tokens/min, dollars/day."""

from __future__ import annotations

import pytest

from claudeflow.gateway import ClientConfig, QuotaExceeded
from claudeflow.gateway._quota import ClientQuota
from claudeflow.testing import FakeClock


def _quota(clock: FakeClock, day: list[int] | None = None, **fields: object) -> ClientQuota:
    today = day if day is not None else [0]
    client = ClientConfig(name="c", key_sha256="0" * 64, **fields)  # type: ignore[arg-type]
    return ClientQuota(client, clock, day=lambda: today[0], until_midnight=lambda: 3600.0)


async def test_requests_per_minute_refill_continuously() -> None:
    clock = FakeClock()
    quota = _quota(clock, rpm=2)
    quota.admit()
    quota.admit()
    with pytest.raises(QuotaExceeded) as caught:
        quota.admit()
    assert caught.value.retry_after == pytest.approx(30.0)  # one request per 30 s
    assert caught.value.headers == {
        "RateLimit-Policy": '"requests";q=2;w=60',
        "RateLimit": '"requests";r=0;t=30',
    }
    await clock.advance(30.0)
    quota.admit()


def test_refund_gives_the_request_back() -> None:
    clock = FakeClock()
    quota = _quota(clock, rpm=1)
    quota.admit()
    quota.refund()
    quota.admit()
    with pytest.raises(QuotaExceeded):
        quota.admit()


async def test_tokens_are_debited_after_the_response_and_debt_blocks() -> None:
    clock = FakeClock()
    quota = _quota(clock, tpm=600)  # 10 tokens per second
    quota.admit()
    quota.settle(1000, None)  # 400 tokens of debt
    with pytest.raises(QuotaExceeded) as caught:
        quota.admit()
    assert caught.value.retry_after == pytest.approx(40.1)  # repay 400, then 1 more
    await clock.advance(40.1)
    quota.admit()


def test_daily_budget_resets_the_next_day() -> None:
    clock, day = FakeClock(), [0]
    quota = _quota(clock, day, budget_usd_per_day=1.0)
    quota.admit()
    quota.settle(10, 0.6)
    quota.admit()
    quota.settle(10, 0.6)
    with pytest.raises(QuotaExceeded, match="budget") as caught:
        quota.admit()
    assert caught.value.retry_after == 3600.0
    assert quota.spent_today_usd == pytest.approx(1.2)
    day[0] += 1
    assert quota.spent_today_usd == 0.0
    quota.admit()


def test_headers_list_both_policies() -> None:
    clock = FakeClock()
    quota = _quota(clock, rpm=60, tpm=6000)
    quota.admit()
    headers = quota.headers()
    assert headers["RateLimit-Policy"] == '"requests";q=60;w=60, "tokens";q=6000;w=60'
    assert headers["RateLimit"] == '"requests";r=59;t=1, "tokens";r=6000;t=0'


def test_no_quota_no_headers() -> None:
    quota = _quota(FakeClock())
    for _ in range(1000):
        quota.admit()
    assert quota.headers() == {}
