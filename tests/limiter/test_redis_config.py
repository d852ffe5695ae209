"""RedisBackend's arguments are checked at construction, naming the bad one."""

from __future__ import annotations

from typing import Any

import pytest

from claudeflow import ConfigError, RateLimits
from claudeflow._clock import LoopClock
from claudeflow.limiter._redis import RedisBackend


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"url": 6379}, "url"),
        ({"url": "http://127.0.0.1:6379"}, "url"),
        ({"url": "redis://"}, "url"),
        ({"url": "redis://127.0.0.1:notaport"}, "url"),
        ({"on_failure": "ignore"}, "on_failure"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"heartbeat_s": -1}, "heartbeat_s"),
        ({"reconnect_max_s": float("inf")}, "reconnect_max_s"),
        ({"key_ttl_s": "1h"}, "key_ttl_s"),
        ({"heartbeat_s": 10, "key_ttl_s": 20}, "key_ttl_s"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RedisBackend(**kwargs)
    assert raised.value.argument == argument


def test_a_bad_url_error_hides_its_password() -> None:
    with pytest.raises(ConfigError) as raised:
        RedisBackend("http://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("name", ["", "a{b", "a}b"])
def test_pool_names_must_not_break_the_hash_tag(name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RedisBackend().pool(name, RateLimits(rpm=10), clock=LoopClock())
    assert raised.value.argument == "name"


def test_construction_connects_to_nothing_and_reports_its_mode() -> None:
    backend = RedisBackend("redis://:pw@127.0.0.1:1/0", on_failure="degrade")
    pool = backend.pool("p", RateLimits(rpm=10), clock=LoopClock())
    assert backend.pool("p", RateLimits(rpm=10), clock=LoopClock()) is pool
    assert repr(backend) == (
        "RedisBackend('redis://:***@127.0.0.1:1/0', on_failure='degrade', mode='degraded')"
    )
    stats = pool.statistics()
    assert (stats.backend, stats.mode, stats.buckets["requests"].capacity) == (
        "redis",
        "degraded",
        10,
    )
