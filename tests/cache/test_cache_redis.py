"""The Redis backend against a real redis-server: TTL by PX, tags, sharing across Flows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from cache_helpers import API_KEY, MODEL, body

from claudeflow import ConfigError, Flow
from claudeflow.cache import RedisBackend, ResponseCache
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration


def message(text: str) -> dict[str, Any]:
    return {"model": MODEL, "content": [{"type": "text", "text": text}], "usage": {}}


async def test_entries_are_hash_tagged_and_expire_on_the_server(redis_client: Any) -> None:
    cache = ResponseCache(ttl_s=30, redis=redis_client, prefix="t1")
    assert await cache.put("k", {"model": MODEL}, message("hi"), 0.5)
    keys = sorted(k.decode() for k in await redis_client.keys("*"))
    assert keys == ["{t1}:entry:k", f"{{t1}}:tag:{MODEL}"]
    assert 0 < await redis_client.pttl("{t1}:entry:k") <= 30_000
    entry = await cache.get("k")
    assert entry is not None and entry.cost_usd == 0.5 and entry.tags == {MODEL}


async def test_an_entry_is_gone_once_its_ttl_has_passed(redis_client: Any) -> None:
    cache = ResponseCache(ttl_s=0.05, redis=redis_client)
    await cache.put("k", {"model": MODEL}, message("hi"), None)
    await asyncio.sleep(0.2)  # well past the TTL; Redis expires by its own clock
    assert await cache.get("k") is None


async def test_invalidation_by_key_tag_predicate_and_all(redis_client: Any) -> None:
    cache = ResponseCache(ttl_s=60, redis=redis_client, tags=lambda b: [f"doc:{b['doc']}"])
    for key, doc in (("a", 1), ("b", 2), ("c", 2), ("d", 3), ("e", 4)):
        await cache.put(key, {"model": MODEL, "doc": doc}, message(key), None)
    assert await cache.invalidate("a") is True
    assert await cache.invalidate_tag("doc:2") == 2
    assert await cache.invalidate_where(lambda e: e.message["content"][0]["text"] == "d") == 1
    assert await cache.get("e") is not None
    other = ResponseCache(ttl_s=60, redis=redis_client, prefix="other")
    await other.put("z", {"model": MODEL}, message("z"), None)
    assert await cache.clear() == 1
    assert await cache.get("e") is None and await other.get("z") is not None


async def test_two_flows_share_answers_through_redis(redis_client: Any) -> None:
    async with simulator() as sim:
        for _ in range(2):
            cache = ResponseCache(ttl_s=60, redis=redis_client)
            async with Flow(api_key=API_KEY, base_url=sim.url, cache=cache) as flow:
                result = await flow.create(**body("shared question"))
        calls = sim.stats()["by_endpoint"]["messages"]
    assert calls == 1 and result.cache_hit
    assert "SECRET" not in str(await redis_client.keys("*"))
    for name in await redis_client.keys("*"):
        if await redis_client.type(name) == b"string":
            assert b"SECRET" not in await redis_client.get(name)  # the key never lands


def test_bad_prefix_names_the_argument() -> None:
    with pytest.raises(ConfigError) as caught:
        RedisBackend(object(), ttl_s=1, prefix="{x}")
    assert caught.value.argument == "prefix"
