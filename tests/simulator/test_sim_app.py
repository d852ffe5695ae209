"""The aiohttp app over real sockets (127.0.0.1, port 0)."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from sim_helpers import MODEL, body, parse_sse

from claudeflow.simulator import FaultConfig, SimulatorConfig, run_simulator
from claudeflow.testing._simulator import simulator

pytestmark = pytest.mark.integration

HEADERS = {"x-api-key": "sk-test", "anthropic-version": "2023-06-01"}


async def test_json_reply_headers_and_stats() -> None:
    async with simulator(rpm=100, input_tpm=50_000, output_tpm=10_000) as sim:
        assert sim.url.startswith("http://127.0.0.1:") and not sim.url.endswith("/")
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{sim.url}/v1/messages", headers=HEADERS, data=body(out=9)
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/json"
                assert resp.headers["request-id"].startswith("req_")
                assert resp.headers["anthropic-ratelimit-requests-remaining"] == "99"
                assert resp.headers["anthropic-ratelimit-tokens-limit"] == "60000"
                message = await resp.json()
            assert message["usage"]["output_tokens"] == 9
            async with http.get(f"{sim.url}/_stats") as resp:
                stats = await resp.json()
            assert stats["admitted"] == 1 and stats["tokens"]["output"] == 9
            assert stats["by_status"] == sim.stats()["by_status"] == {"200": 1}
            assert list(stats["buckets"]) == list(sim.stats()["buckets"])
            async with http.post(f"{sim.url}/_reset") as resp:
                assert await resp.json() == {"reset": True}
            assert sim.stats()["received"] == 0


async def test_stream_over_the_wire() -> None:
    async with simulator(stream_chunk_tokens=2) as sim, aiohttp.ClientSession() as http:
        async with http.post(
            f"{sim.url}/v1/messages", headers=HEADERS, data=body(out=5, stream=True)
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream; charset=utf-8"
            raw = await resp.read()
    names = [name for name, _ in parse_sse(raw)]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("content_block_delta") == 3


async def test_bearer_auth_and_case_insensitive_headers() -> None:
    async with simulator(api_keys=frozenset({"sk-good"})) as sim, aiohttp.ClientSession() as http:
        headers = {"Authorization": "Bearer sk-good", "Anthropic-Version": "2026-10-21"}
        async with http.post(f"{sim.url}/v1/messages", headers=headers, data=body()) as resp:
            assert resp.status == 200
        async with http.post(f"{sim.url}/v1/messages", data=body()) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["type"] == "authentication_error"


async def test_connection_drop_is_seen_by_the_client() -> None:
    config = SimulatorConfig(ttft_s=0.0, per_token_s=0.0, faults=FaultConfig(connection_drop=1.0))
    async with run_simulator(config) as sim, aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.post(f"{sim.url}/v1/messages", headers=HEADERS, data=body()) as resp:
                await resp.read()
        with pytest.raises(aiohttp.ClientError):
            async with http.post(
                f"{sim.url}/v1/messages", headers=HEADERS, data=body(out=20, stream=True)
            ) as resp:
                await resp.read()
        assert sim.stats()["faults"] == {"connection_drop": 2}
        assert sim.stats()["in_flight"] == 0


async def test_unknown_routes_and_methods_are_json_404() -> None:
    async with simulator() as sim, aiohttp.ClientSession() as http:
        for method, path in (("GET", "/v1/messages"), ("POST", "/v2/anything")):
            async with http.request(method, f"{sim.url}{path}", headers=HEADERS) as resp:
                assert resp.status == 404
                assert (await resp.json())["error"]["type"] == "not_found_error"


async def test_batch_results_url_points_back_at_the_simulator() -> None:
    requests = [
        {
            "custom_id": "one",
            "params": {
                "model": MODEL,
                "max_tokens": 10,
                "messages": [{"role": "user", "content": "x"}],
            },
        }
    ]
    async with simulator() as sim, aiohttp.ClientSession() as http:
        url = f"{sim.url}/v1/messages/batches"
        async with http.post(url, headers=HEADERS, json={"requests": requests}) as resp:
            batch = await resp.json()
        async with http.get(f"{url}/{batch['id']}", headers=HEADERS) as resp:
            batch = await resp.json()
        assert batch["processing_status"] == "ended"
        assert batch["results_url"] == f"{sim.url}/v1/messages/batches/{batch['id']}/results"
        async with http.get(batch["results_url"], headers=HEADERS) as resp:
            lines = (await resp.read()).decode().splitlines()
        assert [json.loads(line)["custom_id"] for line in lines] == ["one"]
        async with http.post(f"{url}/{batch['id']}/cancel", headers=HEADERS) as resp:
            assert (await resp.json())["processing_status"] == "ended"
        async with http.delete(f"{url}/{batch['id']}", headers=HEADERS) as resp:
            assert (await resp.json())["type"] == "message_batch_deleted"
        async with http.post(
            f"{sim.url}/v1/messages/count_tokens",
            headers=HEADERS,
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
            },
        ) as resp:
            assert await resp.json() == {"input_tokens": 8}


async def test_server_shuts_down_cleanly() -> None:
    async with simulator() as sim:
        url = sim.url
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{url}/_stats")


async def test_exit_with_a_reply_in_flight_settles_it() -> None:
    async with aiohttp.ClientSession() as http:
        async with simulator(ttft_s=60.0) as sim:
            call = asyncio.create_task(
                http.post(f"{sim.url}/v1/messages", headers=HEADERS, data=body())
            )
            for _ in range(2_000):  # until the server holds it (bounded)
                if sim.stats()["in_flight"]:
                    break
                await asyncio.sleep(0.005)
            assert sim.stats()["in_flight"] == 1
            api = sim.api
        with pytest.raises(aiohttp.ClientError):
            await call
    assert api.stats()["in_flight"] == 0
    assert api.stats()["completed"] == 1


async def test_simulator_helper_rejects_config_and_kwargs() -> None:
    with pytest.raises(TypeError):
        async with simulator(SimulatorConfig(), rpm=5):
            pass


async def test_a_client_leaving_mid_stream_ends_it_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with simulator(ttft_s=0.0, per_token_s=0.005, stream_chunk_tokens=1) as sim:
        async with aiohttp.ClientSession() as http:
            resp = await http.post(
                f"{sim.url}/v1/messages", headers=HEADERS, data=body(out=400, stream=True)
            )
            await resp.content.readexactly(200)  # the stream has begun
            resp.close()  # hang up
        for _ in range(200):  # bounded: the server notices within a few writes
            if sim.stats()["in_flight"] == 0:
                break
            await asyncio.sleep(0.01)
        stats = sim.stats()
    assert stats["client_disconnects"] == 1
    assert stats["in_flight"] == 0 and 0 < stats["tokens"]["output"] < 400  # settled
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "closing transport" not in caplog.text


async def test_a_client_leaving_before_a_json_reply_is_counted() -> None:
    async with simulator(ttft_s=0.3, per_token_s=0.0) as sim:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as http:
            with pytest.raises(asyncio.TimeoutError):
                await http.post(f"{sim.url}/v1/messages", headers=HEADERS, data=body())
        # Bounded (10 s) but generous: the reply is ready 0.3 s after it was asked for, and a
        # loaded CI machine may take a while to run the server's side of it.
        for _ in range(1000):
            current = sim.stats()
            if current["completed"] == 1 and current["client_disconnects"] == 1:
                break
            await asyncio.sleep(0.01)
        stats = sim.stats()
    assert stats["client_disconnects"] == 1 and stats["completed"] == 1
