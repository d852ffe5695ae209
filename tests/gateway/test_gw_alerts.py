"""Alerts: budget thresholds once per day, a rising upstream 429/529 count, webhooks
that are bounded in time and whose failures are logged, never raised."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from gw_helpers import HI, KEYS, MODEL, stack

from claudeflow.gateway import AlertConfig
from claudeflow.gateway._alerts import Alerts


@asynccontextmanager
async def webhook(*, hang: bool = False) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    never = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        if hang:
            await never.wait()
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received
    finally:
        await runner.cleanup()


def test_budget_thresholds_fire_once_each(caplog: pytest.LogCaptureFixture) -> None:
    alerts = Alerts(AlertConfig())
    for spent in (0.5, 0.79, 0.8, 0.9, 1.0, 1.5):
        alerts.check_budget("client a", spent, 1.0)
    assert [a["threshold"] for a in alerts.sent] == [0.8, 1.0]
    assert alerts.sent[0]["message"] == "client a has spent 80% of its $1 daily budget"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "ALERT" in warnings[0].getMessage()
    alerts.check_budget("client b", 5.0, None)  # no budget, nothing to say
    assert len(alerts.sent) == 2


def test_upstream_errors_alert_when_the_last_minute_crosses_the_limit() -> None:
    alerts = Alerts(AlertConfig(upstream_errors_per_min=5))
    for now, total in ((0, 0), (10, 2), (20, 4)):
        alerts.check_upstream(now, total)
    assert alerts.sent == []
    alerts.check_upstream(30, 6)  # 6 in the last minute
    alerts.check_upstream(40, 9)  # still high: no second alert
    assert [a["count"] for a in alerts.sent] == [6]
    alerts.check_upstream(100, 9)  # a quiet minute re-arms it
    alerts.check_upstream(110, 15)
    assert [a["count"] for a in alerts.sent] == [6, 6]


async def test_webhook_receives_the_alert() -> None:
    async with webhook() as (url, received):
        alerts = Alerts(AlertConfig(webhook_url=url))
        alerts.check_budget("gateway", 9.0, 10.0)
        await alerts.aclose()
    assert received == [alerts.sent[0]]
    assert received[0]["alert"] == "budget" and received[0]["spent_usd"] == 9.0


async def test_webhook_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async with webhook(hang=True) as (url, _):
        alerts = Alerts(AlertConfig(webhook_url=url, webhook_timeout_s=0.2))
        alerts.emit("test", "slow hook")
        await alerts.aclose()
    alerts = Alerts(AlertConfig(webhook_url=url))  # that server is gone now
    alerts.emit("test", "dead hook")
    await alerts.aclose()
    failures = [r.getMessage() for r in caplog.records if "webhook failed" in r.getMessage()]
    assert failures == [
        "alert webhook failed: TimeoutError",
        "alert webhook failed: ClientConnectorError",
    ]


@pytest.mark.integration
async def test_spending_through_the_gateway_alerts_the_webhook() -> None:
    async with webhook() as (url, received):
        alerts = f'webhook_url = "{url}"\n'
        gateway = "budget_usd_per_day = 0.00001\n"
        async with stack(gateway=gateway, alerts=alerts) as s:
            async with aiohttp.ClientSession() as session:
                body = {"model": MODEL, "max_tokens": 32, "messages": HI}
                headers = {"x-api-key": KEYS["alpha"]}
                for expected in (200, 429):  # the second finds the day's budget spent
                    async with session.post(
                        f"{s.url}/v1/messages", json=body, headers=headers
                    ) as response:
                        assert response.status == expected
            await s.gw.gateway.alerts.aclose()
    assert [(a["scope"], a["threshold"]) for a in received] == [("gateway", 0.8), ("gateway", 1.0)]
