"""QueuePolicy, TokenCounting and SpendPolicy: defaults, checks naming the field, and the
Flow that composes them (old flat keywords refused, settings read-only and applied)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from sched_helpers import API_KEY, FixedEstimator, body, make_flow, name_of, ok

import claudeflow
from claudeflow import (
    ConfigError,
    DeadlineExceededError,
    Flow,
    OutputReservation,
    PriceTable,
    QueuePolicy,
    Quota,
    SpendPolicy,
    TokenCounting,
)
from claudeflow.testing import FakeClock, settle
from claudeflow.tokens import ModelPrice
from claudeflow.transport import ApiResponse, MockRequest

OLD_KEYWORDS = [
    "max_queue",
    "aging_s",
    "queue_timeout",
    "token_counting",
    "count_tokens_rpm",
    "calibrate",
    "estimator",
    "count_cache_reads",
    "output_reservation",
    "budget_usd",
    "quotas",
    "quota_file",
    "prices",
]


def test_defaults_are_the_documented_ones() -> None:
    assert QueuePolicy() == QueuePolicy(max_size=100_000, aging_s=None, timeout=None)
    tokens = TokenCounting()
    assert (tokens.mode, tokens.count_tokens_rpm, tokens.calibrate) == ("local", 5_000, True)
    assert tokens.estimator is None and tokens.output_reservation is None
    assert tokens.count_cache_reads is False
    spend = SpendPolicy()
    assert (spend.budget_usd, spend.quotas, spend.quota_file, spend.prices) == (
        None,
        (),
        None,
        None,
    )
    assert not spend.priced


@pytest.mark.parametrize(
    ("make", "field"),
    [
        pytest.param(lambda: QueuePolicy(max_size=0), "max_size", id="max_size-0"),
        pytest.param(lambda: QueuePolicy(max_size=2.5), "max_size", id="max_size-float"),
        pytest.param(lambda: QueuePolicy(max_size=True), "max_size", id="max_size-bool"),
        pytest.param(lambda: QueuePolicy(aging_s=0), "aging_s", id="aging_s-0"),
        pytest.param(lambda: QueuePolicy(timeout=-1), "timeout", id="timeout-negative"),
        pytest.param(lambda: QueuePolicy(timeout=float("nan")), "timeout", id="timeout-nan"),
        pytest.param(lambda: TokenCounting(mode="remote"), "mode", id="mode"),  # type: ignore[arg-type]
        pytest.param(lambda: TokenCounting(count_tokens_rpm=0), "count_tokens_rpm", id="rpm-0"),
        pytest.param(
            lambda: TokenCounting(count_tokens_rpm=None),  # type: ignore[arg-type]
            "count_tokens_rpm",
            id="rpm-none",
        ),
        pytest.param(lambda: TokenCounting(calibrate=1), "calibrate", id="calibrate-int"),
        pytest.param(
            lambda: TokenCounting(count_cache_reads="no"),  # type: ignore[arg-type]
            "count_cache_reads",
            id="count_cache_reads-str",
        ),
        pytest.param(lambda: TokenCounting(estimator=len), "estimator", id="estimator-no-method"),  # type: ignore[arg-type]
        pytest.param(
            lambda: TokenCounting(mode="server", estimator=FixedEstimator()),
            "estimator",
            id="estimator-with-server",
        ),
        pytest.param(
            lambda: TokenCounting(output_reservation="adaptive"),  # type: ignore[arg-type]
            "output_reservation",
            id="reservation-str",
        ),
        pytest.param(lambda: SpendPolicy(budget_usd=-1), "budget_usd", id="budget-negative"),
        pytest.param(lambda: SpendPolicy(budget_usd="5"), "budget_usd", id="budget-str"),  # type: ignore[arg-type]
        pytest.param(
            lambda: SpendPolicy(quotas=Quota("day", requests=1)), "quotas", id="one-quota"
        ),  # type: ignore[arg-type]
        pytest.param(lambda: SpendPolicy(quotas=[None]), "quotas", id="quota-none"),  # type: ignore[list-item]
        pytest.param(
            lambda: SpendPolicy(quotas=[Quota("day", requests=1), Quota("day", usd=1.0)]),
            "quotas",
            id="quota-twice",
        ),
        pytest.param(lambda: SpendPolicy(quota_file=3), "quota_file", id="quota_file-int"),  # type: ignore[arg-type]
        pytest.param(lambda: SpendPolicy(prices={"m": 1}), "prices", id="prices-dict"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_field_is_a_config_error_naming_it(make: Any, field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}:") as caught:
        make()
    assert caught.value.argument == field


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        pytest.param(QueuePolicy(), "timeout", id="queue"),
        pytest.param(TokenCounting(), "mode", id="tokens"),
        pytest.param(SpendPolicy(), "budget_usd", id="spend"),
    ],
)
def test_policies_are_frozen(policy: Any, field: str) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(policy, field, None)
    assert not hasattr(policy, "__dict__")  # slotted


def test_quotas_are_kept_as_a_tuple_the_caller_cannot_change() -> None:
    given = [Quota("day", requests=10)]
    spend = SpendPolicy(quotas=given, budget_usd=0)
    given.append(Quota("month", usd=5.0))
    assert spend.quotas == (Quota("day", requests=10),)
    assert spend.priced  # a budget of 0 is a budget
    assert SpendPolicy(quotas=[Quota("month", usd=5.0)]).priced


def test_the_policies_show_the_facade_as_their_module_and_readable_reprs() -> None:
    for policy in (QueuePolicy, TokenCounting, SpendPolicy):
        assert policy.__module__ == "claudeflow" and policy.__name__ in claudeflow.__all__
    assert repr(QueuePolicy(max_size=5, timeout=2.0)) == (
        "QueuePolicy(max_size=5, aging_s=None, timeout=2.0)"
    )


def test_no_key_shows_in_a_flow_that_counts_tokens_on_the_server() -> None:
    # The server counter holds headers with the first key: nothing may print them.
    flow = Flow(
        api_key=API_KEY,
        base_url="http://127.0.0.1:1",
        tokens=TokenCounting(mode="server"),
        spend=SpendPolicy(budget_usd=1.0),
    )
    shown = [repr(flow), str(vars(flow)), repr(flow.tokens), repr(flow.spend), repr(flow.queue)]
    assert not any(API_KEY in text for text in shown)


@pytest.mark.parametrize("keyword", OLD_KEYWORDS)
def test_the_flow_refuses_the_old_flat_keywords(keyword: str) -> None:
    with pytest.raises(TypeError, match=keyword):
        Flow(api_key=API_KEY, **{keyword: None})


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        pytest.param("queue", {"max_size": 5}, id="queue-dict"),
        pytest.param("tokens", "server", id="tokens-str"),
        pytest.param("spend", 10.0, id="spend-number"),
        pytest.param("tokens", SpendPolicy(), id="tokens-wrong-policy"),
    ],
)
def test_a_wrong_policy_type_is_a_config_error_naming_the_keyword(
    keyword: str, value: object
) -> None:
    with pytest.raises(ConfigError, match=f"^{keyword}: must be a"):
        Flow(api_key=API_KEY, **{keyword: value})


def test_the_flow_shows_its_policies_and_they_are_read_only() -> None:
    default = Flow(api_key=API_KEY)
    assert (default.queue, default.tokens, default.spend) == (
        QueuePolicy(),
        TokenCounting(),
        SpendPolicy(),
    )
    queue = QueuePolicy(max_size=3)
    flow = Flow(api_key=API_KEY, queue=queue, concurrency=2)
    assert flow.queue is queue and flow.concurrency == 2
    with pytest.raises(AttributeError, match="fixed at construction"):
        flow.queue = QueuePolicy()  # type: ignore[misc]


async def test_the_queue_timeout_is_the_default_and_a_call_overrides_it(clock: FakeClock) -> None:
    starts: list[tuple[str, float]] = []

    async def slow(request: MockRequest) -> ApiResponse:
        starts.append((name_of(request), clock.now()))
        await clock.sleep(2.0)
        return ok(request)

    flow, _ = make_flow(clock, slow, concurrency=1, queue=QueuePolicy(timeout=1.0))
    async with flow:
        running = asyncio.create_task(flow.create(**body("running")))
        await settle()
        expires = asyncio.create_task(flow.create(**body("expires")))
        patient = asyncio.create_task(flow.create(**body("patient"), queue_timeout=None))
        await clock.run_until(10)
        await asyncio.gather(running, patient)
        with pytest.raises(DeadlineExceededError):
            await expires
    assert starts == [("running", 0.0), ("patient", 2.0)]


async def test_spend_prices_and_budget_apply(clock: FakeClock) -> None:
    # $1 per million input and output tokens: 10 in + 5 out is 15e-6 USD exactly.
    prices = PriceTable.default().with_prices({"claude-haiku-4-5": ModelPrice.standard(1.0, 1.0)})
    flow, _ = make_flow(clock, ok, spend=SpendPolicy(budget_usd=1.0, prices=prices))
    async with flow:
        result = await flow.create(**body("priced", tokens=10, max_tokens=5))
    assert result.cost_usd == pytest.approx(15e-6)
    assert flow.stats().cost_usd == pytest.approx(15e-6)


async def test_spend_quotas_live_in_the_given_file(clock: FakeClock, tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    spend = SpendPolicy(quotas=[Quota("day", requests=5)], quota_file=path)
    flow, _ = make_flow(clock, ok, spend=spend)
    async with flow:
        await flow.create(**body("counted"))
    assert path.exists() and flow.stats().quotas["*/day"]["requests"] == 1


async def test_tokens_output_reservation_is_the_one_admission_uses(clock: FakeClock) -> None:
    reservation = OutputReservation(mode="adaptive", min_samples=1, floor=1, margin=0.0)
    tokens = TokenCounting(
        estimator=FixedEstimator(), calibrate=False, output_reservation=reservation
    )
    flow, _ = make_flow(clock, ok, tokens=tokens)
    async with flow:
        first = await flow.create(**body("first", max_tokens=1000))
        second = await flow.create(**body("second", max_tokens=1000))
    assert first.reserved.output_tokens == 1000  # nothing observed yet: max_tokens
    assert second.reserved.output_tokens == 5  # what the model produced the first time
