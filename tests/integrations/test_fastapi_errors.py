"""Every claudeflow error has a clear HTTP meaning (pure mapping, no server)."""

from __future__ import annotations

import json
import logging

import pytest

from claudeflow import (
    APIConnectionError,
    APITimeoutError,
    BudgetExceededError,
    CapacityError,
    ClaudeflowError,
    ConfigError,
    DeadlineExceededError,
    FlowClosedError,
    InvalidRequestError,
    QueueFullError,
    StreamError,
)
from claudeflow._errors import status_error
from claudeflow.integrations.fastapi import (
    ClientDisconnectedError,
    TenantQuotaExceeded,
    error_response,
)


def upstream(status: int, *, code: str | None = None, retry_after: str | None = None) -> Exception:
    error: dict[str, object] = {"type": "some_error", "message": f"upstream said {status}"}
    if code:
        error["details"] = {"error_code": code}
    headers = {"request-id": "req_1"} | ({"retry-after": retry_after} if retry_after else {})
    return status_error(status, headers, json.dumps({"type": "error", "error": error}))


@pytest.mark.parametrize(
    ("error", "status", "retry_after"),
    [
        pytest.param(QueueFullError("full", retry_after=2.2), 503, "3", id="queue-full-hint"),
        pytest.param(QueueFullError("full"), 503, "1", id="queue-full-no-hint"),
        pytest.param(DeadlineExceededError("late"), 503, "1", id="deadline"),
        pytest.param(FlowClosedError("closing"), 503, "1", id="closed"),
        pytest.param(BudgetExceededError("spent"), 503, None, id="budget"),
        pytest.param(CapacityError("never fits"), 413, None, id="capacity"),
        pytest.param(InvalidRequestError("bad"), 400, None, id="invalid"),
        pytest.param(ClientDisconnectedError("gone"), 499, None, id="disconnected"),
        pytest.param(upstream(429, retry_after="7"), 503, "7", id="upstream-429"),
        pytest.param(upstream(429, code="enforced_spend_limit_reached"), 502, None, id="spend-cap"),
        pytest.param(upstream(529), 503, "1", id="upstream-529"),
        pytest.param(upstream(400), 502, None, id="upstream-400"),
        pytest.param(upstream(500), 502, None, id="upstream-500"),
        pytest.param(StreamError("boom"), 502, None, id="stream-error"),
        pytest.param(APITimeoutError("slow"), 504, None, id="timeout"),
        pytest.param(APIConnectionError("reset"), 502, None, id="connection"),
        pytest.param(ConfigError("x", "bad"), 500, None, id="own-bug"),
    ],
)
def test_status_and_retry_after(
    error: ClaudeflowError, status: int, retry_after: str | None
) -> None:
    response = error_response(error)
    assert response.status_code == status
    assert response.headers.get("retry-after") == retry_after
    payload = json.loads(bytes(response.body))
    assert payload["type"] == "error" and payload["error"]["message"]


def test_tenant_quota_is_a_429_with_its_ratelimit_headers() -> None:
    headers = {"RateLimit-Policy": '"tenant";q=6;w=60', "RateLimit": '"tenant";r=0;t=10'}
    error = TenantQuotaExceeded("over", tenant="a", retry_after=9.5, headers=headers)
    response = error_response(error)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "10"
    assert response.headers["ratelimit"] == '"tenant";r=0;t=10'


def test_upstream_text_stays_in_the_log_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    error = status_error(401, {}, '{"error": {"message": "bad key sk-ant-api03-abcDEF_123"}}')
    with caplog.at_level(logging.WARNING, "claudeflow.integrations.fastapi"):
        response = error_response(error)
    payload = json.loads(bytes(response.body))
    assert payload["error"]["upstream_status"] == "4xx"
    assert "bad key" not in payload["error"]["message"] and "sk-ant" not in response.body.decode()
    assert payload["error"]["request_id"] in payload["error"]["message"]
    [record] = caplog.records
    assert "bad key sk-ant-***" in record.getMessage() and "abcDEF" not in record.getMessage()


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(upstream(529), id="overloaded"),
        pytest.param(upstream(429, retry_after="3"), id="rate-limited"),
        pytest.param(StreamError("upstream said boom", type="api_error"), id="stream"),
        pytest.param(APITimeoutError("read timed out from 10.0.0.7"), id="timeout"),
        pytest.param(APIConnectionError("refused by 10.0.0.7", kind="refused"), id="refused"),
    ],
)
def test_no_upstream_reply_forwards_upstream_text(error: ClaudeflowError) -> None:
    body = json.loads(bytes(error_response(error).body))["error"]
    assert "upstream said" not in body["message"] and "10.0.0.7" not in body["message"]
    assert body["request_id"].startswith("cf_") and body["request_id"] in body["message"]


def test_each_upstream_failure_gets_its_own_request_id() -> None:
    ids = {json.loads(bytes(error_response(upstream(500)).body))["error"]["request_id"]}
    ids.add(json.loads(bytes(error_response(upstream(500)).body))["error"]["request_id"])
    assert len(ids) == 2
    assert (
        "internal"
        in json.loads(bytes(error_response(ConfigError("k", "v")).body))["error"]["message"]
    )
