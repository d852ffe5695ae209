"""The perfect schedule replayed against the simulator's own core, in virtual time.

Each request is sent at the instant the schedule says: the simulator must admit every
one and end it when the schedule says; the first request that had to wait, sent a
millisecond earlier, must get a 429. So the schedule is feasible and tight, by the
server's own rules (buckets, OTPM rules, latency, streaming), not by a copy of them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from claudeflow.bench._perfect import ACTUAL_HOLDBACKS, Schedule, perfect_requests, schedule
from claudeflow.bench._workload import Shape, Stream, WorkItem, Workload
from claudeflow.simulator import FaultConfig, SimulatedAPI, SimulatorConfig
from claudeflow.simulator._config import OtpmMode
from claudeflow.simulator._reply import ConnectionDropped
from claudeflow.testing import FakeClock

_MODEL = "claude-haiku-4-5"
_LAG_S = 1e-7
_HEADERS = {"x-api-key": "sk-replay", "anthropic-version": "2023-06-01"}
# Long outputs of varied size, with a trickle after a backlog: OTPM binds, and replies
# are long enough (20-100 ms) that reserved max_tokens is held across admissions.
_LONG = Shape(input_tokens=(40, 120), max_tokens=(200, 800), output_fraction=(0.3, 1.0))
_WORKLOAD = Workload((Stream(16, _LONG), Stream(8, _LONG, start_s=0.2, interval_s=0.05)))


def _config(otpm_mode: OtpmMode) -> SimulatorConfig:
    return SimulatorConfig(
        rpm=600,
        input_tpm=60_000,
        output_tpm=24_000,
        minute_seconds=6.0,
        burst=0.1,
        otpm_mode=otpm_mode,
        ttft_s=0.02,
        per_token_s=0.0001,
        seed=5,
    )


async def _replay(
    items: list[WorkItem], config: SimulatorConfig, at: list[float], *, streaming: bool
) -> tuple[list[int], list[float]]:
    """Send item ``n`` at ``at[n]``; the statuses and the instants each reply ended.

    Item ``n`` is sent ``(n + 1) * 0.1 µs`` late: the schedule lets a reply that ends at
    an instant settle before a request sent at that same instant, and the fake clock
    would wake the sender first (it went to sleep first). In this FIFO workload a
    request only ever waits for earlier ones, so a lag growing with ``n`` orders them.
    """
    clock = FakeClock()
    api = SimulatedAPI(config, clock, wall_offset=0.0)
    statuses = [0] * len(items)
    ends = [0.0] * len(items)

    async def one(n: int, item: WorkItem) -> None:
        await clock.sleep(at[n] + (n + 1) * _LAG_S)
        body = {**item.params(_MODEL), "stream": streaming}
        reply = api.messages(_HEADERS, json.dumps(body).encode())
        statuses[n] = reply.status
        if reply.status == 200 and streaming:
            async for _ in api.stream(reply):
                pass
        elif reply.status == 200:
            await api.deliver(reply)
        ends[n] = clock.now()

    tasks = [asyncio.create_task(one(n, item)) for n, item in enumerate(items)]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    return statuses, ends


@pytest.mark.parametrize(
    ("otpm_mode", "streaming"),
    [("reserve_max_tokens", False), ("actual", False), ("actual", True)],
)
async def test_the_simulator_admits_the_schedule_and_nothing_earlier(
    otpm_mode: OtpmMode, streaming: bool
) -> None:
    items = _WORKLOAD.build(seed=3)
    config = _config(otpm_mode)
    requests = perfect_requests(items, model=_MODEL, config=config)
    # The earliest-instant client: every request at the first instant the server admits it.
    plan: Schedule = schedule(requests, config, streaming=streaming, holdbacks=(0.0,))
    starts = [s if s is not None else -1.0 for s in plan.starts]
    assert plan.failed == 0 and min(starts) >= 0

    statuses, ends = await _replay(items, config, starts, streaming=streaming)
    assert statuses == [200] * len(items)
    assert ends == pytest.approx(list(plan.ends), abs=1e-5)

    waited = [n for n, item in enumerate(items) if starts[n] > item.arrival_s + 1e-3]
    assert waited, "the workload must make some request wait"
    early = list(starts)
    early[waited[0]] -= 1e-3
    statuses, _ = await _replay(items, config, early, streaming=streaming)
    assert statuses[waited[0]] == 429


@pytest.mark.parametrize("holdback", ACTUAL_HOLDBACKS)
@pytest.mark.parametrize("streaming", [False, True])
async def test_every_holdback_schedule_is_one_the_simulator_admits(
    holdback: float, streaming: bool
) -> None:
    # Under the actual rule the reported schedule is the best of these: each must be real.
    items = _WORKLOAD.build(seed=3)
    config = _config("actual")
    requests = perfect_requests(items, model=_MODEL, config=config)
    plan = schedule(requests, config, streaming=streaming, holdbacks=(holdback,))
    assert plan.holdback == holdback and plan.failed == 0
    starts = [s if s is not None else -1.0 for s in plan.starts]
    statuses, ends = await _replay(items, config, starts, streaming=streaming)
    assert statuses == [200] * len(items)
    assert ends == pytest.approx(list(plan.ends), abs=1e-5)


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_gathered_tail_is_a_schedule_the_simulator_admits(streaming: bool) -> None:
    # Six in flight at most: the line's last six wait to go as one group.
    items = _WORKLOAD.build(seed=3)
    config = _config("actual")
    requests = perfect_requests(items, model=_MODEL, config=config)
    plan = schedule(requests, config, concurrency=6, streaming=streaming, tail_groups=(True,))
    assert plan.tail_group and plan.failed == 0
    plain = schedule(requests, config, concurrency=6, streaming=streaming, tail_groups=(False,))
    assert plan.starts != plain.starts  # the rule changed the schedule
    starts = [s if s is not None else -1.0 for s in plan.starts]
    statuses, ends = await _replay(items, config, starts, streaming=streaming)
    assert statuses == [200] * len(items)
    assert ends == pytest.approx(list(plan.ends), abs=1e-5)


async def test_the_reported_schedule_is_the_best_of_the_holdbacks() -> None:
    items = _WORKLOAD.build(seed=3)
    config = _config("actual")
    requests = perfect_requests(items, model=_MODEL, config=config)
    walls = [schedule(requests, config, holdbacks=(h,)).wall_s for h in ACTUAL_HOLDBACKS]
    assert schedule(requests, config).wall_s == min(walls)
    reserve = _config("reserve_max_tokens")
    assert schedule(requests, reserve).holdback == 0.0  # the reserve rule takes what it checks


async def _replay_attempts(
    items: list[WorkItem], config: SimulatorConfig, sends: tuple[tuple[int, float], ...]
) -> tuple[list[list[str]], list[float], dict[str, int]]:
    """Send every attempt of a schedule at its instant (lagged as in :func:`_replay`).

    Returns what each item's attempts got (a status, or ``"drop"``), when each item
    ended, and the simulator's fault counts.
    """
    clock = FakeClock()
    api = SimulatedAPI(config, clock, wall_offset=0.0)
    times: dict[int, list[float]] = {}
    for index, at in sends:
        times.setdefault(index, []).append(at)
    seen: list[list[str]] = [[] for _ in items]
    ends = [0.0] * len(items)

    async def one(n: int, item: WorkItem) -> None:
        for at in times[n]:
            wait = at + (n + 1) * _LAG_S - clock.now()
            if wait > 0:
                await clock.sleep(wait)
            reply = api.messages(_HEADERS, json.dumps(item.params(_MODEL)).encode())
            if reply.status != 200:
                seen[n].append(str(reply.status))
                continue
            try:
                await api.deliver(reply)
            except ConnectionDropped:
                seen[n].append("drop")
                continue
            seen[n].append("200")
        ends[n] = clock.now()

    tasks = [asyncio.create_task(one(n, item)) for n, item in enumerate(items)]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    return seen, ends, dict(api.stats()["faults"])


async def test_faults_fall_on_the_attempts_the_schedule_expects() -> None:
    # The simulator draws each fault kind once per request that reaches it, so the
    # schedule's attempts, sent in the same order, meet the same faults: 529s and 500s
    # resent at once, dropped connections resent when they end, nothing sent during the
    # overload window.
    faults = FaultConfig(
        error_529=0.1, error_500=0.05, connection_drop=0.1, overload_window=(0.1, 0.15)
    )
    config = replace(_config("reserve_max_tokens"), faults=faults)
    items = _WORKLOAD.build(seed=3)
    plan = schedule(perfect_requests(items, model=_MODEL, config=config), config)
    assert plan.failed == 0
    assert (6, 0.15) in plan.sends  # held back by the window, sent the instant it ends

    seen, ends, counted = await _replay_attempts(items, config, plan.sends)
    assert all(got[-1] == "200" and "200" not in got[:-1] for got in seen)
    assert not any("429" in got for got in seen)
    assert sum(len(got) for got in seen) == plan.attempts
    assert ends == pytest.approx(list(plan.ends), abs=1e-5)
    assert counted["error_529"] and counted["error_500"] and counted["connection_drop"]
    assert "overload_window" not in counted
