"""Drive mixed traffic through a gateway in front of the simulator, then screenshot the
dashboard in headless Chromium (the picture in README.md).

    PYTHONPATH=. python benchmarks/gateway_dashboard.py --out docs/gateway-dashboard.png

Three clients at three priorities push more than the (time-scaled) limits allow, so the
buckets drain and refill, the low-priority line grows, and a few injected upstream 429s
show up; one client has a small daily budget so its bar fills.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

import aiohttp
from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "gateway"))

from gw_helpers import KEYS, MODEL, client_table, stack

from claudeflow.simulator import FaultConfig

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
MINUTE_S = 10.0  # one simulated minute: buckets refill in 10 s, so the charts move


async def _client(url: str, key: str, rate: float, until: float, seed: int) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            tokens = rng.randint(20, 120)
            body = {
                "model": MODEL,
                "max_tokens": 200,
                "messages": [{"role": "user", "content": f"Go [[output_tokens={tokens}]]"}],
            }
            async with session.post(
                f"{url}/v1/messages", json=body, headers={"x-api-key": key}
            ) as response:
                await response.read()

        while loop.time() < until:
            tasks.append(asyncio.create_task(one()))
            await asyncio.sleep(rng.expovariate(rate))
        await asyncio.gather(*tasks, return_exceptions=True)


async def main(seconds: float, out: Path) -> None:
    clients = (
        client_table("alpha", priority="high", budget_usd_per_day=0.02)
        + client_table("beta", priority="normal")
        + client_table("batch", priority="low")
    )
    upstream = f"rpm = 300\ninput_tpm = 60000\noutput_tpm = 12000\nwindow_s = {MINUTE_S}\n"
    sim = {
        "rpm": 300, "input_tpm": 60000, "output_tpm": 12000, "minute_seconds": MINUTE_S,
        "ttft_s": 0.2, "per_token_s": 0.004, "faults": FaultConfig(ramp_429=0.01),
    }  # fmt: skip
    gateway = "budget_usd_per_day = 0.25\n"
    async with stack(sim=sim, upstream=upstream, clients=clients, gateway=gateway) as s:
        until = asyncio.get_running_loop().time() + seconds
        await asyncio.gather(
            _client(s.url, KEYS["alpha"], 2.0, until, 1),
            _client(s.url, KEYS["beta"], 5.0, until, 2),
            _client(s.url, KEYS["batch"], 12.0, until * 1.0, 3),
            _shoot(s.url, out, seconds),
        )


async def _shoot(url: str, out: Path, seconds: float) -> None:
    await asyncio.sleep(seconds * 0.9)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 860})
        await page.goto(f"{url}/dashboard")
        await page.wait_for_function("document.querySelectorAll('path.series').length > 3")
        await page.screenshot(path=str(out), full_page=True)
        await browser.close()
    print(f"saved {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--out", type=Path, default=Path("docs/gateway-dashboard.png"))
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.out))
