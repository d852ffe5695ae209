"""Two FastAPI apps (as two uvicorn workers would be) share one account's limits through
a real redis-server, in front of the real simulator over HTTP.

The upstream allows 10 requests per (long) window. Each app gets 8 requests at once: on
their own, both would admit 8 and the simulator would refuse some; sharing Redis, exactly
10 go upstream between them and none is refused there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi_helpers import API_KEY, body, served

from claudeflow import ConfigError, Flow, QueuePolicy, RateLimits
from claudeflow.integrations.fastapi import flow_lifespan, get_flow, install_error_handlers
from claudeflow.limiter import Backend, MemoryBackend
from claudeflow.testing import redis_server, simulator

pytestmark = pytest.mark.integration

LIMITS = RateLimits(rpm=10, window_s=600)
FlowDep = Annotated[Flow, Depends(get_flow)]


def _app(make_flow: Callable[[Backend], Flow], redis_url: str) -> FastAPI:
    app = FastAPI(lifespan=flow_lifespan(make_flow, redis=redis_url))
    install_error_handlers(app)

    @app.post("/ask")
    async def ask(payload: dict[str, Any], flow: FlowDep) -> dict[str, str]:
        result = await flow.create(**payload)
        return {"text": result.text}

    @app.get("/pools")
    async def pools(flow: FlowDep) -> dict[str, str]:
        return {name: pool.mode for name, pool in flow.stats().pools.items()}

    return app


async def test_two_apps_share_limits_through_redis() -> None:
    with redis_server() as redis:
        sim_config = {"api_keys": frozenset({API_KEY}), "rpm": 10, "minute_seconds": 600}
        async with simulator(**sim_config) as sim:

            def make_flow(backend: Backend) -> Flow:
                return Flow(
                    api_key=API_KEY, base_url=sim.url, limits=LIMITS, backend=backend,
                    # The 11th request could start only 60 s later, so any timeout well
                    # below that keeps the count exact; 5 s leaves the first ten time to
                    # be admitted on a loaded machine (0.5 s failed there once).
                    queue=QueuePolicy(timeout=5.0),
                )  # fmt: skip

            one, two = _app(make_flow, redis.url), _app(make_flow, redis.url)
            async with served(one) as url_one, served(two) as url_two:
                async with httpx.AsyncClient(timeout=30) as http:
                    calls = [
                        http.post(f"{url}/ask", json=body())
                        for url in (url_one, url_two)
                        for _ in range(8)
                    ]
                    replies = await asyncio.gather(*calls)
                    modes = (await http.get(f"{url_one}/pools")).json()
    statuses = [r.status_code for r in replies]
    assert statuses.count(200) == 10, statuses
    assert set(statuses) <= {200, 429, 503}
    assert sim.stats()["rate_limited"] == 0 and sim.stats()["admitted"] == 10
    assert 200 in statuses[:8] and 200 in statuses[8:]  # both apps served some
    assert set(modes.values()) == {"shared"}


def test_a_built_flow_with_its_own_backend_is_refused() -> None:
    flow = Flow(api_key=API_KEY, limits=LIMITS)

    async def enter() -> None:
        async with flow_lifespan(flow, backend=MemoryBackend())(FastAPI()):
            pass

    with pytest.raises(ConfigError, match="backend: this Flow was built with its own backend"):
        asyncio.run(enter())


def test_redis_and_backend_together_or_a_bad_url_are_refused() -> None:
    with pytest.raises(ConfigError, match="redis: must be a redis:// URL string"):
        flow_lifespan(lambda backend: Flow(backend=backend), redis=42)  # type: ignore[arg-type]

    async def enter() -> None:
        lifespan = flow_lifespan(
            lambda backend: Flow(backend=backend), backend=MemoryBackend(), redis="redis://x"
        )
        async with lifespan(FastAPI()):
            pass

    with pytest.raises(ConfigError, match="redis: give either redis= or backend=, not both"):
        asyncio.run(enter())
