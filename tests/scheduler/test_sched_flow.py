"""The Flow end to end over MockTransport, in virtual time: exact instants, no sleeps."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sched_helpers import API_KEY, FixedEstimator, body, error, make_flow, name_of, ok

from claudeflow import (
    APIStatusError,
    BadRequestError,
    CapacityError,
    ConfigError,
    DeadlineExceededError,
    FlowClosedError,
    InvalidRequestError,
    OverloadedError,
    Priority,
    QueueFullError,
    QueuePolicy,
    RateLimitError,
    RateLimits,
    TokenCounting,
)
from claudeflow.retry import RetryPolicy
from claudeflow.scheduler import Flow
from claudeflow.testing import FakeClock, settle
from claudeflow.transport import ApiResponse, MockRequest, MockTransport


def slow(clock: FakeClock, seconds: float, starts: list[tuple[str, float]]) -> Any:
    async def handler(request: MockRequest) -> ApiResponse:
        starts.append((name_of(request), clock.now()))
        await clock.sleep(seconds)
        return ok(request)

    return handler


async def test_create_returns_result_with_usage_and_sends_the_body(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, ok)
    async with flow:
        result = await flow.create(**body("hi", tokens=12), temperature=0.5, top_k=3)
    assert result.text == "hello"
    assert result.message.content[0].text == "hello"
    assert result.content[0].text == "hello" and result.content[0].type == "text"
    assert (result.id, result.model, result.role) == ("msg_1", "claude-haiku-4-5", "assistant")
    assert result.stop_reason == "end_turn" and result.stop_sequence is None
    assert result.model_dump()["usage"]["input_tokens"] == 12
    assert result.usage.input_tokens == 12
    assert result.estimated_input_tokens == 12
    assert result.attempts == 1
    assert result.request_id == "req_abc"
    assert result.cost_usd is not None and result.cost_usd > 0
    sent = transport.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json["temperature"] == 0.5 and sent.json["top_k"] == 3  # passed through
    stats = flow.stats()
    assert (stats.submitted, stats.completed, stats.failed) == (1, 1, 0)
    assert stats.input_tokens == 12 and stats.output_tokens == 5


async def test_sdk_request_options_work_as_in_the_sdk(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, ok)
    async with flow:
        await flow.create(**body("a"), extra_body={"top_k": 4}, timeout=30, priority="high")
        await flow.create(**body("b"))
        with pytest.raises(InvalidRequestError, match="extra_query"):
            await flow.create(**body("c"), extra_query={"beta": "true"})
        with pytest.raises(InvalidRequestError, match="priority: expected an int or one of high"):
            await flow.create(**body("d"), priority="urgent")
        with pytest.raises(InvalidRequestError, match=r"^extra_headers: may not set the API key"):
            await flow.create(**body("e"), extra_headers={"X-Api-Key": "sk-other"})
        await flow.create(**body("f"), extra_headers={"X-Trace-Id": "t1"})
    first, second, traced = transport.requests
    assert traced.headers["x-trace-id"] == "t1" and traced.headers["x-api-key"] == API_KEY
    assert first.json["top_k"] == 4 and "extra_body" not in first.json
    assert "timeout" not in first.json and first.timeout == 30
    assert second.timeout == flow.timeouts.total
    assert API_KEY not in repr(first) and "'x-api-key': '***'" in repr(first)


async def test_rpm_spacing_is_exact_in_virtual_time(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    limits = RateLimits(rpm=60, burst=1 / 60)  # one request of capacity, one per second
    flow, _ = make_flow(clock, slow(clock, 0.0, starts), limits=limits)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body(str(i)))) for i in range(5)]
        await clock.run_until(10)
        await asyncio.gather(*tasks)
    assert [t for _, t in starts] == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])


async def test_high_priority_goes_first_and_fifo_within_class(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(clock, slow(clock, 1.0, starts), concurrency=1)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body("first"), priority=Priority.LOW))]
        await settle()
        for name, prio in [("low1", 2), ("norm", 1), ("high1", 0), ("low2", 2), ("high2", 0)]:
            tasks.append(asyncio.create_task(flow.create(**body(name), priority=prio)))
        await settle()
        await clock.run_until(20)
        await asyncio.gather(*tasks)
    assert [n for n, _ in starts] == ["first", "high1", "high2", "norm", "low1", "low2"]


async def test_large_request_at_head_is_not_overtaken_by_small_ones(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    limits = RateLimits(input_tpm=600)  # 10 tokens/s, capacity 600
    flow, _ = make_flow(clock, slow(clock, 0.0, starts), limits=limits)
    async with flow:
        first = asyncio.create_task(flow.create(**body("drain", tokens=590)))
        await settle()
        big = asyncio.create_task(flow.create(**body("big", tokens=500)))
        await settle()
        smalls = [asyncio.create_task(flow.create(**body(f"s{i}", tokens=10))) for i in range(3)]
        await clock.run_until(100)
        await asyncio.gather(first, big, *smalls)
    names = [n for n, _ in starts]
    assert names == ["drain", "big", "s0", "s1", "s2"]
    # 10 left after "drain": big needs 490 more at 10/s = 49 s, not a moment later (the
    # scripted server answers at once, so no lead is held for transit: see _transit).
    assert dict(starts)["big"] == pytest.approx(49.0)


async def test_429_pauses_everyone_and_retries_after_retry_after(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    seen: set[str] = set()

    async def handler(request: MockRequest) -> ApiResponse:
        name = name_of(request)
        starts.append((name, clock.now()))
        if name == "a" and name not in seen:
            seen.add(name)
            return error(429, "rate_limit_error", "slow down", {"retry-after": "3"})
        return ok(request)

    flow, _ = make_flow(clock, handler, concurrency=1)
    async with flow:
        a = asyncio.create_task(flow.create(**body("a")))
        await settle()
        b = asyncio.create_task(flow.create(**body("b")))
        await clock.run_until(10)
        ra, rb = await asyncio.gather(a, b)
    # b may not start during the 3 s pause; a keeps its place in line ahead of b.
    assert starts[0] == ("a", 0.0)
    assert all(t >= 3.0 for _, t in starts[1:])
    assert [n for n, _ in starts] == ["a", "a", "b"]
    assert ra.attempts == 2 and ra.retry_wait_s >= 3.0
    assert rb.attempts == 1
    assert flow.stats().rate_limited == 1 and flow.stats().retries == 1


async def test_non_retryable_error_raises_typed_error_once(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, lambda r: error(400, "invalid_request_error", "bad field"))
    async with flow:
        with pytest.raises(BadRequestError, match="bad field") as info:
            await flow.create(**body())
    assert info.value.status_code == 400 and info.value.request_id == "req_err"
    assert info.value.attempts == 1 and len(transport.requests) == 1
    assert flow.stats().failed == 1


async def test_spend_cap_429_is_not_retried(clock: FakeClock) -> None:
    def handler(request: MockRequest) -> ApiResponse:
        resp = error(429, "rate_limit_error", "You have reached your API usage limits")
        payload = resp.json()
        payload["error"]["details"] = {"error_code": "enforced_spend_limit_reached"}
        import json

        return ApiResponse(429, {"x-should-retry": "false"}, json.dumps(payload).encode())

    flow, transport = make_flow(clock, handler)
    async with flow:
        with pytest.raises(RateLimitError) as info:
            await flow.create(**body())
    assert info.value.error_code == "enforced_spend_limit_reached"
    assert len(transport.requests) == 1


async def test_request_that_can_never_fit_raises_at_once(clock: FakeClock) -> None:
    flow, transport = make_flow(clock, ok, limits=RateLimits(input_tpm=1000, output_tpm=100))
    async with flow:
        with pytest.raises(CapacityError, match="input tokens"):
            await flow.create(**body(tokens=1001))
        with pytest.raises(CapacityError, match="output tokens"):
            await flow.create(**body(max_tokens=101))
    assert transport.requests == []


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param(
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            "model",
            id="no-model",
        ),
        pytest.param(
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens",
            id="no-max-tokens",
        ),
        pytest.param(
            {"model": "m", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens",
            id="str-max-tokens",
        ),
        pytest.param({"model": "m", "max_tokens": 5, "messages": []}, "messages", id="no-messages"),
        pytest.param(
            {"model": "m", "max_tokens": 5, "messages": [{"role": "bot", "content": "x"}]},
            "role",
            id="bad-role",
        ),
        pytest.param({**body(), "stream": True}, "flow.stream", id="stream"),
    ],
)
async def test_invalid_requests_fail_before_queueing(
    clock: FakeClock, params: dict[str, Any], match: str
) -> None:
    flow, transport = make_flow(clock, ok)
    async with flow:
        with pytest.raises(InvalidRequestError, match=match):
            await flow.create(**params)
    assert transport.requests == [] and flow.stats().submitted == 0


async def test_queue_full_raises_immediately_or_waits_when_asked(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(
        clock, slow(clock, 1.0, starts), concurrency=1, queue=QueuePolicy(max_size=1)
    )
    async with flow:
        running = asyncio.create_task(flow.create(**body("running")))
        await settle()
        queued = asyncio.create_task(flow.create(**body("queued")))
        await settle()
        with pytest.raises(QueueFullError, match="queue is full"):
            await flow.create(**body("rejected"))
        waiting = asyncio.create_task(flow.create(**body("waiter"), wait_for_space=True))
        await clock.run_until(5)
        await asyncio.gather(running, queued, waiting)
    assert [n for n, _ in starts] == ["running", "queued", "waiter"]


async def test_exhausted_retries_report_every_attempt_on_the_error(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="claudeflow")
    flow, transport = make_flow(
        clock, lambda r: error(500, "api_error", "busy"), retry=RetryPolicy(max_retries=2)
    )
    async with flow:
        failing = asyncio.create_task(flow.create(**body()))
        await clock.run_until(60)
        with pytest.raises(APIStatusError) as info:
            await failing
    assert info.value.attempts == 3 == len(transport.requests)
    retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(retries) == 2 and "attempt 1 failed" in retries[0] and "busy" in retries[0]
    assert API_KEY not in caplog.text


async def test_queue_full_hint_is_when_the_head_of_the_line_can_start(clock: FakeClock) -> None:
    flow, _ = make_flow(
        clock,
        slow(clock, 0.1, []),
        limits=RateLimits(rpm=60, burst=1 / 60),
        queue=QueuePolicy(max_size=1),
    )
    async with flow:
        first = asyncio.create_task(flow.create(**body("first")))  # takes the only token
        await settle()
        queued = asyncio.create_task(flow.create(**body("queued")))  # next token in 1 s
        await clock.advance(0.25)
        with pytest.raises(QueueFullError) as info:
            await flow.create(**body("rejected"))
        await clock.run_until(5)
        await asyncio.gather(first, queued)
    assert info.value.retry_after == pytest.approx(0.75)


async def test_queue_timeout_fails_at_the_deadline_and_releases_everything(
    clock: FakeClock,
) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(clock, slow(clock, 10.0, starts), concurrency=1)
    async with flow:
        busy = asyncio.create_task(flow.create(**body("busy")))
        await settle()
        late = asyncio.create_task(flow.create(**body("late"), queue_timeout=2.5))
        await clock.run_until(2.5)
        assert late.done()
        with pytest.raises(DeadlineExceededError, match="queue timeout"):
            late.result()
        assert flow.stats().queued == 0
        await clock.run_until(20)
        await busy
    assert [n for n, _ in starts] == ["busy"]
    assert flow.stats().in_flight == 0


async def test_cancelling_a_queued_caller_consumes_nothing(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    limits = RateLimits(rpm=10, input_tpm=1000, output_tpm=1000)
    flow, _ = make_flow(clock, slow(clock, 1.0, starts), limits=limits, concurrency=1)
    async with flow:
        busy = asyncio.create_task(flow.create(**body("busy")))
        await settle()
        before = {k: v.level for k, v in flow.stats().buckets.items()}
        waiting = asyncio.create_task(flow.create(**body("gone", tokens=500)))
        await settle()
        waiting.cancel()
        await settle()
        after = {k: v.level for k, v in flow.stats().buckets.items()}
        assert after == before
        await clock.run_until(5)
        await busy
    assert [n for n, _ in starts] == ["busy"]
    assert flow.stats().cancelled == 1 and flow.stats().queued == 0


async def test_cancelling_in_flight_frees_the_slot_and_refunds_output(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    limits = RateLimits(output_tpm=1000)
    flow, _ = make_flow(clock, slow(clock, 100.0, starts), limits=limits, concurrency=1)
    async with flow:
        call = asyncio.create_task(flow.create(**body("a", max_tokens=400)))
        await settle()
        assert flow.stats().in_flight == 1
        assert flow.stats().buckets["output_tokens"].level == 600
        call.cancel()
        await settle()
        assert flow.stats().in_flight == 0
        assert flow.stats().buckets["output_tokens"].level == 1000
        follow = asyncio.create_task(flow.create(**body("b")))
        await settle()
        assert [n for n, _ in starts] == ["a", "b"]
        await clock.run_until(200)
        await follow


async def test_queued_request_that_learned_limits_cannot_fit_fails_not_blocks(
    clock: FakeClock,
) -> None:
    headers = {
        "anthropic-ratelimit-output-tokens-limit": "1000",
        "anthropic-ratelimit-output-tokens-remaining": "1000",
        "anthropic-ratelimit-output-tokens-reset": "1970-01-01T00:00:00Z",
    }

    async def handler(request: MockRequest) -> ApiResponse:
        await clock.sleep(1.0)
        return ok(request, headers=headers)

    flow, transport = make_flow(clock, handler, learn_limits=True, concurrency=8)
    async with flow:
        names = ["probe", "huge", "after"]
        sizes = {"huge": 50_000}
        tasks = [
            asyncio.create_task(flow.create(**body(n, max_tokens=sizes.get(n, 5)))) for n in names
        ]
        await clock.run_until(5)
        probe, huge, after = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(huge, CapacityError) and "50,000 output tokens" in str(huge)
    assert not isinstance(after, BaseException) and not isinstance(probe, BaseException)
    assert [name_of(r) for r in transport.requests] == ["probe", "after"]


async def test_close_drains_queued_work_by_default(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, transport = make_flow(clock, slow(clock, 1.0, starts), concurrency=1)
    await flow.start()
    tasks = [asyncio.create_task(flow.create(**body(str(i)))) for i in range(3)]
    await settle()
    closing = asyncio.create_task(flow.aclose())
    await settle()
    with pytest.raises(FlowClosedError):
        await flow.create(**body("too late"))
    await clock.run_until(10)
    await closing
    results = await asyncio.gather(*tasks)
    assert len(results) == 3 and len(starts) == 3
    assert transport.closed is False  # a transport we were given is the caller's to close


async def test_close_with_cancel_ends_every_request_with_flow_closed(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(clock, slow(clock, 5.0, starts), concurrency=1)
    await flow.start()
    tasks = [asyncio.create_task(flow.create(**body(str(i)))) for i in range(3)]
    await settle()
    await flow.aclose(cancel=True)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(o, FlowClosedError) for o in outcomes)
    assert flow.stats().in_flight == 0 and flow.stats().queued == 0


async def test_close_with_cancel_ends_jobs_whose_task_had_not_started_yet() -> None:
    async def handler(request: MockRequest) -> ApiResponse:
        await asyncio.sleep(0)
        return ok(request)

    flow = Flow(
        api_key=API_KEY,
        transport=MockTransport(handler),
        tokens=TokenCounting(estimator=FixedEstimator()),
        learn_limits=False,
        concurrency=16,
        queue=QueuePolicy(max_size=None),
    )
    await flow.start()
    tasks = [asyncio.create_task(flow.create(**body(str(i)))) for i in range(300)]
    # Step the loop one turn at a time so aclose lands while the dispatcher has just
    # launched job tasks that have not taken their first step.
    while sum(t.done() for t in tasks) < 100:  # noqa: ASYNC110
        await asyncio.sleep(0)
    await flow.aclose(cancel=True)
    _, pending = await asyncio.wait(tasks, timeout=5)
    assert not pending
    assert flow.stats().in_flight == 0
    outcomes = [t.exception() for t in tasks]
    assert all(o is None or isinstance(o, FlowClosedError) for o in outcomes)


async def test_server_headers_teach_unset_limits_after_a_single_probe(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    headers = {
        "anthropic-ratelimit-requests-limit": "120",
        "anthropic-ratelimit-requests-remaining": "119",
        "anthropic-ratelimit-requests-reset": "1970-01-01T00:00:00Z",
    }

    async def handler(request: MockRequest) -> ApiResponse:
        starts.append((name_of(request), clock.now()))
        await clock.sleep(1.0)
        return ok(request, headers=headers)

    flow, _ = make_flow(clock, handler, learn_limits=True, concurrency=8)
    async with flow:
        tasks = [asyncio.create_task(flow.create(**body(str(i)))) for i in range(4)]
        await settle()
        assert len(starts) == 1  # the probe goes alone
        await clock.run_until(1.0)
        assert len(starts) == 4  # then the rest at once
        await clock.run_until(5)
        await asyncio.gather(*tasks)
    stats = flow.stats()
    assert stats.buckets["requests"].capacity == 120 and stats.buckets["requests"].learned
    assert stats.server is not None and stats.server.requests.limit == 120


async def test_a_learned_token_bucket_starts_at_the_low_end_of_the_rounding(
    clock: FakeClock,
) -> None:
    # Token counts come rounded to the nearest thousand: 40,000 may be 39,500. Later
    # answers clamp from the top of that range, so the first must not start there.
    headers = {
        "anthropic-ratelimit-input-tokens-limit": "100000",
        "anthropic-ratelimit-input-tokens-remaining": "40000",
        "anthropic-ratelimit-input-tokens-reset": "1970-01-01T00:00:00Z",
    }
    flow, _ = make_flow(clock, lambda r: ok(r, headers=headers), learn_limits=True)
    async with flow:
        await flow.create(**body("probe"))
        learned = flow.stats().buckets["input_tokens"]
        await flow.create(**body("next"))  # 40,000 again: within the rounding, no change
        again = flow.stats().buckets["input_tokens"]
    assert learned.learned and learned.level == pytest.approx(39_500)
    assert again.level == pytest.approx(39_490)  # less the next request's 10 tokens


def test_api_key_never_shows_and_missing_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flow = Flow(api_key=API_KEY, base_url="http://127.0.0.1:1")
    assert API_KEY not in repr(flow) and API_KEY not in str(vars(flow))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"^api_key:"):
        Flow()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"concurrency": 0}, "concurrency", id="concurrency"),
        pytest.param({"queue": 100}, "queue", id="queue-int"),
        pytest.param({"tokens": "server"}, "tokens", id="tokens-str"),
        pytest.param({"spend": 5.0}, "spend", id="spend-float"),
        pytest.param({"spend": QueuePolicy()}, "spend", id="spend-wrong-policy"),
        pytest.param({"limits": {"rpm": 5}}, "limits", id="limits-dict"),
        pytest.param({"retry": 5}, "retry", id="retry-int"),
        pytest.param({"timeouts": 30}, "timeouts", id="timeouts-number"),
        pytest.param({"api_key": 123}, "api_key", id="api_key-int"),
        pytest.param({"base_url": 8765}, "base_url", id="base_url-int"),
        pytest.param(
            {"default_headers": {"Authorization": "Bearer x"}}, "default_headers", id="auth-header"
        ),
    ],
)
def test_bad_configuration_names_the_argument(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError, match=f"^{argument}:"):
        Flow(**{"api_key": API_KEY, **kwargs})


async def test_create_before_start_explains_how_to_start() -> None:
    flow = Flow(api_key=API_KEY, base_url="http://127.0.0.1:1")
    with pytest.raises(FlowClosedError, match="async with"):
        await flow.create(**body())


async def test_cancelling_during_retry_backoff_leaves_nothing_behind(clock: FakeClock) -> None:
    flow, transport = make_flow(
        clock,
        lambda r: error(529, "overloaded_error", "Overloaded"),
        limits=RateLimits(rpm=10, input_tpm=1000, output_tpm=1000),
    )
    async with flow:
        call = asyncio.create_task(flow.create(**body("a")))
        await settle()
        assert len(transport.requests) == 1 and flow.stats().in_flight == 0  # backing off
        call.cancel()
        await settle()
        stats = flow.stats()
        assert call.cancelled() and stats.cancelled == 1 and stats.queued == 0
        await clock.run_until_idle()
    assert len(transport.requests) == 1  # the cancelled job never came back


async def test_cancelling_a_caller_waiting_for_space_frees_its_turn(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []
    flow, _ = make_flow(
        clock, slow(clock, 1.0, starts), concurrency=1, queue=QueuePolicy(max_size=1)
    )
    async with flow:
        running = asyncio.create_task(flow.create(**body("running")))
        await settle()
        queued = asyncio.create_task(flow.create(**body("queued")))
        await settle()
        gone = asyncio.create_task(flow.create(**body("gone"), wait_for_space=True))
        later = asyncio.create_task(flow.create(**body("later"), wait_for_space=True))
        await settle()
        gone.cancel()
        await clock.run_until(10)
        await asyncio.gather(running, queued, later)
    assert [n for n, _ in starts] == ["running", "queued", "later"]


async def test_529s_are_bounded_in_time_not_in_attempts(clock: FakeClock) -> None:
    """The gate probes fast, so a count would give up within a second of overload; the
    limit is the back-off schedule's total instead (max_retries=2: 0.5 + 1.0 s)."""
    policy = RetryPolicy(max_retries=2)
    assert policy.patience_s == 1.5
    sent: list[float] = []

    def overloaded(request: MockRequest) -> ApiResponse:
        sent.append(clock.now())
        return error(529, "overloaded_error", "busy")

    flow, _ = make_flow(clock, overloaded, retry=policy)
    async with flow:
        failing = asyncio.create_task(flow.create(**body()))
        await clock.run_until(60)
        with pytest.raises(OverloadedError) as info:
            await failing
    assert info.value.attempts == len(sent) > 3
    # It gave up at the first 529 past 1.5 s of overload, and not before.
    assert sent[-2] - sent[0] <= 1.5 < sent[-1] - sent[0]
