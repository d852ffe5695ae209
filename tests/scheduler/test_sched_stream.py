"""flow.stream(): same admission and retry path, incremental settling, early exit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sched_helpers import body, error, sse, start_message
from sched_helpers import make_flow as helpers_make_flow

from claudeflow import RateLimits, StreamError
from claudeflow.scheduler import Flow
from claudeflow.testing import FakeClock, settle
from claudeflow.transport import ApiResponse, MockRequest, MockStream, MockTransport, SseEvent


def events(text: list[str], input_tokens: int = 10, output_tokens: int = 7) -> list[SseEvent]:
    out = [
        sse("message_start", message=start_message(input_tokens)),
        sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        sse("ping"),
    ]
    out += [
        sse("content_block_delta", index=0, delta={"type": "text_delta", "text": t}) for t in text
    ]
    out += [
        sse("content_block_stop", index=0),
        sse(
            "message_delta",
            delta={"stop_reason": "end_turn", "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        sse("message_stop"),
    ]
    return out


def make_flow(clock: FakeClock, handler: Any, **kwargs: Any) -> tuple[Flow, MockTransport]:
    return helpers_make_flow(clock, handler, seed=1, **kwargs)


async def test_stream_yields_events_and_final_result_like_create(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, lambda r: MockStream(200, {}, events(["Hel", "lo"])))
    async with flow:
        async with flow.stream(**body("x")) as stream:
            got = [e async for e in stream]
            result = await stream.result()
            final = await stream.get_final_message()
    texts = [e.text for e in got if e.type == "text"]
    assert texts == ["Hel", "lo"] and final.content[0].text == "Hello"
    assert [e.snapshot for e in got if e.type == "text"] == ["Hel", "Hello"]
    assert final.model_dump(exclude_none=True)["content"] == [{"type": "text", "text": "Hello"}]
    assert result.type == "message" and result.to_dict() == final.model_dump()
    assert result.text == "Hello"
    assert result.message.stop_reason == "end_turn"
    assert result.usage.input_tokens == 10 and result.usage.output_tokens == 7
    assert transport.requests[0].json["stream"] is True
    assert transport.requests[0].stream is True


async def test_stream_settles_output_before_the_stream_ends(clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def slow_events() -> Any:
        for event in events(["a"], output_tokens=50)[:-1]:
            yield event
        await gate.wait()  # message_stop not yet sent
        yield sse("message_stop")

    flow, _ = make_flow(
        clock, lambda r: MockStream(200, {}, slow_events()), limits=RateLimits(output_tpm=1000)
    )
    async with flow:
        async with flow.stream(**body("x", max_tokens=800)) as stream:
            await settle()
            # The last message_delta said 50 output tokens: 750 came back already.
            assert flow.stats().buckets["output_tokens"].level == pytest.approx(950)
            gate.set()
            await stream.result()


async def test_error_before_content_is_retried_and_after_content_is_raised(
    clock: FakeClock,
) -> None:
    calls = {"n": 0}
    overloaded = sse("error", error={"type": "overloaded_error", "message": "Overloaded"})

    def handler(request: MockRequest) -> MockStream | ApiResponse:
        calls["n"] += 1
        if calls["n"] == 1:
            return MockStream(200, {}, [events(["x"])[0], overloaded])  # before content
        if calls["n"] == 2:
            return error(529, "overloaded_error", "Overloaded")
        return MockStream(200, {}, [*events(["partial"])[:4], overloaded])  # after content

    flow, _ = make_flow(clock, handler, limits=RateLimits(output_tpm=1000))
    async with flow:
        async with flow.stream(**body("x", max_tokens=100)) as stream:
            seen: list[str] = []
            task = asyncio.create_task(_collect(stream, seen))
            await clock.run_until_idle()
            with pytest.raises(StreamError) as info:
                await task
    assert calls["n"] == 3
    assert info.value.type == "overloaded_error"
    # The failed attempts' events never reached the caller; the third one's did.
    assert seen == ["message_start", "content_block_start", "content_block_delta", "text"]
    assert flow.stats().in_flight == 0


async def _collect(stream: Any, seen: list[str]) -> None:
    # A loop, not a comprehension: events seen before the error must be kept.
    async for event in stream:
        seen.append(event["type"])  # noqa: PERF401


async def test_leaving_the_stream_early_releases_the_slot(clock: FakeClock) -> None:
    never = asyncio.Event()

    async def endless() -> Any:
        for event in events(["a"])[:4]:
            yield event
        await never.wait()
        yield sse("message_stop")

    flow, _ = make_flow(clock, lambda r: MockStream(200, {}, endless()), concurrency=1)
    async with flow:
        async with flow.stream(**body("x")) as stream:
            async for event in stream:
                if event["type"] == "content_block_delta":
                    break
        await settle()
        stats = flow.stats()
        assert stats.in_flight == 0 and stats.cancelled == 1
