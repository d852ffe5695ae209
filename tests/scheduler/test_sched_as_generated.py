"""Output charged as generated (the 2026 OTPM rule): streamed under the hood, charged by
the deltas a step ahead, squared to the final count. Virtual time, scripted streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sched_helpers import make_flow, sse, start_message

from claudeflow import ConfigError, OutputReservation, RateLimits, TokenCounting
from claudeflow.limiter import ModelClasses
from claudeflow.limiter._redis_pool import RedisPool
from claudeflow.routing import PoolLimits
from claudeflow.scheduler import Flow
from claudeflow.scheduler._lane import Lane
from claudeflow.testing import FakeClock
from claudeflow.transport import MockRequest, MockStream, SseEvent

TEXT = ["a" * 30, "b" * 30, "c" * 30]  # 30 characters: 10 tokens at the cautious 3 a token


_START = start_message()


async def _quiet_reply(
    clock: FakeClock, seconds: float, output_tokens: int
) -> AsyncIterator[SseEvent]:
    """A stream with no deltas: ``seconds`` after its start, a final count of
    ``output_tokens``."""
    yield sse("message_start", message=_START)
    await clock.sleep(seconds)
    yield sse(
        "message_delta",
        delta={"stop_reason": "end_turn", "stop_sequence": None},
        usage={"output_tokens": output_tokens},
    )
    yield sse("message_stop")


def _output_level(flow: Flow) -> float:
    (pool,) = flow.stats().pools.values()
    return pool.buckets["output_tokens"].level


def _scripted(flow_box: list[Flow], levels: list[float]) -> Any:
    """A stream of TEXT that records the pool's output level before each event is sent
    (so after the previous one was read), ending with a final count of 25 tokens."""

    async def events() -> AsyncIterator[SseEvent]:
        script = [
            sse("message_start", message=_START),
            sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
            *(
                sse("content_block_delta", index=0, delta={"type": "text_delta", "text": t})
                for t in TEXT
            ),
            sse("content_block_stop", index=0),
            sse(
                "message_delta",
                delta={"stop_reason": "end_turn", "stop_sequence": None},
                usage={"output_tokens": 25},
            ),
            sse("message_stop"),
        ]
        for event in script:
            levels.append(_output_level(flow_box[0]))
            yield event

    def handler(request: MockRequest) -> MockStream:
        assert request.json is not None and request.json["stream"] is True
        return MockStream(200, {}, events())

    return handler


async def test_a_plain_request_is_streamed_and_charged_as_it_is_generated(
    clock: FakeClock,
) -> None:
    levels: list[float] = []
    box: list[Flow] = []
    policy = OutputReservation(mode="as_generated", ahead=10, cushion_s=0.0, whole_up_to=50)
    flow, transport = make_flow(
        clock,
        _scripted(box, levels),
        limits=RateLimits(output_tpm=6_000),
        tokens=TokenCounting(estimator=None, calibrate=False, output_reservation=policy),
    )
    box.append(flow)
    async with flow:
        result = await flow.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert result.message.content[0].text == "".join(TEXT)
    assert transport.requests[0].json is not None and transport.requests[0].json["stream"]
    charged = [6_000 - level for level in levels]
    # Admitted holding `ahead` (10), not max_tokens (100); each delta that catches up with
    # the charge adds `ahead` more (10, 20, 30 tokens generated -> 20, 30, 40 held); the
    # final count (25) squares it, and nothing is charged after it.
    assert charged == [10, 10, 10, 20, 30, 40, 40, 25]
    assert 6_000 - _output_level(flow) == 25 == result.usage.output_tokens


def test_the_policy_reserves_ahead_and_learns_characters_per_token() -> None:
    policy = OutputReservation(mode="as_generated", ahead=16)
    # Above whole_up_to (256) it holds `ahead`; at or below it, max_tokens whole.
    assert policy.reserve("m", 4_096) == 16 and policy.reserve("m", 256) == 256
    assert policy.as_generated(257) and not policy.as_generated(256)
    assert policy.ahead == 16 and policy.cushion_s == 0.1
    assert policy.chars_per_token("m") == 3.0  # cautious until five streams finished
    for _ in range(4):
        policy.observe_text("m", 5_000, 1_000)
    assert policy.chars_per_token("m") == 3.0
    policy.observe_text("m", 5_000, 1_000)
    assert policy.chars_per_token("m") == pytest.approx(4.5)  # 0.9 of the median, 5
    assert not OutputReservation().as_generated(10_000) and OutputReservation().cushion_s == 0
    with pytest.raises(ConfigError, match="ahead"):
        OutputReservation(mode="as_generated", ahead=0)
    with pytest.raises(ConfigError, match="cushion_s"):
        OutputReservation(mode="as_generated", cushion_s=-1.0)
    with pytest.raises(ConfigError, match="as_generated"):
        OutputReservation(mode="generated")  # type: ignore[arg-type]


def test_the_cushion_raises_every_pools_output_lead_only() -> None:
    classes = ModelClasses(None)
    given = PoolLimits(RateLimits(rpm=50, lead_s=0.05), classes, min_lead_s=0.2)
    assert given.of("claude-haiku-4").leads == (0.05, 0.05, 0.2)  # type: ignore[union-attr]
    learned = PoolLimits(None, classes, min_lead_s=0.2).of("claude-haiku-4")
    assert learned is not None and learned.leads == (0.05, 0.05, 0.2) and learned.rpm is None
    larger = PoolLimits(RateLimits(rpm=50, output_lead_s=0.5), classes, min_lead_s=0.2)
    assert larger.of("claude-haiku-4").leads[2] == 0.5  # type: ignore[union-attr]
    assert PoolLimits(None, classes).of("claude-haiku-4") is None
    with pytest.raises(ConfigError, match="output_lead_s"):
        RateLimits(output_lead_s=-1.0)


def test_a_slow_output_refill_keeps_a_bursts_charges_ahead_in_hand() -> None:
    # 32 streams x 16 tokens ahead = 512 tokens: at 12,000 OTPM (200 a second) that is
    # 2.56 s of refill, more than the 0.1 s cushion; at 1.2M OTPM the cushion is more.
    policy = OutputReservation(mode="as_generated")
    assert policy.lead_tokens(32) == 512
    assert policy.lead_tokens(None) == 0 and OutputReservation().lead_tokens(32) == 0
    assert OutputReservation(mode="as_generated", cushion_s=0).lead_tokens(32) == 0
    classes = ModelClasses(None)

    def output_lead(limits: RateLimits | None) -> float | None:
        pools = PoolLimits(limits, classes, min_lead_s=0.1, min_lead_tokens=512)
        of = pools.of("claude-haiku-4")
        return None if of is None else of.leads[2]

    assert output_lead(RateLimits(output_tpm=12_000)) == pytest.approx(2.56)
    assert output_lead(RateLimits(output_tpm=1_200_000)) == pytest.approx(0.1)
    assert output_lead(RateLimits(output_tpm=100)) == 30.0  # at most half the window
    assert output_lead(None) == 0.1  # learned limits: the cushion only


def test_a_mode_name_where_the_object_belongs_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match=r"OutputReservation\(mode=.as_generated.\)"):
        TokenCounting(output_reservation="as_generated")  # type: ignore[arg-type]


def _timed_stream(
    clock: FakeClock, starts: list[float], output_tokens: int, *, sonnet_s: float = 1.0
) -> Any:
    """A 1-second stream (``sonnet_s`` for Sonnet) reporting ``output_tokens`` (20 for
    Sonnet); ``starts`` records when each Haiku request was sent."""

    def handler(request: MockRequest) -> MockStream:
        sonnet = request.json is not None and request.json["model"] == "claude-sonnet-4-5"
        if not sonnet:
            starts.append(clock.now())

        seconds, tokens = (sonnet_s, 20) if sonnet else (1.0, output_tokens)
        return MockStream(200, {}, _quiet_reply(clock, seconds, tokens))

    return handler


_HI = [{"role": "user", "content": "hi"}]
_HAIKU = {"model": "claude-haiku-4-5", "max_tokens": 1_000, "messages": _HI}


def _generating_flow(
    clock: FakeClock, handler: Any, *, concurrency: int, ahead: int = 10, **options: Any
) -> Flow:
    """OTPM 600 a minute (10 tokens/s back, a bucket of 600), output charged as it is
    generated with ``ahead`` tokens charged ahead, no cushion and no lead."""
    policy = OutputReservation(mode="as_generated", ahead=ahead, cushion_s=0.0, whole_up_to=50)
    flow, _ = make_flow(
        clock,
        handler,
        concurrency=concurrency,
        limits=RateLimits(output_tpm=600, lead_s=0.0),
        tokens=TokenCounting(estimator=None, calibrate=False, output_reservation=policy),
        **options,
    )
    return flow


async def _run_all(clock: FakeClock, flow: Flow, requests: int, limit: float) -> None:
    """Submit ``requests`` Haiku requests at once and run until every one has ended."""
    async with flow:
        calls = [asyncio.ensure_future(flow.create(**_HAIKU)) for _ in range(requests)]
        await clock.run_until_idle(limit=limit)
        assert all(call.done() for call in calls)
        await asyncio.gather(*calls)


async def _starts(clock: FakeClock, output_tokens: int, requests: int = 5) -> list[float]:
    """When each of ``requests`` submitted at once was sent: two in flight at most,
    10 tokens charged ahead."""
    starts: list[float] = []
    flow = _generating_flow(clock, _timed_stream(clock, starts, output_tokens), concurrency=2)
    await _run_all(clock, flow, requests, limit=1_000.0)
    return starts


async def test_the_tail_of_an_output_bound_line_goes_as_one_group(clock: FakeClock) -> None:
    # A and B go at once from a full bucket (600 - 20). At 1 s A reports 400 tokens
    # (590 - 390 = 200) and C goes at once, alone: three waited, more than may be in
    # flight. B's 400 then leave -200. Now D and E are the tail: they wait for C to end
    # (2 s: -190 - 390 = -580), then for the 20 tokens of their two charges ahead, 60 s
    # of refill, and go together at 62 s.
    starts = await _starts(clock, output_tokens=400)
    assert starts == pytest.approx([0.0, 0.0, 1.0, 62.0, 62.0])


async def test_a_line_that_output_does_not_bind_is_not_held_back(clock: FakeClock) -> None:
    # Replies of 20 tokens keep the bucket above half full: the slots bind, and each
    # request goes the moment one is free (a group would idle them).
    starts = await _starts(clock, output_tokens=20)
    assert starts == pytest.approx([0.0, 0.0, 1.0, 1.0, 2.0])


async def test_a_tail_does_not_wait_for_another_class_to_free_its_slots(
    clock: FakeClock,
) -> None:
    # A Sonnet request holds one of the two slots for 100 s. A Haiku request reports
    # 400 tokens at 1 s, leaving Haiku's bucket below half; two more Haiku requests
    # arrive then. They are all of their line, but a slot is another class's: held as
    # a group they would wait until 100 s for it. The first goes at once instead; the
    # second takes its slot when it frees at 2 s, and then waits for its 10 tokens of
    # balance (the first's 400 left -190): 21 s.
    starts: list[float] = []
    handler = _timed_stream(clock, starts, 400, sonnet_s=100.0)
    flow = _generating_flow(clock, handler, concurrency=2)
    async with flow:
        calls = [
            asyncio.ensure_future(flow.create(**{**_HAIKU, "model": "claude-sonnet-4-5"})),
            asyncio.ensure_future(flow.create(**_HAIKU)),
        ]
        await clock.run_until(1.0)
        calls += [asyncio.ensure_future(flow.create(**_HAIKU)) for _ in range(2)]
        await clock.run_until_idle(limit=1_000.0)
        await asyncio.gather(*calls)
    assert starts == pytest.approx([0.0, 1.0, 21.0])


def _scripted_replies(
    clock: FakeClock, starts: list[float], replies: list[tuple[float, int]]
) -> Any:
    """The n-th request sent streams for ``replies[n][0]`` seconds and reports
    ``replies[n][1]`` output tokens; ``starts`` records when each was sent."""

    def handler(request: MockRequest) -> MockStream:
        seconds, output_tokens = replies[len(starts)]
        starts.append(clock.now())

        return MockStream(200, {}, _quiet_reply(clock, seconds, output_tokens))

    return handler


@pytest.mark.parametrize("gathered", [True, False])
async def test_a_held_tail_keeps_its_output_ungenerated_until_the_end(
    clock: FakeClock, gathered: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two in flight at most, OTPM 600 a minute (10 tokens/s back), 10 charged ahead.
    # A (1 s, 585 tokens) and B (2 s, 300) go at 0 s. At 1 s A leaves 15 tokens: C and
    # D are the tail, and B is still out. 15 pays C alone, not both, so C is held for
    # B. At 2 s B leaves -265, and C and D go together on 20 tokens, at 30.5 s. Without
    # the rule C goes at 1 s and its 100 tokens come due at 2 s too (-365): D goes at
    # 39.5 s. Held, the group's output is still ungenerated when the line's last
    # request goes, and the line ends 9 s sooner.
    if not gathered:
        monkeypatch.setattr(Lane, "_tail_group", lambda self, job: 1)
    starts: list[float] = []
    replies = [(1.0, 585), (2.0, 300), (1.0, 100), (1.0, 100)]
    flow = _generating_flow(clock, _scripted_replies(clock, starts, replies), concurrency=2)
    await _run_all(clock, flow, 4, limit=1_000.0)
    expected = [0.0, 0.0, 30.5, 30.5] if gathered else [0.0, 0.0, 1.0, 39.5]
    assert starts == pytest.approx(expected)


async def test_a_group_no_bucket_could_hold_goes_one_by_one(clock: FakeClock) -> None:
    # 200 tokens charged ahead, a bucket of 600, four in flight at most: a tail of four
    # would need 800 at once, which the bucket never holds. Gathered, it would wait
    # for ever; it goes one by one instead, and every request ends.
    starts: list[float] = []
    flow = _generating_flow(clock, _timed_stream(clock, starts, 400), concurrency=4, ahead=200)
    await _run_all(clock, flow, 6, limit=10_000.0)
    assert len(starts) == 6


class _DegradedLink:
    """A Redis link that is down, with ``on_failure="degrade"``: the pool admits from
    its 1/N share of the last shared view (the real pool; only the link is stubbed)."""

    pid = "p1"
    mode = "degraded"

    async def run(self, *args: Any) -> Any:
        raise AssertionError("a degraded pool does not ask Redis")

    async def joined(self, pool: Any) -> None:
        return None

    def lost(self, error: BaseException) -> None:
        return None

    def unavailable(self) -> Any:
        raise AssertionError("a degraded pool admits locally")

    def grace_left(self) -> float:
        return 0.0

    def poke(self) -> None:
        return None


class _DegradedBackend:
    def pool(self, name: str, limits: Any, *, clock: Any) -> RedisPool:
        pool = RedisPool(_DegradedLink(), name, limits, clock=clock, key_ttl_s=10, head_ttl_s=10)  # type: ignore[arg-type]
        pool.processes = 2  # the last shared reply counted two processes: a half share
        return pool

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_a_group_a_degraded_share_cannot_pay_goes_one_by_one(clock: FakeClock) -> None:
    # 200 charged ahead: the shared view's bucket (600) holds a group of two, so the
    # head reserves for both; the degraded half share (300) never can. The head then
    # goes alone instead of sleeping with nothing in flight to wake it.
    starts: list[float] = []
    handler = _timed_stream(clock, starts, 100)
    flow = _generating_flow(clock, handler, concurrency=2, ahead=200, backend=_DegradedBackend())
    await _run_all(clock, flow, 2, limit=1_000.0)
    assert len(starts) == 2
