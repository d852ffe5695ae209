"""The engine's config: key pool, pools, routes, quotas, cache and batches, end to end.

Parsing is checked on its own; then the real gateway built from such a config serves the
official SDK against the real simulator, and its metrics and dashboard show the pools,
the keys and the cache.
"""

from __future__ import annotations

import anthropic
import pytest
from aiohttp import ClientSession
from gw_helpers import HI, KEYS, MODEL, client_table

from claudeflow import ConfigError, RateLimits
from claudeflow.gateway import parse_config, run_gateway
from claudeflow.gateway._engine import build_engine
from claudeflow.testing import redis_server, simulator

SONNET = "claude-sonnet-4-6"
KEY_A, KEY_B = "sk-ant-pool-A-0123456789", "sk-ant-pool-B-9876543210"

ENGINE = f"""
[gateway]
port = 0

[upstream]
base_url = "SIM"
rpm = 600
redis_on_failure = "degrade"
output_reservation = "as_generated"
keys = [{{ name = "team-a", env = "GW_TEST_KEY_A" }}, {{ name = "team-b", env = "GW_TEST_KEY_B" }}]
pools = {{ "{SONNET}" = "sonnet" }}

[upstream.limits.sonnet]
rpm = 120
output_tpm = 40000

[upstream.routes]
aliases = {{ fast = "{MODEL}" }}
splits = {{ mixed = {{ "{MODEL}" = 3, "{SONNET}" = 1 }} }}
fallbacks = {{ "{SONNET}" = ["{MODEL}"] }}

[[upstream.quotas]]
period = "day"
requests = 1000

[upstream.cache]
ttl_s = 600

[upstream.batches]
linger_s = 2
"""


LINE = ENGINE.count("\n") + 2  # the second line of what _config appends


def _config(sim_url: str = "http://127.0.0.1:9", extra: str = "") -> str:
    return ENGINE.replace("SIM", sim_url) + extra + client_table("alpha", models=[MODEL])


def test_every_engine_part_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_KEY_A", KEY_A)
    monkeypatch.setenv("GW_TEST_KEY_B", KEY_B)
    upstream = parse_config(_config()).upstream
    assert [(k.name, k.env) for k in upstream.keys] == [
        ("team-a", "GW_TEST_KEY_A"), ("team-b", "GW_TEST_KEY_B"),
    ]  # fmt: skip
    assert upstream.limits["sonnet"] == RateLimits(rpm=120, output_tpm=40000)
    assert upstream.pools == {SONNET: "sonnet"}
    assert upstream.routes.splits["mixed"] == {MODEL: 3, SONNET: 1}
    assert upstream.targets("mixed") == (MODEL, SONNET) and upstream.targets("fast") == (MODEL,)
    assert upstream.quotas[0].requests == 1000 and upstream.quotas[0].period == "day"
    assert upstream.cache is not None and upstream.cache.ttl_s == 600
    assert upstream.batches is not None and upstream.batches.linger_s == 2
    assert upstream.redis_on_failure == "degrade"
    assert upstream.output_reservation == "as_generated"
    tokens = build_engine(upstream).flow.tokens
    assert tokens.output_reservation is not None
    assert tokens.output_reservation.as_generated(1_000)


@pytest.mark.parametrize(
    ("extra", "name", "line"),
    [
        ("[upstream.limits.haiku]\nrpm = -5\n", "upstream.limits.haiku.rpm", LINE),
        ('[[upstream.quotas]]\nperiod = "week"\n', "upstream.quotas[1].period", LINE),
        ('[[upstream.quotas]]\nperiod = "day"\n', "upstream.quotas[1].requests", None),
        ('[upstream.limits.x]\nburst = "a lot"\n', "upstream.limits.x.burst", LINE),
    ],
)
def test_bad_engine_values_name_the_key_and_line(extra: str, name: str, line: int | None) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(_config(extra=extra))
    assert caught.value.argument == name
    if line is not None:
        assert f"(line {line})" in str(caught.value)


@pytest.mark.parametrize(
    ("replace", "new", "name"),
    [
        ('env = "GW_TEST_KEY_B"', 'key = "sk-ant-in-the-file"', "upstream.keys[1].key"),
        ('name = "team-b"', 'name = "team-a"', "upstream.keys[1].name"),
        ("ttl_s = 600", 'backend = "redis"', "upstream.cache.backend"),
        (f'"{SONNET}" = 1 }}', f'"{SONNET}" = 0 }}', f"upstream.routes.splits.mixed.{SONNET}"),
        (
            'redis_on_failure = "degrade"',
            'redis_on_failure = "ignore"',
            "upstream.redis_on_failure",
        ),
        (
            'output_reservation = "as_generated"',
            'output_reservation = "actual"',
            "upstream.output_reservation",
        ),
    ],
)
def test_bad_engine_tables_are_refused(replace: str, new: str, name: str) -> None:
    text = _config()
    assert replace in text
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace(replace, new, 1))
    assert caught.value.argument == name
    assert "sk-ant-in-the-file" not in str(caught.value)


def test_a_key_whose_variable_is_unset_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_KEY_A", KEY_A)
    monkeypatch.delenv("GW_TEST_KEY_B", raising=False)
    with pytest.raises(ConfigError, match=r"upstream\.keys\[1\]\.env: \$GW_TEST_KEY_B is not set"):
        build_engine(parse_config(_config()).upstream)


def test_redis_url_stays_out_of_reprs() -> None:
    upstream = parse_config(_config(extra="")).upstream
    secret = parse_config(
        _config().replace("rpm = 600", 'rpm = 600\nredis = "redis://:hunter2@127.0.0.1:1/0"')
    ).upstream
    assert secret.redis == "redis://:hunter2@127.0.0.1:1/0" and upstream.redis is None
    assert "hunter2" not in repr(secret)


async def test_routes_keys_pools_and_cache_through_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GW_TEST_KEY_A", KEY_A)
    monkeypatch.setenv("GW_TEST_KEY_B", KEY_B)
    async with simulator(api_keys=frozenset({KEY_A, KEY_B})) as sim:
        config = parse_config(_config(sim.url))
        async with run_gateway(config) as gw:
            client = anthropic.AsyncAnthropic(base_url=gw.url, api_key=KEYS["alpha"], max_retries=0)
            async with client:
                # "fast" only reaches a model alpha may use; "mixed" may reach sonnet.
                first = await client.messages.create(model="fast", max_tokens=32, messages=HI)
                again = await client.messages.create(model="fast", max_tokens=32, messages=HI)
                with pytest.raises(anthropic.PermissionDeniedError):
                    await client.messages.create(model="mixed", max_tokens=32, messages=HI)
            async with ClientSession() as http:
                metrics = await (await http.get(f"{gw.url}/metrics")).text()
                board = await (await http.get(f"{gw.url}/dashboard/data")).json()
            stats = gw.gateway.flow.stats()
    assert first.model == again.model == MODEL and first.content == again.content
    assert stats.cache is not None and stats.cache.hits == 1
    assert sum(k.requests for k in stats.keys.values()) == 1  # the repeat never left
    assert "claudeflow_gateway_cache_hits_total 1.0" in metrics
    for key in ("team-a", "team-b"):
        assert f'claudeflow_gateway_key_active{{key="{key}"}} 1.0' in metrics
    pool = next(name for name in stats.pools if name.endswith("claude-haiku-4"))
    assert (
        f'claudeflow_gateway_pool_bucket_capacity{{dimension="requests",pool="{pool}"}} 600.0'
        in metrics
    )
    assert board["pools"][pool]["buckets"]["requests"][1] == 600
    assert set(board["keys"]) == {"team-a", "team-b"} and board["cache"]["hits"] == 1
    assert KEY_A not in metrics + str(board) and KEY_B not in metrics + str(board)


async def test_two_gateways_share_the_redis_cache_and_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GW_TEST_KEY_A", KEY_A)
    monkeypatch.setenv("GW_TEST_KEY_B", KEY_B)
    with redis_server() as redis:
        async with simulator(api_keys=frozenset({KEY_A, KEY_B})) as sim:
            text = (
                _config(sim.url)
                .replace("ttl_s = 600", 'ttl_s = 600\nbackend = "redis"')
                .replace('redis_on_failure = "degrade"', f'redis = "{redis.url}"')
            )
            config = parse_config(text)
            async with run_gateway(config) as one, run_gateway(config) as two:
                for gw in (one, two):
                    client = anthropic.AsyncAnthropic(
                        base_url=gw.url, api_key=KEYS["alpha"], max_retries=0
                    )
                    async with client:
                        await client.messages.create(model="fast", max_tokens=32, messages=HI)
                first, second = one.gateway.flow.stats(), two.gateway.flow.stats()
    assert sim.stats()["admitted"] == 1  # the second gateway answered from Redis
    assert second.cache is not None and second.cache.hits == 1
    assert {p.mode for p in first.pools.values()} == {"shared"}
    assert {p.backend for p in first.pools.values()} == {"redis"}
