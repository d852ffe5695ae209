"""The live dashboard in a real headless Chromium: what it draws after real traffic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from gw_helpers import HI, KEYS, MODEL, client_table, stack
from playwright.async_api import async_playwright

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
LIMITS = "rpm = 600\ninput_tpm = 600000\noutput_tpm = 60000\n"


async def _traffic(url: str, count: int) -> None:
    body = {"model": MODEL, "max_tokens": 32, "messages": HI}
    async with aiohttp.ClientSession() as session:

        async def one(key: str) -> None:
            async with session.post(
                f"{url}/v1/messages", json=body, headers={"x-api-key": key}
            ) as response:
                assert response.status == 200

        await asyncio.gather(*(one(KEYS["alpha" if i % 2 else "beta"]) for i in range(count)))


async def test_dashboard_draws_live_state(tmp_path: Path) -> None:
    clients = client_table("alpha", budget_usd_per_day=0.01) + client_table("beta")
    gateway = "budget_usd_per_day = 0.05\n"
    async with (
        stack(upstream=LIMITS, clients=clients, gateway=gateway, sample_every_s=0.1) as s,
        async_playwright() as pw,
    ):
        await _traffic(s.url, 20)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"{s.url}/dashboard")
            await page.wait_for_function(
                "document.getElementById('completed').textContent === '20'"
            )
            # Wait until the sampler has drawn at least two points on the charts.
            await page.wait_for_function(
                "document.querySelectorAll('#chart-buckets path.series').length === 3"
                " && document.querySelector('#chart-buckets path').getAttribute('d')"
                ".includes('L')"
            )
            text = {i: await page.text_content(f"#{i}") for i in ("spent", "budget", "queued")}
            legend = await page.text_content("#legend-buckets")
            rows = await page.locator("#clients tr").count()
            throughput_d = await page.get_attribute("#chart-throughput path.series", "d")
            shot = await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
    assert text["spent"] is not None and text["spent"] != "$0.0000"
    assert text["budget"] is not None and "% of $0.05" in text["budget"]
    assert text["queued"] == "0"
    assert legend == "requests (600)input_tokens (600,000)output_tokens (60,000)"
    assert rows == 2
    assert throughput_d is not None and throughput_d.startswith("M")
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000


async def test_dashboard_data_endpoint() -> None:
    async with stack(upstream=LIMITS, sample_every_s=0.05) as s:
        await _traffic(s.url, 4)
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # bounded: the sampler runs every 50 ms
                async with session.get(f"{s.url}/dashboard/data") as response:
                    data = await response.json()
                if len(data["points"]) >= 2:
                    break
                await asyncio.sleep(0.05)
            async with session.get(f"{s.url}/dashboard") as page:
                html = await page.text()
    assert data["completed"] == 4
    assert data["spent_today_usd"] > 0
    point = data["points"][-1]
    assert set(point["buckets"]) == {"requests", "input_tokens", "output_tokens"}
    assert point["buckets"]["requests"][1] == 600
    assert [c["name"] for c in data["clients"]] == ["alpha", "beta"]
    assert "<svg" in html and "src=" not in html and "<link" not in html  # nothing fetched
