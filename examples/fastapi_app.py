"""A FastAPI service that calls Claude through one shared claudeflow Flow.

Routes:
  POST /chat         interactive (HIGH priority): {"prompt": "..."} -> {"text": ...}
  POST /chat/stream  interactive, streamed as plain text
  POST /summarize    background work (LOW priority)
  GET  /stats        the Flow's counters

Back-pressure is explicit: a full queue or a missed queue deadline answers 503 with
Retry-After, a tenant over its quota (header ``x-tenant-id``) answers 429 with
Retry-After and RateLimit headers; nothing hangs.

Run it against the built-in simulator (no API key needed)::

    python examples/fastapi_app.py --simulate            # serve on 127.0.0.1:8000
    python examples/fastapi_app.py --simulate --demo 200 # fire 200 requests, print a summary

or against the real API (``ANTHROPIC_API_KEY`` set; ``ANTHROPIC_BASE_URL`` honoured)::

    python examples/fastapi_app.py --rpm 50 --input-tpm 30000 --output-tpm 8000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from typing import Annotated, Any

import aiohttp
import uvicorn
from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from claudeflow import Flow, FlowStats, Priority, QueuePolicy, RateLimits
from claudeflow.integrations.fastapi import (
    RequestFlow,
    TenantQuota,
    flow_lifespan,
    get_flow,
    install_error_handlers,
    use_flow,
)
from claudeflow.simulator import SimulatorConfig, run_simulator

MODEL = "claude-haiku-4-5"

Interactive = Annotated[RequestFlow, Depends(use_flow(priority=Priority.HIGH))]
Background = Annotated[RequestFlow, Depends(use_flow(priority=Priority.LOW))]


class Ask(BaseModel):
    prompt: str = Field(min_length=1, max_length=20_000)
    max_tokens: int = Field(default=256, ge=1, le=4096)


def _body(ask: Ask, system: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": ask.max_tokens,
        "messages": [{"role": "user", "content": ask.prompt}],
    }
    if system:
        body["system"] = system
    return body


def create_app(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    limits: RateLimits | None = None,
    concurrency: int = 16,
    max_queue: int = 200,
    queue_timeout: float = 10.0,
    tenants: TenantQuota | None = None,
) -> FastAPI:
    """The service; every knob is a parameter so tests and the CLI share one app."""

    def make_flow() -> Flow:
        return Flow(
            api_key=api_key,
            base_url=base_url,
            limits=limits,
            concurrency=concurrency,
            queue=QueuePolicy(max_size=max_queue, timeout=queue_timeout),
        )

    app = FastAPI(title="claudeflow example", lifespan=flow_lifespan(make_flow, tenants=tenants))
    install_error_handlers(app)

    @app.post("/chat")
    async def chat(ask: Ask, claude: Interactive) -> dict[str, Any]:
        result = await claude.create(**_body(ask))
        return {
            "text": result.text,
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            "cost_usd": result.cost_usd,
            "queue_wait_s": round(result.queue_wait_s, 4),
        }

    @app.post("/chat/stream")
    async def chat_stream(ask: Ask, claude: Interactive) -> StreamingResponse:
        chunks = await claude.stream_text(**_body(ask))
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")

    @app.post("/summarize")
    async def summarize(ask: Ask, claude: Background) -> dict[str, Any]:
        result = await claude.create(**_body(ask, system="Summarize the text in one line."))
        return {"summary": result.text}

    @app.get("/stats")
    async def stats(flow: Annotated[Flow, Depends(get_flow)]) -> dict[str, Any]:
        s: FlowStats = flow.stats()
        return {
            "completed": s.completed,
            "failed": s.failed,
            "queued": s.queued,
            "in_flight": s.in_flight,
            "rate_limited": s.rate_limited,
            "cost_usd": s.cost_usd,
        }

    return app


# -- running it -------------------------------------------------------------------------

# The simulator's account, and the Flow told the same limits (one minute lasts 2 s, so
# the demo finishes quickly).
SIM_LIMITS = RateLimits(rpm=120, input_tpm=200_000, output_tpm=50_000, window_s=2.0)


HOST = "127.0.0.1"  # local only: put a real reverse proxy in front for anything else


async def serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Start uvicorn in this loop; return it, its task and its URL once it listens."""
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # bounded: startup takes milliseconds
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        raise RuntimeError(f"uvicorn did not start on {HOST}:{port}")
    bound = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://{HOST}:{bound}"


async def demo(url: str, n: int) -> Counter[int]:
    """Fire ``n`` concurrent /chat requests from 4 tenants and count the statuses."""
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=n)) as client:

        async def one(i: int) -> int:
            async with client.post(
                "/chat",
                json={"prompt": f"question {i}: tell me about rate limits", "max_tokens": 64},
                headers={"x-tenant-id": f"tenant-{i % 4}"},
            ) as response:
                if response.status != 200 and "Retry-After" not in response.headers:
                    raise SystemExit(f"{response.status} without Retry-After")
                return response.status

        statuses = await asyncio.gather(*(one(i) for i in range(n)))
    return Counter(statuses)


async def main_async(args: argparse.Namespace) -> int:
    async def run(base_url: str | None, api_key: str | None, limits: RateLimits | None) -> int:
        app = create_app(
            base_url=base_url,
            api_key=api_key,
            limits=limits,
            concurrency=args.concurrency,
            max_queue=args.max_queue,
            queue_timeout=args.queue_timeout,
            tenants=TenantQuota(max_concurrent=args.tenant_concurrency),
        )
        server, task, url = await serve(app, 0 if args.demo else args.port)
        print(f"serving on {url}", flush=True)
        try:
            if args.demo:
                counts = await demo(url, args.demo)
                print("statuses: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
            else:
                await task
        finally:
            server.should_exit = True  # graceful: finish requests, then close the Flow
            if not task.done():
                await asyncio.wait({task})
        return 0

    if not args.simulate:
        limits = None
        if args.rpm or args.input_tpm or args.output_tpm:
            limits = RateLimits(rpm=args.rpm, input_tpm=args.input_tpm, output_tpm=args.output_tpm)
        return await run(None, None, limits)
    config = SimulatorConfig(
        rpm=SIM_LIMITS.rpm,
        input_tpm=SIM_LIMITS.input_tpm,
        output_tpm=SIM_LIMITS.output_tpm,
        minute_seconds=SIM_LIMITS.window_s,
        ttft_s=0.01,
        per_token_s=0.0,
    )
    async with run_simulator(config) as sim:
        print(f"simulator on {sim.url}", flush=True)
        code = await run(sim.url, "sk-simulator", SIM_LIMITS)
        server_stats = sim.stats()
    print(f"simulator saw {server_stats['received']} requests, {server_stats['rate_limited']} 429s")
    return code


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--simulate", action="store_true", help="use an in-process simulator")
    parser.add_argument("--demo", type=int, default=0, metavar="N", help="fire N requests, exit")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--rpm", type=float, default=None)
    parser.add_argument("--input-tpm", type=float, default=None)
    parser.add_argument("--output-tpm", type=float, default=None)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-queue", type=int, default=60)
    parser.add_argument("--queue-timeout", type=float, default=2.0)
    parser.add_argument("--tenant-concurrency", type=int, default=30)
    args = parser.parse_args(argv)
    if not args.simulate and not os.environ.get("ANTHROPIC_API_KEY"):
        parser.error("set ANTHROPIC_API_KEY, or pass --simulate")
    return args


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main_async(parse_args())))
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled
        print("stopped")
        sys.exit(130)
