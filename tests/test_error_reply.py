"""ErrorReply: the HTTP meaning of an error, shared by the gateway and FastAPI."""

from __future__ import annotations

import pytest

from claudeflow._error_reply import ErrorReply
from claudeflow.gateway._replies import ErrorReply as GatewayReply
from claudeflow.integrations.fastapi import ErrorReply as FastApiReply


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [(None, None), (0.0, 1), (0.2, 1), (1.0, 1), (1.01, 2), (58.5, 59)],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    retry_after: float | None, header: int | None
) -> None:
    reply = ErrorReply(503, "overloaded_error", "busy", retry_after, (("X-A", "1"),))
    assert reply.retry_after_header == header
    expected = {"X-A": "1"} if header is None else {"X-A": "1", "Retry-After": str(header)}
    assert reply.all_headers() == expected


def test_both_front_ends_share_it_and_fastapi_adds_its_own_fields() -> None:
    assert GatewayReply is ErrorReply
    reply = FastApiReply(502, "upstream_error", "no", request_id="cf_1")
    assert isinstance(reply, ErrorReply) and reply.request_id == "cf_1"
    assert reply.all_headers() == {}
