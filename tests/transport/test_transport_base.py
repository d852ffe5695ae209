"""BaseTransport and AsyncClosing: send's arguments gathered once, async-with closes."""

from __future__ import annotations

import pytest

from claudeflow.transport import ApiResponse, Response, Transport
from claudeflow.transport._base import AsyncClosing, BaseTransport, Request

KEY = "sk-ant-api03-secret"


class Recording(BaseTransport):
    """A transport written as one method, as BaseTransport intends."""

    __slots__ = ("closed", "seen")

    def __init__(self) -> None:
        self.seen: list[Request] = []
        self.closed = 0

    async def handle(self, request: Request) -> Response:
        self.seen.append(request)
        return ApiResponse(200, {}, b"{}")

    async def aclose(self) -> None:
        self.closed += 1


async def test_send_hands_one_request_with_lower_case_headers_to_handle() -> None:
    transport = Recording()
    await transport.send(
        "POST", "/v1/messages", headers={"X-Api-Key": KEY}, json={"a": 1}, stream=True
    )
    assert transport.seen == [
        Request("POST", "/v1/messages", {"x-api-key": KEY}, {"a": 1}, None, True)
    ]
    assert isinstance(transport, Transport)


async def test_leaving_async_with_closes_the_transport_even_on_error() -> None:
    transport = Recording()
    async with transport as entered:
        assert entered is transport
    with pytest.raises(ValueError, match="boom"):
        async with transport:
            raise ValueError("boom")
    assert transport.closed == 2


def test_a_request_repr_masks_the_key() -> None:
    shown = repr(Request("POST", "/v1/messages", {"x-api-key": KEY}))
    assert KEY not in shown and "Request(method='POST'" in shown


async def test_async_closing_alone_closes_nothing_and_returns_itself() -> None:
    closing = AsyncClosing()
    async with closing as entered:
        assert entered is closing
    assert await closing.aclose() is None
