"""The two OTPM rules (api doc §1.4), latency and settlement, in virtual time."""

from __future__ import annotations

import asyncio

import pytest
from sim_helpers import body, hdrs, iso, make_api, parse

from claudeflow.simulator import SimulatedAPI


def _output_level(api: SimulatedAPI) -> float:
    (levels,) = api.stats()["buckets"].values()
    level: float = levels["output-tokens"]
    return level


async def test_reserve_mode_debits_max_tokens_then_refunds_the_unused_part() -> None:
    # 6,000 output tokens per 6,000 s: refill 1 token/s. Latency 1 s + 10 x 0.1 s = 2 s.
    api, clock = make_api(
        output_tpm=6_000,
        minute_seconds=6_000,
        otpm_mode="reserve_max_tokens",
        ttft_s=1.0,
        per_token_s=0.1,
        round_remaining=1,
    )
    reply = api.messages(hdrs(), body(out=11, max_tokens=1_000))
    assert reply.status == 200
    assert reply.delay == pytest.approx(2.0)
    assert _output_level(api) == 5_000  # max_tokens reserved at admission
    assert api.stats()["in_flight"] == 1
    task = asyncio.create_task(api.deliver(reply))
    await clock.advance(1.999)
    assert not task.done()
    await clock.advance(0.001)
    await task
    # t=2: 5,000 + 2 refilled + 989 refunded.
    assert _output_level(api) == pytest.approx(5_991)
    assert reply.headers["anthropic-ratelimit-output-tokens-remaining"] == "5991"
    assert reply.headers["anthropic-ratelimit-output-tokens-reset"] == iso(11)  # 9 s to full
    assert api.stats()["in_flight"] == 0
    assert api.stats()["tokens"]["output"] == 11


async def test_actual_mode_debits_only_generated_tokens_as_they_are_produced() -> None:
    # A JSON reply too: the server generates it as it would a stream (4 tokens a step).
    api, clock = make_api(
        output_tpm=6_000, minute_seconds=6_000, ttft_s=1.0, per_token_s=0.1, round_remaining=1
    )
    reply = api.messages(hdrs(), body(out=11, max_tokens=1_000))
    assert _output_level(api) == 6_000  # max_tokens costs nothing
    task = asyncio.create_task(api.deliver(reply))
    await clock.advance(1.3)  # token 4 exists at ttft + 0.3 s
    assert _output_level(api) == pytest.approx(5_996)
    await clock.advance(0.7)
    await task
    # 11 debited in all; 0.7 s refilled since the bucket first dropped below full.
    assert _output_level(api) == pytest.approx(5_989.7)
    assert reply.headers["anthropic-ratelimit-output-tokens-remaining"] == "5990"
    assert api.stats()["tokens"]["output"] == 11


async def test_actual_mode_goes_into_debt_and_waits_for_a_positive_balance() -> None:
    api, clock = make_api(output_tpm=60, minute_seconds=60, round_remaining=1)  # 1 token/s
    first = api.messages(hdrs(), body(out=100, max_tokens=200))
    assert first.status == 200
    assert parse(first)["usage"]["output_tokens"] == 100
    assert _output_level(api) == -40
    assert first.headers["anthropic-ratelimit-output-tokens-remaining"] == "0"
    denied = api.messages(hdrs(), body(out=1, max_tokens=200))
    assert denied.status == 429
    assert denied.headers["retry-after"] == "41"  # debt of 40 plus the one token needed
    assert "60 output tokens per minute" in parse(denied)["error"]["message"]
    await clock.advance(41)
    assert api.messages(hdrs(), body(out=1, max_tokens=200)).status == 200


def test_reserve_mode_rejects_max_tokens_above_the_bucket_at_once() -> None:
    api, _ = make_api(output_tpm=60, otpm_mode="reserve_max_tokens")
    denied = api.messages(hdrs(), body(out=10, max_tokens=200))
    assert denied.status == 429
    assert denied.headers["x-should-retry"] == "false"


async def test_streamed_tokens_are_debited_as_they_are_produced() -> None:
    # 0.1 token/s refill; a token every second after a 1 s time to first token.
    api, clock = make_api(
        output_tpm=6_000,
        minute_seconds=60_000,
        ttft_s=1.0,
        per_token_s=1.0,
        stream_chunk_tokens=2,
        round_remaining=1,
    )
    reply = api.messages(hdrs(), body(out=6, max_tokens=100, stream=True))
    pieces: list[float] = []

    async def consume() -> None:
        pieces.extend([clock.now() async for _ in api.stream(reply)])

    task = asyncio.create_task(consume())
    await clock.advance(1.0)
    assert _output_level(api) == pytest.approx(5_998)
    await clock.advance(2.0)
    assert _output_level(api) == pytest.approx(5_996.2)
    await clock.advance(2.0)
    await task
    assert _output_level(api) == pytest.approx(5_994.4)
    assert pieces == [1.0, 3.0, 5.0]
    assert api.stats()["tokens"]["output"] == 6


async def test_disconnect_mid_stream_settles_what_was_produced() -> None:
    api, clock = make_api(
        output_tpm=6_000,
        minute_seconds=6_000_000,
        otpm_mode="reserve_max_tokens",
        ttft_s=1.0,
        per_token_s=1.0,
        stream_chunk_tokens=2,
    )
    reply = api.messages(hdrs(), body(out=6, max_tokens=100, stream=True))
    assert _output_level(api) == pytest.approx(5_900)
    stream = api.stream(reply)
    task = asyncio.create_task(anext(stream))
    await clock.advance(1.0)
    await task
    await stream.aclose()  # the client went away after the first 2 tokens
    assert _output_level(api) == pytest.approx(5_998, abs=0.01)
    assert api.stats()["tokens"]["output"] == 2
    assert api.stats()["in_flight"] == 0
