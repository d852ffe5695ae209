"""SSE framing and timing of streamed replies, parsed with an independent parser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sim_helpers import body, hdrs, make_api, parse_sse

from claudeflow._clock import TimerHandle
from claudeflow.simulator import (
    ConnectionDropped,
    FaultConfig,
    Reply,
    SimulatedAPI,
    SimulatorConfig,
)
from claudeflow.testing import FakeClock


async def _collect(api: SimulatedAPI, reply: Reply) -> bytes:
    return b"".join([piece async for piece in api.stream(reply)])


async def test_event_order_and_cumulative_usage() -> None:
    api, _ = make_api(stream_chunk_tokens=3)
    reply = api.messages(hdrs(), body(out=10, stream=True))
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = parse_sse(await _collect(api, reply))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",  # where the API's own examples have it
        *["content_block_delta"] * 4,  # 3 + 3 + 3 + 1 tokens
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["output_tokens"] == 1
    assert start["id"].startswith("msg_")
    text = "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")
    assert len(text.split()) == 10
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 10
    assert delta["usage"]["input_tokens"] == start["usage"]["input_tokens"]
    assert delta["usage"]["cache_read_input_tokens"] == 0


async def test_chunks_arrive_on_the_latency_schedule() -> None:
    api, clock = make_api(ttft_s=0.5, per_token_s=0.25, stream_chunk_tokens=4)
    reply = api.messages(hdrs(), body(out=10, stream=True))
    arrivals: list[tuple[float, list[str]]] = []

    async def consume() -> None:
        arrivals.extend(
            [
                (clock.now(), [name for name, _ in parse_sse(piece)])
                async for piece in api.stream(reply)
            ]
        )

    task = asyncio.create_task(consume())
    await clock.run_until_idle()
    await task
    assert arrivals == [
        (0.5, ["message_start", "content_block_start", "ping", "content_block_delta"]),
        (1.5, ["content_block_delta"]),  # 4 tokens x 0.25 s
        (
            2.0,
            ["content_block_delta", "content_block_stop", "message_delta", "message_stop"],
        ),
    ]


async def test_max_tokens_clamps_and_sets_stop_reason() -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), body(out=50, max_tokens=7, stream=True))
    events = parse_sse(await _collect(api, reply))
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"
    assert events[-2][1]["usage"]["output_tokens"] == 7


async def test_mid_stream_error_event_ends_the_stream() -> None:
    api, _ = make_api(faults=FaultConfig(stream_error=1.0), stream_chunk_tokens=2)
    reply = api.messages(hdrs(), body(out=8, stream=True))
    assert reply.status == 200
    events = parse_sse(await _collect(api, reply))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 2,
        "error",
    ]
    assert events[-1][1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert api.stats()["faults"] == {"stream_error": 1}
    assert api.stats()["tokens"]["output"] == 4  # only what was produced


async def test_stream_error_fault_does_not_touch_json_replies() -> None:
    api, _ = make_api(faults=FaultConfig(stream_error=1.0))
    reply = api.messages(hdrs(), body(out=8))
    assert reply.status == 200 and reply.chunks is None
    assert api.stats()["faults"] == {}


async def test_connection_drop_cuts_a_stream_half_way() -> None:
    api, _ = make_api(faults=FaultConfig(connection_drop=1.0), stream_chunk_tokens=2, ttft_s=0.0)
    reply = api.messages(hdrs(), body(out=8, stream=True))
    received: list[bytes] = []
    stream = api.stream(reply)
    with pytest.raises(ConnectionDropped):
        while True:
            received.append(await anext(stream))
    names = [name for name, _ in parse_sse(b"".join(received))]
    assert "message_stop" not in names and "message_start" in names
    assert api.stats()["in_flight"] == 0


async def test_connection_drop_of_a_json_reply() -> None:
    api, _ = make_api(faults=FaultConfig(connection_drop=1.0))
    reply = api.messages(hdrs(), body(out=8))
    assert reply.drop
    with pytest.raises(ConnectionDropped):
        await api.deliver(reply)
    assert api.stats()["faults"] == {"connection_drop": 1}
    assert api.stats()["completed"] == 1


class _LateClock:
    """A fake clock whose sleepers wake ``late`` seconds after they asked, as a busy
    event loop wakes them."""

    def __init__(self, clock: FakeClock, late: float) -> None:
        self._clock, self._late = clock, late

    def now(self) -> float:
        return self._clock.now()

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep(seconds + self._late if seconds > 0 else 0.0)

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        return self._clock.call_later(seconds, callback)


@pytest.mark.parametrize("streamed", [True, False])
async def test_late_wake_ups_do_not_add_up_over_a_reply(streamed: bool) -> None:
    # 1 s to the first token, then 0.1 s per token, 4 tokens a step: 9 steps for 33
    # tokens. Each wake-up is 50 ms late; the reply ends at most one of them late.
    clock = FakeClock()
    config = SimulatorConfig(ttft_s=1.0, per_token_s=0.1, stream_chunk_tokens=4, output_tpm=10**6)
    api = SimulatedAPI(config, _LateClock(clock, 0.05), wall_offset=0.0)
    reply = api.messages(hdrs(), body(out=33, stream=streamed))
    task = asyncio.create_task(_collect(api, reply) if streamed else api.deliver(reply))
    await clock.run_until_idle()
    await task
    due = 1.0 + 0.1 * (33 - 4) if streamed else 1.0 + 0.1 * 32  # a stream's first step holds 4
    assert due <= clock.now() <= due + 0.05 + 1e-9
