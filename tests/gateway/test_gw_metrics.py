"""``/metrics`` (Prometheus text, the gateway's own registry), health and readiness."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from gw_helpers import HI, KEYS, MODEL, stack
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

LIMITS = "rpm = 1000\ninput_tpm = 1000000\noutput_tpm = 200000\n"


def _samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def _value(samples: dict[str, Any], name: str, **labels: str) -> float:
    return sum(v for got, v in samples[name] if labels.items() <= got.items())


async def test_metrics_count_requests_tokens_cost_and_limits() -> None:
    body = {"model": MODEL, "max_tokens": 32, "messages": HI}
    async with stack(upstream=LIMITS) as s, aiohttp.ClientSession() as session:
        for name, count in (("alpha", 3), ("beta", 1)):
            for _ in range(count):
                async with session.post(
                    f"{s.url}/v1/messages", json=body, headers={"x-api-key": KEYS[name]}
                ) as response:
                    assert response.status == 200
        async with session.post(f"{s.url}/v1/messages", json=body) as response:
            assert response.status == 401
        refused = {**body, "max_tokens": "many"}
        async with session.post(
            f"{s.url}/v1/messages", json=refused, headers={"x-api-key": KEYS["alpha"]}
        ) as response:
            assert response.status == 400
        async with session.get(f"{s.url}/metrics") as response:
            assert response.headers["content-type"].startswith("text/plain")
            text = await response.text()
    samples = _samples(text)
    ns = "claudeflow_gateway"
    assert _value(samples, f"{ns}_requests_total", client="alpha", status="200") == 3
    assert _value(samples, f"{ns}_requests_total", client="beta", api="anthropic") == 1
    assert _value(samples, f"{ns}_requests_total", client="alpha", status="400") == 1
    assert _value(samples, f"{ns}_tokens_total", client="alpha", direction="output") == 36
    assert _value(samples, f"{ns}_tokens_total", client="alpha", direction="input") > 0
    assert _value(samples, f"{ns}_cost_usd_total", client="alpha", model=MODEL) > 0
    assert _value(samples, f"{ns}_queue_wait_seconds_count", priority="1") == 4
    assert _value(samples, f"{ns}_request_duration_seconds_count", api="anthropic") == 5
    assert _value(samples, f"{ns}_upstream_rate_limited_total") == 0
    assert _value(samples, f"{ns}_upstream_responses_total", status="200") == 4
    assert _value(samples, f"{ns}_bucket_capacity", dimension="requests") == 1000
    assert 0 < _value(samples, f"{ns}_bucket_level", dimension="requests") <= 1000
    assert f"{ns}_queue_depth" in {f.name for f in text_string_to_metric_families(text)}
    assert f"{ns}_cache_read_input_tokens_total" in samples
    # The gateway never touches the process-global registry.
    assert REGISTRY.get_sample_value(f"{ns}_requests_total") is None


async def test_two_gateways_in_one_process_keep_separate_metrics() -> None:
    async with stack() as one, stack() as two, aiohttp.ClientSession() as session:
        body = {"model": MODEL, "max_tokens": 8, "messages": HI}
        async with session.post(
            f"{one.url}/v1/messages", json=body, headers={"x-api-key": KEYS["alpha"]}
        ) as response:
            assert response.status == 200
        texts = await asyncio.gather(*(_text(session, f"{g.url}/metrics") for g in (one, two)))
    first, second = (_samples(t) for t in texts)
    assert _value(first, "claudeflow_gateway_requests_total") == 1
    assert "claudeflow_gateway_requests_total" not in second


async def _text(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        return await response.text()


async def test_health_and_readiness() -> None:
    async with stack() as s, aiohttp.ClientSession() as session:
        async with session.get(f"{s.url}/healthz") as health:
            assert health.status == 200
        async with session.get(f"{s.url}/readyz") as ready:
            assert ready.status == 200
            assert (await ready.json())["status"] == "ready"
        s.gw.gateway.accepting = False  # what shutdown does first
        async with session.get(f"{s.url}/readyz") as draining:
            assert draining.status == 503


async def test_access_log_is_one_json_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="claudeflow.gateway.access")
    body = {"model": "fast", "max_tokens": 32, "messages": HI}
    async with stack() as s, aiohttp.ClientSession() as session:
        async with session.post(
            f"{s.url}/v1/messages", json=body, headers={"x-api-key": KEYS["alpha"]}
        ) as response:
            request_id = response.headers["request-id"]
    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
    assert line["request_id"] == request_id
    assert (line["status"], line["client"], line["model"]) == (200, "alpha", MODEL)
    assert line["output_tokens"] == 12 and line["attempts"] == 1 and line["cost_usd"] > 0
