"""The batch path in virtual time: grouping, polling, pricing, errors, cancellation."""

from __future__ import annotations

import asyncio

import pytest
from batch_helpers import MODEL, FakeBatches, body, mock_flow

from claudeflow import BadRequestError, FlowClosedError, InvalidRequestError, Priority, RateLimits
from claudeflow.batches import BatchError, BatchOffload
from claudeflow.testing import FakeClock, settle
from claudeflow.tokens import PriceTable, Usage

OFFLOAD = BatchOffload(linger_s=1.0, poll_s=10.0, poll_factor=2.0, poll_max_s=30.0)


async def _until_done(clock: FakeClock, tasks: list[asyncio.Future[object]]) -> None:
    while not all(t.done() for t in tasks):
        await settle()
        deadline = clock.next_deadline()
        assert deadline is not None, "nothing is scheduled but callers still wait"
        await clock.run_until(deadline)


async def test_batched_results_are_priced_at_the_batch_rate(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=3)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body(f"q{i}"), batch=True)) for i in range(3)]
        await _until_done(clock, tasks)
        results = [t.result() for t in tasks]
        stats = flow.stats()
    assert len(api.batches) == 1 and api.messages_calls == 0
    # Submitted after linger_s = 1; polls after 10, 20 and 30 s (capped) of waiting.
    assert api.polls["msgbatch_1"] == [11.0, 31.0, 61.0]
    standard = PriceTable.default().cost_usd(MODEL, Usage(1_000, 500))
    assert standard is not None
    for i, result in enumerate(results):
        assert result.batched and not result.cache_hit
        assert result.text == f"re: q{i}"
        assert result.cost_usd == pytest.approx(standard / 2)
        assert result.queue_wait_s == 1.0 and result.latency_s == 60.0
    assert stats.batches is not None
    assert (stats.batches.batches_submitted, stats.batches.succeeded) == (1, 3)
    assert stats.batches.cost_usd == pytest.approx(1.5 * standard)
    assert stats.batches.saved_usd == pytest.approx(1.5 * standard)


async def test_requests_are_split_by_the_count_limit(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=BatchOffload(max_requests=2, linger_s=5.0))
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body(f"q{i}"), batch=True)) for i in range(5)]
        await settle()
        assert [len(r) for r in api.batches.values()] == [2, 2]  # full ones go at once
        await _until_done(clock, tasks)
    assert [len(r) for r in api.batches.values()] == [2, 2, 1]


async def test_requests_are_split_by_the_byte_limit(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=BatchOffload(max_bytes=400, linger_s=5.0))
    async with flow:
        tasks = [
            asyncio.ensure_future(flow.create(**body(f"{i}" + "x" * 150), batch=True))
            for i in range(3)
        ]
        await _until_done(clock, tasks)
    assert [len(r) for r in api.batches.values()] == [1, 1, 1]


async def test_the_rule_sends_low_priority_work_to_batches(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    async with flow:
        low = asyncio.ensure_future(flow.create(**body("later"), priority=Priority.LOW))
        now = await flow.create(**body("now"))
        urgent_low = await flow.create(**body("soon"), priority=Priority.LOW, queue_timeout=60)
        await _until_done(clock, [low])
    assert low.result().batched and not now.batched and not urgent_low.batched
    assert api.messages_calls == 2


async def test_batched_requests_leave_the_per_minute_limits_alone(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD, limits=RateLimits(rpm=1))
    async with flow:
        level = flow.stats().buckets["requests"].level
        tasks = [asyncio.ensure_future(flow.create(**body(f"q{i}"), batch=True)) for i in range(30)]
        await _until_done(clock, tasks)
        assert flow.stats().buckets["requests"].level == level
    assert clock.now() == 11.0  # 30 requests at rpm=1 would take half an hour


async def test_errored_canceled_and_expired_entries_raise_typed_errors(clock: FakeClock) -> None:
    outcome = {"bad": "errored", "gone": "expired", "stop": "canceled"}
    api = FakeBatches(clock, polls_to_end=1, outcome=outcome)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    async with flow:
        tasks = [
            asyncio.ensure_future(flow.create(**body(t), batch=True))
            for t in ("ok", "bad", "gone", "stop")
        ]
        await _until_done(clock, tasks)
        stats = flow.stats()
    ok, bad, gone, stop = (t.exception() for t in tasks)
    assert ok is None
    assert isinstance(bad, BadRequestError) and bad.message == "bad request"
    assert isinstance(gone, BatchError) and gone.outcome == "expired"
    assert isinstance(stop, BatchError) and stop.outcome == "canceled"
    assert gone.batch_id == "msgbatch_1"
    assert stats.batches is not None
    assert (stats.batches.succeeded, stats.batches.errored, stats.batches.expired) == (1, 1, 1)


async def test_a_caller_cancelled_while_collecting_is_left_out(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    async with flow:
        stays = asyncio.ensure_future(flow.create(**body("stays"), batch=True))
        leaves = asyncio.ensure_future(flow.create(**body("leaves"), batch=True))
        await settle()
        leaves.cancel()
        await _until_done(clock, [stays])
    texts = [r["params"]["messages"][0]["content"] for r in api.batches["msgbatch_1"]]
    assert texts == ["stays"] and leaves.cancelled() and stays.result().batched


async def test_when_every_caller_has_left_the_batch_is_cancelled(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=100)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    async with flow:
        tasks = [asyncio.ensure_future(flow.create(**body(f"q{i}"), batch=True)) for i in range(2)]
        await clock.run_until(5.0)  # submitted at 1 s
        assert len(api.batches) == 1
        tasks[0].cancel()
        await clock.run_until(12.0)  # first poll at 11 s: one caller still waits
        assert api.cancelled == []
        tasks[1].cancel()
        await settle()  # the last caller left: cancelled at once, not at the next poll
        assert api.cancelled == ["msgbatch_1"] and clock.now() == 12.0
        await clock.run_until(100.0)
        assert api.polls["msgbatch_1"] == [11.0]  # and no more polling
        assert flow.stats().batches.batches_running == 0  # type: ignore[union-attr]


async def test_closing_drains_collecting_requests(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=1)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    await flow.start()
    task = asyncio.ensure_future(flow.create(**body("q"), batch=True))
    await settle()
    closing = asyncio.ensure_future(flow.aclose())
    await _until_done(clock, [task, closing])
    assert task.result().batched and clock.now() == 10.0  # submitted at close, not at 1 s


async def test_closing_with_cancel_fails_every_batched_caller(clock: FakeClock) -> None:
    api = FakeBatches(clock, polls_to_end=100)
    flow, _ = mock_flow(clock, api, batches=OFFLOAD)
    await flow.start()
    submitted = asyncio.ensure_future(flow.create(**body("a"), batch=True))
    await clock.run_until(5.0)
    collecting = asyncio.ensure_future(flow.create(**body("b"), batch=True))
    await settle()
    await flow.aclose(cancel=True)
    for task in (submitted, collecting):
        assert isinstance(task.exception(), FlowClosedError)
    assert api.cancelled == ["msgbatch_1"] and len(api.batches) == 1


async def test_batch_true_without_an_offload_is_a_clear_error(clock: FakeClock) -> None:
    flow, _ = mock_flow(clock, FakeBatches(clock))
    async with flow:
        with pytest.raises(InvalidRequestError, match="batches=BatchOffload"):
            await flow.create(**body(), batch=True)
