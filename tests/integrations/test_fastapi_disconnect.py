"""A client that hangs up cancels its Claude call and releases everything it held.

Real sockets: uvicorn on 127.0.0.1 reports the disconnect exactly as in production.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse
from fastapi_helpers import API_KEY, body, served, until

from claudeflow import Flow, Priority, RateLimits
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
# A long window: buckets barely refill during the test, so a leak would show.
LIMITS = RateLimits(rpm=100, input_tpm=100_000, output_tpm=10_000, window_s=3600)


def make_app(url: str, *, concurrency: int | None = None) -> FastAPI:
    def make_flow() -> Flow:
        return Flow(api_key=API_KEY, base_url=url, limits=LIMITS, concurrency=concurrency)

    tenants = TenantQuota(max_concurrent=10)
    app = FastAPI(lifespan=flow_lifespan(make_flow, tenants=tenants))
    install_error_handlers(app)

    @app.post("/chat")
    async def chat(ask: dict[str, Any], claude: High) -> dict[str, str]:
        result = await claude.create(**body(ask["prompt"], max_tokens=1000))
        return {"text": result.text}

    @app.post("/stream")
    async def stream(ask: dict[str, Any], claude: High) -> StreamingResponse:
        chunks = await claude.stream_text(**body(ask["prompt"], max_tokens=1000))
        return StreamingResponse(chunks, media_type="text/plain")

    return app


def state_of(app: FastAPI) -> FlowState:
    state: FlowState = app.state.claudeflow
    return state


@asynccontextmanager
async def raw_request(url: str, path: str, prompt: str) -> AsyncIterator[asyncio.StreamReader]:
    """Send one POST over a raw socket; leaving the block hangs up without reading."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    payload = json.dumps({"prompt": prompt}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nx-tenant-id: t\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    try:
        yield reader
    finally:
        writer.close()
        await writer.wait_closed()


async def test_disconnect_during_the_call_releases_slot_tokens_and_tenant_quota() -> None:
    async with simulator(ttft_s=30.0) as sim:  # Claude would take 30 s to answer
        app = make_app(sim.url)
        async with served(app) as url:
            state = state_of(app)
            flow = state.flow
            full = flow.stats().buckets["output_tokens"].capacity
            async with raw_request(url, "/chat", "hello"):
                await until(lambda: flow.stats().in_flight == 1)
                assert flow.stats().buckets["output_tokens"].level < full - 900
                assert state.tenants is not None and state.tenants.in_flight("t") == 1
            await until(lambda: flow.stats().in_flight == 0)
            stats = flow.stats()
            assert stats.cancelled == 1 and stats.completed == 0 and stats.queued == 0
            # The output reservation came back; only what the server may have counted
            # (the request and its input) stays spent.
            assert stats.buckets["output_tokens"].level == pytest.approx(full, abs=1)
            assert state.tenants.in_flight("t") == 0


async def test_disconnect_while_queued_leaves_the_line_and_the_rest_runs_on() -> None:
    async with simulator(ttft_s=30.0) as sim:
        app = make_app(sim.url, concurrency=1)
        async with served(app) as url:
            flow = state_of(app).flow
            async with raw_request(url, "/chat", "first"):
                await until(lambda: flow.stats().in_flight == 1)
                async with raw_request(url, "/chat", "second"):
                    await until(lambda: flow.stats().queued == 1)
                await until(lambda: flow.stats().queued == 0)
                assert flow.stats().in_flight == 1 and flow.stats().cancelled == 1
            await until(lambda: flow.stats().in_flight == 0)
            assert flow.stats().cancelled == 2


async def test_disconnect_mid_stream_stops_the_stream_and_releases_everything() -> None:
    # 1000 output tokens at 20 ms each: the stream would run for 20 s.
    async with simulator(per_token_s=0.02, stream_chunk_tokens=1) as sim:
        app = make_app(sim.url)
        async with served(app) as url:
            state = state_of(app)
            flow = state.flow
            prompt = "tell me a long story [[output_tokens=1000]]"
            async with raw_request(url, "/stream", prompt) as reader:
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                assert await reader.read(1)  # the first text has arrived
                assert flow.stats().in_flight == 1
            await until(lambda: flow.stats().in_flight == 0)
            assert flow.stats().completed == 0
            assert state.tenants is not None and state.tenants.in_flight("t") == 0
