"""Limits read from the Rate Limits API (the simulator serves its configuration)."""

from __future__ import annotations

import asyncio

import pytest

from claudeflow import ConfigError, Flow, PermissionDeniedError, RateLimits, fetch_rate_limits
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

ADMIN = "sk-ant-admin-test"


async def test_limits_fetched_with_an_admin_key_drive_every_pool() -> None:
    async with simulator(rpm=120, input_tpm=90_000, output_tpm=30_000, minute_seconds=2) as sim:
        limits = await fetch_rate_limits(ADMIN, base_url=sim.url, window_s=2)
        assert limits["claude-haiku-4-5"] == RateLimits(
            rpm=120, input_tpm=90_000, output_tpm=30_000, window_s=2
        )
        assert "claude-sonnet-4-5" in limits  # every model the account can use
        flow = Flow(api_key="sk-test", base_url=sim.url, limits=limits)
        async with flow:
            body = {"model": "claude-haiku-4-5", "max_tokens": 8}
            await asyncio.gather(
                *(
                    flow.create(**body, messages=[{"role": "user", "content": f"{i}"}])
                    for i in range(5)
                )
            )
            pool = next(iter(flow.stats().pools.values()))
        assert pool.buckets["requests"].capacity == 120 and not pool.buckets["requests"].learned
        assert sim.stats()["rate_limited"] == 0


async def test_a_normal_key_is_refused_and_bad_arguments_named() -> None:
    async with simulator() as sim:
        with pytest.raises(PermissionDeniedError):
            await fetch_rate_limits("sk-ant-api-normal", base_url=sim.url)
    with pytest.raises(ConfigError, match=r"^admin_key:"):
        await fetch_rate_limits("")
