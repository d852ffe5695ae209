"""Daily and monthly quotas: worst case at admission, settled, persisted, reset by period."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from claudeflow import ConfigError, Flow, Quota, QuotaExceededError, SpendPolicy, TokenCounting
from claudeflow.limiter import QuotaBook
from claudeflow.limiter._quota import QuotaCharge
from claudeflow.testing import FakeClock, message_response
from claudeflow.transport import ApiResponse, MockRequest, MockTransport

NOON = datetime(2026, 12, 1, 12, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 12, 2, tzinfo=UTC).timestamp()


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def request(text: str) -> dict[str, object]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": text}],
    }


def book(tmp_path: Path, *quotas: Quota, wall: Wall) -> QuotaBook:
    return QuotaBook(quotas, tmp_path / "q.json", wall=wall, flush_s=0)


def test_the_worst_case_in_flight_counts_until_it_settles(tmp_path: Path) -> None:
    wall = Wall(NOON)
    quotas = book(tmp_path, Quota("day", tokens=1000), wall=wall)
    worst = QuotaCharge(1, 600, 0.0)
    quotas.check("p", worst)
    quotas.reserve("p", worst)
    with pytest.raises(QuotaExceededError) as refused:
        quotas.check("p", worst)  # 600 held + 600 > 1000
    assert refused.value.resets_at == MIDNIGHT and "2026-12-02T00:00:00Z" in str(refused.value)
    quotas.settle("p", worst, QuotaCharge(1, 100, 0.0))
    quotas.check("p", worst)  # 100 used + 600 fits
    assert quotas.usage()["*/day"]["tokens"] == 100


def test_usage_survives_a_restart_and_a_new_period_starts_at_zero(tmp_path: Path) -> None:
    wall = Wall(NOON)
    quota = Quota("month", requests=2, pool="claude-haiku-4")
    first = book(tmp_path, quota, wall=wall)
    for _ in range(2):
        first.reserve("claude-haiku-4", QuotaCharge(1, 0, 0))
        first.settle("claude-haiku-4", QuotaCharge(1, 0, 0), QuotaCharge(1, 0, 0))
    again = book(tmp_path, quota, wall=wall)
    with pytest.raises(QuotaExceededError, match="monthly requests quota of claude-haiku-4"):
        again.check("claude-haiku-4", QuotaCharge(1, 0, 0))
    again.check("claude-sonnet-4", QuotaCharge(1, 0, 0))  # another pool: not capped
    wall.now = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
    again.check("claude-haiku-4", QuotaCharge(1, 0, 0))
    saved = json.loads((tmp_path / "q.json").read_text())
    assert saved["claude-haiku-4/month"]["period"] == "2026-12"


def test_quotas_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^period:"):
        Quota("week", requests=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^requests:"):
        Quota("day")
    with pytest.raises(ConfigError, match=r"^usd:"):
        Quota("day", usd=-1)
    with pytest.raises(ConfigError, match=r"^quotas:"):
        QuotaBook([Quota("day", requests=1), Quota("day", tokens=5)], tmp_path / "q.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"^quota_file:"):
        QuotaBook([Quota("day", requests=1)], tmp_path / "bad.json")


async def test_a_flow_refuses_past_its_quota_and_a_new_flow_remembers(tmp_path: Path) -> None:
    clock = FakeClock()

    def ok(request: MockRequest) -> ApiResponse:
        return message_response()

    def flow() -> Flow:
        return Flow(
            api_key="sk-test",
            transport=MockTransport(ok),
            clock=clock,
            tokens=TokenCounting(calibrate=False),
            learn_limits=False,
            rng=random.Random(1),
            spend=SpendPolicy(
                quotas=[Quota("day", requests=3)], quota_file=tmp_path / "quotas.json"
            ),
        )

    async with flow() as first:
        outcomes = await asyncio.gather(
            *(first.create(**request(f"r{i}")) for i in range(5)), return_exceptions=True
        )
        assert sum(isinstance(o, QuotaExceededError) for o in outcomes) == 2
        assert first.stats().quotas["*/day"]["requests"] == 3
    async with flow() as second:
        with pytest.raises(QuotaExceededError, match="resets at"):
            await second.create(**request("again"))
