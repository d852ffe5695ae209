"""Back-pressure is HTTP: a client's own 429s, 503s when the gateway is full, upstream
errors with the API's status and a message the gateway wrote (no upstream detail)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import anthropic
import pytest
from gw_helpers import HI, KEYS, MODEL, UPSTREAM_KEY, client_table, stack

from claudeflow.simulator import FaultConfig

pytestmark = pytest.mark.integration

BODY = {"model": MODEL, "max_tokens": 32, "messages": HI}


async def _post(url: str, key: str, body: dict[str, Any] = BODY) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{url}/v1/messages", json=body, headers={"x-api-key": key})
        await response.read()
        return response


async def test_a_client_over_its_rpm_gets_its_own_429() -> None:
    clients = client_table("alpha", rpm=2) + client_table("beta")
    async with stack(clients=clients) as s:
        first = await _post(s.url, KEYS["alpha"])
        await _post(s.url, KEYS["alpha"])
        refused = await _post(s.url, KEYS["alpha"])
        other = await _post(s.url, KEYS["beta"])
        sent_upstream = s.sim.stats()
        counted = s.gw.gateway.metrics.requests.labels("alpha", MODEL, "429", "anthropic")
    assert first.status == 200
    assert first.headers["RateLimit-Policy"] == '"requests";q=2;w=60'
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit"].startswith('"requests";r=0;')
    assert other.status == 200  # beta's quota is its own
    assert sent_upstream["received"] == 3  # the refused request never left the gateway
    assert counted._value.get() == 1  # the client's own 429s show in its metrics


async def test_model_outside_the_allowed_list_is_403() -> None:
    clients = client_table("alpha", models=["fast"])
    async with stack(clients=clients) as s:
        allowed = await _post(s.url, KEYS["alpha"], {**BODY, "model": "fast"})
        refused = await _post(s.url, KEYS["alpha"], {**BODY, "model": "claude-opus-4-6"})
        body = await refused.json()
    assert allowed.status == 200
    assert refused.status == 403
    assert body["error"]["type"] == "permission_error"


async def test_full_queue_gives_503_with_retry_after() -> None:
    upstream = "concurrency = 1\nmax_queue = 1\n"
    async with stack(upstream=upstream, sim={"ttft_s": 0.3}) as s:
        answers = await asyncio.gather(*(_post(s.url, KEYS["alpha"]) for _ in range(4)))
    statuses = sorted(a.status for a in answers)
    assert 503 in statuses and 200 in statuses
    assert set(statuses) == {200, 503}
    busy = next(a for a in answers if a.status == 503)
    assert int(busy.headers["Retry-After"]) >= 1


async def test_upstream_spend_cap_is_sanitized() -> None:
    sim = {"faults": FaultConfig(spend_cap_rate=1.0)}
    async with stack(sim=sim) as s:
        async with anthropic.AsyncAnthropic(
            base_url=s.url, api_key=KEYS["alpha"], max_retries=0
        ) as client:
            with pytest.raises(anthropic.RateLimitError) as caught:
                await client.messages.create(model=MODEL, max_tokens=32, messages=HI)
    error = caught.value
    text = json.dumps(error.body) + str(dict(error.response.headers))
    assert error.status_code == 429
    assert "rate limiting the gateway" in error.message
    assert "spend" not in text.lower() and "organization" not in text.lower()
    assert UPSTREAM_KEY not in text


async def test_upstream_refusing_the_gateway_key_is_sanitized(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with stack(sim={"api_keys": frozenset({"sk-ant-some-other-key-000000"})}) as s:
        refused = await _post(s.url, KEYS["alpha"])
        body = await refused.json()
    assert refused.status == 401
    assert "upstream credentials" in body["error"]["message"]
    assert body["request_id"] == refused.headers["request-id"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert refused.headers["request-id"] in logged  # the access log has the request
    for secret in (UPSTREAM_KEY, KEYS["alpha"]):
        assert secret not in json.dumps(body) and secret not in logged


async def test_streaming_failure_before_content_keeps_its_status() -> None:
    clients = client_table("alpha", rpm=1)
    async with stack(clients=clients) as s:
        async with anthropic.AsyncAnthropic(
            base_url=s.url, api_key=KEYS["alpha"], max_retries=0
        ) as client:
            await client.messages.create(model=MODEL, max_tokens=32, messages=HI)
            with pytest.raises(anthropic.RateLimitError):
                async with client.messages.stream(
                    model=MODEL, max_tokens=32, messages=HI
                ) as stream:
                    await stream.get_final_message()


@pytest.mark.parametrize("field", ["priority", "wait_for_space", "queue_timeout", "extra_body"])
async def test_flow_options_in_the_body_are_refused(field: str) -> None:
    async with stack(clients=client_table("alpha", rpm=1)) as s:
        refused = await _post(s.url, KEYS["alpha"], {**BODY, field: True})
        body = await refused.json()
        allowed = await _post(s.url, KEYS["alpha"])  # the refusal cost no quota
    assert refused.status == 400
    assert body["error"]["message"].startswith(f"{field}: ")
    assert allowed.status == 200


async def test_a_deadline_that_cannot_be_met_gives_503() -> None:
    upstream = "concurrency = 1\nqueue_timeout_s = 0.2\n"
    async with stack(upstream=upstream, sim={"ttft_s": 0.6}) as s:
        first = asyncio.create_task(_post(s.url, KEYS["alpha"]))
        await asyncio.sleep(0.1)  # the first holds the only slot for 0.6 s upstream
        late = await _post(s.url, KEYS["beta"])
        body = await late.json()
        assert (await first).status == 200
    assert late.status == 503
    assert body["error"]["type"] == "overloaded_error"
    assert int(late.headers["Retry-After"]) >= 1
