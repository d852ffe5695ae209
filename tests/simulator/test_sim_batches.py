"""Message Batches lifecycle in virtual time (api doc §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sim_helpers import MODEL, OFFSET, hdrs, make_api, parse

from claudeflow.simulator import BatchConfig, SimulatedAPI
from claudeflow.simulator._wire import rfc3339

BASE = "http://sim.test:8080"


def _request(custom_id: str, out: int = 5, **params: Any) -> dict[str, Any]:
    params = {
        "model": MODEL,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": f"Item {custom_id} [[output_tokens={out}]]"}],
        **params,
    }
    return {"custom_id": custom_id, "params": params}


def _create(api: SimulatedAPI, requests: list[dict[str, Any]], key: str = "sk-test") -> Any:
    reply = api.create_batch(hdrs(key), json.dumps({"requests": requests}).encode(), base_url=BASE)
    return parse(reply) if reply.status == 200 else reply


def _get(api: SimulatedAPI, batch_id: str) -> Any:
    return parse(api.retrieve_batch(hdrs(), batch_id, base_url=BASE))


def _results(api: SimulatedAPI, batch_id: str) -> dict[str, Any]:
    reply = api.batch_results(hdrs(), batch_id)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-jsonl"
    lines = [json.loads(line) for line in reply.body.decode().splitlines()]
    return {line["custom_id"]: line["result"] for line in lines}


async def test_lifecycle_paced_by_processing_limits() -> None:
    api, clock = make_api(batch=BatchConfig(process_rpm=2), minute_seconds=2)  # 1 req/s, cap 2
    bad = {"custom_id": "bad", "params": {"model": MODEL, "messages": []}}
    requests = [_request("a"), _request("b"), bad, _request("c"), _request("d")]
    created = _create(api, requests)
    assert created["type"] == "message_batch"
    assert created["id"].startswith("msgbatch_")
    assert created["processing_status"] == "in_progress"
    assert created["results_url"] is None
    assert created["created_at"] == rfc3339(OFFSET)
    assert created["expires_at"] == rfc3339(OFFSET + 24 * 60 * 2)  # 24 simulated hours
    await clock.advance(0)
    batch = _get(api, created["id"])
    # Until the whole batch ends, everything is "processing".
    assert batch["request_counts"] == {
        "processing": 5,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    assert api.batch_results(hdrs(), created["id"]).status == 400
    await clock.advance(1.0)
    assert _get(api, created["id"])["processing_status"] == "in_progress"
    await clock.advance(1.0)  # t=2: a, b at once; bad costs nothing; c at 1 s, d at 2 s
    batch = _get(api, created["id"])
    assert batch["processing_status"] == "ended"
    assert batch["ended_at"] == rfc3339(OFFSET + 2.0)
    assert batch["request_counts"] == {
        "processing": 0,
        "succeeded": 4,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    assert batch["results_url"] == f"{BASE}/v1/messages/batches/{created['id']}/results"
    results = _results(api, created["id"])
    assert set(results) == {"a", "b", "bad", "c", "d"}
    assert results["a"]["type"] == "succeeded"
    assert results["a"]["message"]["usage"]["service_tier"] == "batch"
    assert results["a"]["message"]["usage"]["output_tokens"] == 5
    assert results["bad"] == {
        "type": "errored",
        "error": {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        },
    }


async def test_cancel_marks_the_rest_canceled() -> None:
    api, clock = make_api(batch=BatchConfig(request_s=1.0))
    created = _create(api, [_request(str(i)) for i in range(5)])
    await clock.advance(1.5)  # request 0 done, request 1 in progress
    reply = api.cancel_batch(hdrs(), created["id"], base_url=BASE)
    canceling = parse(reply)
    assert canceling["processing_status"] == "canceling"
    assert canceling["cancel_initiated_at"] == rfc3339(OFFSET + 1.5)
    await clock.advance(0.5)
    batch = _get(api, created["id"])
    assert batch["processing_status"] == "ended"
    assert batch["request_counts"]["succeeded"] == 1
    assert batch["request_counts"]["canceled"] == 4
    assert [r["type"] for r in _results(api, created["id"]).values()].count("canceled") == 4
    await api.aclose()


async def test_unprocessed_requests_expire() -> None:
    # 24 h scaled down to 6 s; each request takes 2.5 s.
    api, clock = make_api(batch=BatchConfig(request_s=2.5, expiry_minutes=1), minute_seconds=6)
    created = _create(api, [_request(str(i)) for i in range(5)])
    await clock.run_until_idle()
    batch = _get(api, created["id"])
    assert batch["request_counts"]["succeeded"] == 2
    assert batch["request_counts"]["expired"] == 3
    assert batch["ended_at"] == rfc3339(OFFSET + 7.5)


async def test_delete_only_after_end_then_404() -> None:
    api, clock = make_api(batch=BatchConfig(request_s=1.0))
    created = _create(api, [_request("a")])
    early = api.delete_batch(hdrs(), created["id"])
    assert early.status == 400
    assert "cancel it first" in parse(early)["error"]["message"]
    await clock.advance(1.0)
    deleted = api.delete_batch(hdrs(), created["id"])
    assert parse(deleted) == {"id": created["id"], "type": "message_batch_deleted"}
    missing = api.retrieve_batch(hdrs(), created["id"], base_url=BASE)
    assert missing.status == 404
    assert parse(missing)["error"]["type"] == "not_found_error"


async def test_batches_belong_to_their_key() -> None:
    api, _ = make_api()
    created = _create(api, [_request("a")], key="sk-a")
    assert api.retrieve_batch(hdrs("sk-b"), created["id"], base_url=BASE).status == 404
    assert parse(api.list_batches(hdrs("sk-b"), {}, base_url=BASE))["data"] == []


async def test_list_pagination_newest_first() -> None:
    api, _ = make_api()
    ids = [_create(api, [_request("a")])["id"] for _ in range(3)]
    page = parse(api.list_batches(hdrs(), {"limit": "2"}, base_url=BASE))
    assert [b["id"] for b in page["data"]] == [ids[2], ids[1]]
    assert page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == (ids[2], ids[1])
    rest = parse(api.list_batches(hdrs(), {"limit": "2", "after_id": ids[1]}, base_url=BASE))
    assert [b["id"] for b in rest["data"]] == [ids[0]]
    assert rest["has_more"] is False
    back = parse(api.list_batches(hdrs(), {"limit": "1", "before_id": ids[1]}, base_url=BASE))
    assert [b["id"] for b in back["data"]] == [ids[2]]
    bad = api.list_batches(hdrs(), {"limit": "0"}, base_url=BASE)
    assert bad.status == 400


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, "requests: Field required"),
        ({"requests": []}, "requests: List should have at least 1 item"),
        (
            {"requests": [_request("a"), _request("b"), _request("c")]},
            "requests: List should have at most 2",
        ),
        (
            {"requests": [{"custom_id": "no spaces!", "params": {}}]},
            "requests.0.custom_id: String should match",
        ),
        ({"requests": [_request("a"), _request("a")]}, "requests.1.custom_id: duplicate custom_id"),
        ({"requests": [{"custom_id": "a"}]}, "requests.0.params: Field required"),
    ],
)
async def test_create_validation(payload: dict[str, Any], message: str) -> None:
    api, _ = make_api(batch=BatchConfig(max_requests=2))
    reply = api.create_batch(hdrs(), json.dumps(payload).encode(), base_url=BASE)
    assert reply.status == 400
    assert parse(reply)["error"]["message"].startswith(message)


async def test_streaming_params_are_errored_results() -> None:
    api, clock = make_api()
    created = _create(api, [_request("s", stream=True)])
    await clock.advance(0)
    result = _results(api, created["id"])["s"]
    assert result["type"] == "errored"
    assert result["error"]["error"]["message"].startswith("stream:")


async def test_queue_limit_and_endpoint_rpm() -> None:
    api, _ = make_api(batch=BatchConfig(max_queued_requests=3, request_s=10.0, rpm=3))
    assert _create(api, [_request("a"), _request("b")])["processing_status"] == "in_progress"
    over = _create(api, [_request("c"), _request("d")])
    assert over.status == 429
    assert "processing queue" in parse(over)["error"]["message"]
    assert api.list_batches(hdrs(), {}, base_url=BASE).status == 200
    limited = api.list_batches(hdrs(), {}, base_url=BASE)  # 4th batch call in the minute
    assert limited.status == 429
    assert limited.headers["retry-after"] == "20"  # one request at 3 per 60 s
    assert api.stats()["batches"] == {"batches": 1, "in_progress": 1, "queued_requests": 2}
    await api.aclose()
    assert api.stats()["batches"]["batches"] == 0


async def test_reset_forgets_batches() -> None:
    api, _ = make_api(batch=BatchConfig(request_s=10.0))
    created = _create(api, [_request("a")])
    api.reset()
    assert api.retrieve_batch(hdrs(), created["id"], base_url=BASE).status == 404
    await api.aclose()
