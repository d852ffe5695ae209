"""The memory backend and ResponseCache in virtual time: TTL, bounds, invalidation."""

from __future__ import annotations

import pytest
from cache_helpers import MODEL

from claudeflow import ConfigError
from claudeflow.cache import CacheEntry, MemoryBackend, ResponseCache
from claudeflow.testing import FakeClock


def message(text: str = "hi", model: str = MODEL) -> dict[str, object]:
    return {
        "id": "msg_1",
        "type": "message",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }


async def test_entry_is_served_until_its_ttl_and_never_at_or_after_it(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60, clock=clock)
    assert await cache.put("k", {"model": MODEL}, message(), 0.01)
    await clock.advance(59.999)
    entry = await cache.get("k")
    assert entry is not None and entry.message["content"][0]["text"] == "hi"
    await clock.advance(0.001)  # exactly the TTL: gone
    assert await cache.get("k") is None


async def test_rewriting_an_entry_restarts_its_ttl(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=10, clock=clock)
    await cache.put("k", {"model": MODEL}, message("old"), None)
    await clock.advance(8)
    await cache.put("k", {"model": MODEL}, message("new"), None)
    await clock.advance(8)
    entry = await cache.get("k")
    assert entry is not None and entry.message["content"][0]["text"] == "new"
    await clock.advance(2)
    assert await cache.get("k") is None


async def test_entry_count_bound_evicts_least_recently_used(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60, max_entries=2, clock=clock)
    for key in ("a", "b"):
        await cache.put(key, {"model": MODEL}, message(key), None)
    assert await cache.get("a") is not None  # a is now more recent than b
    await cache.put("c", {"model": MODEL}, message("c"), None)
    assert [await cache.get(k) is not None for k in "abc"] == [True, False, True]


async def test_byte_bound_evicts_and_an_oversized_answer_is_not_kept(clock: FakeClock) -> None:
    one = len(CacheEntry("a", message("x" * 100), None, frozenset({MODEL}), 0.0).encode())
    backend = MemoryBackend(ttl_s=60, max_entries=100, max_bytes=2 * one + 10, timer=clock.now)
    cache = ResponseCache(ttl_s=60, clock=clock)
    cache._backend = backend  # same cache, tiny byte bound
    for key in "abc":
        assert await cache.put(key, {"model": MODEL}, message("x" * 100), None)
    entries, size = backend.size
    assert entries == 2 and size <= 2 * one + 10
    assert await cache.get("a") is None
    assert not await cache.put("big", {"model": MODEL}, message("x" * 10_000), None)
    assert await cache.get("big") is None


async def test_invalidation_by_key_tag_predicate_and_all(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60, clock=clock, tags=lambda b: [f"user:{b.get('user')}"])
    await cache.put("k1", {"model": MODEL, "user": 1}, message("one"), None)
    await cache.put("k2", {"model": MODEL, "user": 2}, message("two"), None)
    await cache.put("k3", {"model": "claude-sonnet-4-5", "user": 2}, message("three"), None)
    await cache.put("k4", {"model": MODEL, "user": 4}, message("four"), None)
    assert await cache.invalidate("k1") is True
    assert await cache.invalidate("k1") is False
    assert await cache.invalidate_tag("user:2") == 2
    assert await cache.get("k2") is None and await cache.get("k3") is None
    await cache.put("k5", {"model": MODEL}, message("five"), None)
    assert await cache.invalidate_where(lambda e: e.message["content"][0]["text"] == "five") == 1
    assert await cache.get("k4") is not None
    assert await cache.clear() == 1
    assert await cache.get("k4") is None


async def test_tagging_by_model_is_automatic(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60, clock=clock)
    await cache.put("k", {"model": MODEL}, message(), None)
    assert await cache.invalidate_tag(MODEL) == 1


class _Broken:
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("store is down")

    async def set(self, key: str, value: bytes, *, tags: object) -> bool:
        raise ConnectionError("store is down")


async def test_a_failing_backend_is_a_miss_not_a_failure(clock: FakeClock) -> None:
    cache = ResponseCache(ttl_s=60, clock=clock)
    cache._backend = _Broken()  # type: ignore[assignment]
    assert await cache.get("k") is None
    assert await cache.put("k", {"model": MODEL}, message(), None) is False
    assert cache.errors == 2


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"ttl_s": 0}, "ttl_s"),
        ({"ttl_s": float("inf")}, "ttl_s"),
        ({"max_entries": 0}, "max_entries"),
        ({"max_bytes": 1.5}, "max_bytes"),
        ({"tags": "model"}, "tags"),
        ({"redis": object()}, "redis"),
    ],
)
def test_bad_configuration_names_the_argument(kwargs: dict[str, object], argument: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ResponseCache(**kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument
