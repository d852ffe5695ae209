"""Back-pressure as HTTP: full queue, missed deadline and tenant quotas, against the simulator."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi_helpers import API_KEY, asgi_client, body, until

from claudeflow import Flow, Priority, QueuePolicy
from claudeflow.integrations.fastapi import (
    FlowState,
    RequestFlow,
    TenantQuota,
    flow_lifespan,
    install_error_handlers,
    use_flow,
)
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

High = Annotated[RequestFlow, Depends(use_flow(priority=Priority.HIGH))]
Low = Annotated[RequestFlow, Depends(use_flow(priority=Priority.LOW))]


def make_app(
    url: str,
    *,
    concurrency: int | None = None,
    max_queue: int | None = None,
    queue_timeout: float | None = None,
    tenants: TenantQuota | None = None,
) -> FastAPI:
    def make_flow() -> Flow:
        return Flow(
            api_key=API_KEY,
            base_url=url,
            concurrency=concurrency,
            queue=QueuePolicy(max_size=max_queue, timeout=queue_timeout),
            learn_limits=False,
        )

    app = FastAPI(lifespan=flow_lifespan(make_flow, tenants=tenants))
    install_error_handlers(app)

    @app.post("/high")
    async def high(claude: High) -> dict[str, Any]:
        result = await claude.create(**body())
        return {"priority": result.priority, "tenant": claude.tenant}

    @app.post("/low")
    async def low(claude: Low) -> dict[str, Any]:
        result = await claude.create(**body())
        return {"priority": result.priority}

    @app.post("/invalid")
    async def invalid(claude: High) -> dict[str, Any]:
        await claude.create(model="", max_tokens=1, messages=[])
        return {}

    return app


def flow_of(app: FastAPI) -> Flow:
    state: FlowState = app.state.claudeflow
    return state.flow


async def test_route_priority_reaches_the_flow() -> None:
    async with simulator() as sim:
        app = make_app(sim.url)
        async with asgi_client(app) as client:
            high = await client.post("/high")
            low = await client.post("/low")
    assert high.json()["priority"] == Priority.HIGH
    assert low.json()["priority"] == Priority.LOW


async def test_full_queue_answers_503_with_retry_after() -> None:
    async with simulator(ttft_s=0.3) as sim:
        app = make_app(sim.url, concurrency=1, max_queue=1)
        async with asgi_client(app) as client:
            flow = flow_of(app)
            running = asyncio.create_task(client.post("/high"))
            await until(lambda: flow.stats().in_flight == 1)
            queued = asyncio.create_task(client.post("/high"))
            await until(lambda: flow.stats().queued == 1)
            refused = await client.post("/high")
            assert [(await running).status_code, (await queued).status_code] == [200, 200]
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    error = refused.json()["error"]
    assert error["type"] == "overloaded_error" and "at capacity" in error["message"]
    assert "wait_for_space" not in error["message"]


async def test_missed_queue_deadline_answers_503_with_retry_after() -> None:
    async with simulator(ttft_s=0.3) as sim:
        app = make_app(sim.url, concurrency=1, queue_timeout=0.05)
        async with asgi_client(app) as client:
            flow = flow_of(app)
            running = asyncio.create_task(client.post("/high"))
            await until(lambda: flow.stats().in_flight == 1)
            late = await client.post("/high")
            assert (await running).status_code == 200
    assert late.status_code == 503 and late.headers["retry-after"] == "1"
    assert "queue timeout" in late.json()["error"]["message"]


async def test_tenant_at_its_concurrency_cap_gets_429_and_others_still_pass() -> None:
    async with simulator(ttft_s=0.3) as sim:
        app = make_app(sim.url, tenants=TenantQuota(max_concurrent=1))
        async with asgi_client(app) as client:
            flow = flow_of(app)
            busy = asyncio.create_task(client.post("/high", headers={"x-tenant-id": "a"}))
            await until(lambda: flow.stats().in_flight == 1)
            same = await client.post("/high", headers={"x-tenant-id": "a"})
            other = await client.post("/high", headers={"x-tenant-id": "b"})
            assert (await busy).status_code == 200
    assert same.status_code == 429 and same.headers["retry-after"] == "1"
    assert same.json()["error"]["type"] == "rate_limit_error"
    assert other.status_code == 200 and other.json()["tenant"] == "b"
    assert flow.stats().submitted == 2  # the refused call never reached the Flow


async def test_tenant_request_quota_sends_ietf_ratelimit_headers() -> None:
    quota = TenantQuota(max_concurrent=None, rpm=2, window_s=60)
    async with simulator() as sim:
        app = make_app(sim.url, tenants=quota)
        async with asgi_client(app) as client:
            a = [await client.post("/high", headers={"x-tenant-id": "a"}) for _ in range(3)]
            b = await client.post("/high", headers={"x-tenant-id": "b"})
    assert [r.status_code for r in a] == [200, 200, 429]
    assert a[0].headers["ratelimit-policy"] == '"tenant";q=2;w=60'
    assert a[0].headers["ratelimit"].startswith('"tenant";r=1;')
    refused = a[2]
    assert refused.headers["ratelimit"] == '"tenant";r=0;t=30'
    assert refused.headers["retry-after"] == "30"
    assert b.status_code == 200


async def test_a_request_refused_before_sending_does_not_burn_tenant_quota() -> None:
    quota = TenantQuota(max_concurrent=None, rpm=1, window_s=60)
    async with simulator() as sim:
        app = make_app(sim.url, tenants=quota)
        async with asgi_client(app) as client:
            invalid = await client.post("/invalid", headers={"x-tenant-id": "a"})
            valid = await client.post("/high", headers={"x-tenant-id": "a"})
    assert invalid.status_code == 400
    assert invalid.json()["error"]["type"] == "invalid_request_error"
    assert valid.status_code == 200


async def test_missing_tenant_header_is_a_400_when_there_is_no_default() -> None:
    async with simulator() as sim:
        app = make_app(sim.url, tenants=TenantQuota(default_tenant=None))
        async with asgi_client(app) as client:
            response = await client.post("/high")
    assert response.status_code == 400
    assert "x-tenant-id" in response.json()["error"]["message"]


async def test_upstream_refusal_is_a_sanitized_502_with_the_detail_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with simulator(api_keys=frozenset({"sk-ant-the-right-key"})) as sim:
        app = make_app(sim.url)
        async with asgi_client(app) as client:
            with caplog.at_level(logging.WARNING, "claudeflow.integrations.fastapi"):
                response = await client.post("/high")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["upstream_status"] == "4xx" and error["request_id"].startswith("cf_")
    # Nothing the upstream said reaches the client: not its text, not its request id.
    assert "x-api-key" not in response.text and "authentication" not in response.text
    assert "req_" not in response.text and API_KEY not in response.text
    logged = [r.getMessage() for r in caplog.records if error["request_id"] in r.getMessage()]
    assert len(logged) == 1 and "invalid x-api-key" in logged[0] and API_KEY not in logged[0]


async def test_the_flow_lives_exactly_as_long_as_the_app() -> None:
    async with simulator() as sim:
        app = make_app(sim.url)
        async with asgi_client(app):
            flow = flow_of(app)
            assert repr(flow).endswith("state='running')")
        assert repr(flow).endswith("state='closed')")
        assert not hasattr(app.state, "claudeflow")


async def test_a_handler_without_an_attached_flow_fails_loudly() -> None:
    app = FastAPI()

    @app.post("/high")
    async def high(claude: High) -> dict[str, Any]:  # pragma: no cover - never reached
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        with pytest.raises(RuntimeError, match="flow_lifespan"):
            await client.post("/high")
