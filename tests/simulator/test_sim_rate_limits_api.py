"""The Rate Limits API: served from the configuration to Admin keys, read by the SDK and
by :func:`parse_rate_limits_response`."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from sim_helpers import MODEL, body, hdrs, make_api, parse

from claudeflow import ConfigError, Flow, RateLimits
from claudeflow.simulator import BatchConfig, SimulatedAPI, parse_rate_limits_response
from claudeflow.testing._simulator import simulator

ADMIN = "sk-ant-admin01-test"
LIMITS = {"rpm": 50, "input_tpm": 30_000, "output_tpm": 8_000}


def _get(api: SimulatedAPI, **query: str) -> dict[str, Any]:
    reply = api.rate_limits(hdrs(ADMIN), query)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = parse(reply)
    return data


def _error(reply_body: bytes) -> tuple[str, str]:
    error = json.loads(reply_body)["error"]
    return error["type"], error["message"]


def test_only_an_admin_key_may_read_the_limits() -> None:
    api, _ = make_api(**LIMITS)
    missing = api.rate_limits(hdrs(key=None), {})
    assert missing.status == 401
    assert _error(missing.body)[0] == "authentication_error"
    normal = api.rate_limits(hdrs("sk-ant-api03-normal"), {})
    assert normal.status == 403
    assert _error(normal.body)[0] == "permission_error"
    assert "sk-ant-api03-normal" not in normal.body.decode()
    bearer = {"authorization": f"Bearer {ADMIN}", "anthropic-version": "2026-10-21"}
    assert api.rate_limits(bearer, {}).status == 200


def test_each_model_class_is_one_group_with_the_configured_limits() -> None:
    api, _ = make_api(**LIMITS)
    page = _get(api)
    assert page["next_page"] is None
    (sonnet,) = [e for e in page["data"] if "claude-sonnet-4-6" in e["models"]]
    assert sonnet["type"] == "rate_limit" and sonnet["id"].startswith("rl_")
    assert sonnet["group"]["type"] == "model_group"
    assert sonnet["group"]["display_name"] == "Claude Sonnet 4.x"
    assert sonnet["group"]["id"].startswith("rlg_")
    assert sonnet["models"] == ["claude-sonnet-4-6", "claude-sonnet-4-5-20250929", MODEL]
    assert sonnet["limits"] == [
        {"type": "requests_per_minute", "value": 50},
        {"type": "input_tokens_per_minute_cache_aware", "value": 30_000},
        {"type": "output_tokens_per_minute", "value": 8_000},
    ]
    # Every served model is in exactly one group.
    members = [model for entry in page["data"] for model in entry["models"]]
    assert len(members) == len(set(members)) and "claude-opus-4-5" in members


def test_the_limits_are_the_ones_the_buckets_enforce() -> None:
    api, _ = make_api(rpm=2)
    (entry,) = _get(api, model="claude-opus-4-6")["data"]
    assert entry["limits"] == [{"type": "requests_per_minute", "value": 2}]
    # Opus 4.5 shares the group, and so the bucket: the third request of the group is refused.
    assert api.messages(hdrs(), body(model="claude-opus-4-6")).status == 200
    assert api.messages(hdrs(), body(model="claude-opus-4-5")).status == 200
    assert api.messages(hdrs(), body(model="claude-opus-4-6")).status == 429
    assert "claude-opus-4-5" in entry["models"]


def test_cache_reads_counted_switch_the_input_limiter_type() -> None:
    api, _ = make_api(input_tpm=1000, count_cache_reads=True)
    entry = _get(api)["data"][0]
    assert entry["limits"] == [{"type": "input_tokens_per_minute", "value": 1000}]


def test_token_count_and_batch_pools_and_filters() -> None:
    api, _ = make_api(**LIMITS, count_tokens_rpm=100, batch=BatchConfig(rpm=10))
    token_count = _get(api, group_type="token_count")["data"]
    assert [(e["group"]["type"], e["models"], e["limits"]) for e in token_count] == [
        ("token_count", None, [{"type": "requests_per_minute", "value": 100}])
    ]
    assert [e["group"]["type"] for e in _get(api, group_type="batch")["data"]] == ["batch"]
    assert _get(api, group_type="web_search")["data"] == []
    bad = api.rate_limits(hdrs(ADMIN), {"group_type": "nope"})
    assert bad.status == 400
    unknown = api.rate_limits(hdrs(ADMIN), {"model": "claude-nope"})
    assert unknown.status == 404
    assert _error(unknown.body) == ("not_found_error", "model: claude-nope")


def test_unlimited_configuration_lists_nothing() -> None:
    api, _ = make_api()
    assert _get(api) == {"data": [], "next_page": None}


def test_pages_follow_next_page() -> None:
    api, _ = make_api(**LIMITS)
    every = _get(api)["data"]
    seen, cursor = [], None
    while True:
        page = _get(api, limit="3", **({"page": cursor} if cursor else {}))
        seen += page["data"]
        assert len(page["data"]) <= 3
        if (cursor := page["next_page"]) is None:
            break
    assert seen == every
    assert api.rate_limits(hdrs(ADMIN), {"page": "bogus"}).status == 400


def test_the_parser_reads_limits_per_model() -> None:
    api, _ = make_api(**LIMITS, minute_seconds=6, count_tokens_rpm=100)
    parsed = parse_rate_limits_response(_get(api), window_s=6)
    expected = RateLimits(rpm=50, input_tpm=30_000, output_tpm=8_000, window_s=6)
    assert parsed["claude-sonnet-4-5"] == parsed["claude-haiku-4-5-20251001"] == expected
    assert set(parsed) == {m for e in _get(api)["data"] if e["models"] for m in e["models"]}


@pytest.mark.parametrize(
    "bad",
    [None, [], {"data": "x"}, {"data": [{"type": "rate_limit"}]}, {"data": [{"group": 1}]}],
)
def test_the_parser_rejects_what_is_not_a_page(bad: Any) -> None:
    with pytest.raises(ConfigError, match="body"):
        parse_rate_limits_response(bad)


@pytest.mark.integration
async def test_the_sdk_reads_the_rate_limits_and_a_flow_can_use_them() -> None:
    async with simulator(**LIMITS, count_tokens_rpm=100) as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.url, api_key=ADMIN) as admin:
            entries = [entry async for entry in admin.organization.rate_limits.list(limit=4)]
            raw = await admin.organization.rate_limits.with_raw_response.list()
        async with anthropic.AsyncAnthropic(
            base_url=sim.url, api_key="sk-normal", max_retries=0
        ) as client:
            with pytest.raises(anthropic.PermissionDeniedError):
                await client.organization.rate_limits.list()
        limits = parse_rate_limits_response(json.loads(await raw.read()))
        async with Flow(api_key="sk-normal", base_url=sim.url, limits=limits[MODEL]) as flow:
            result = await flow.create(
                model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    model_groups = [e for e in entries if e.group.type == "model_group"]
    assert len(entries) == len(model_groups) + 1  # and the token_count group
    assert all(e.models for e in model_groups)
    sonnet = next(e for e in model_groups if e.models and MODEL in e.models)
    assert {limit.type: limit.value for limit in sonnet.limits} == {
        "requests_per_minute": 50,
        "input_tokens_per_minute_cache_aware": 30_000,
        "output_tokens_per_minute": 8_000,
    }
    assert result.usage.output_tokens > 0 and sim.stats()["by_endpoint"]["messages"] == 1
