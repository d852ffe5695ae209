"""The model catalogue: unknown models 404, per-model maxima, and the Models API."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from sim_helpers import body, hdrs, make_api, parse

from claudeflow import ConfigError
from claudeflow.simulator import KNOWN_MODELS, SimulatedAPI, SimulatorConfig
from claudeflow.testing._simulator import simulator


def _error(reply_body: bytes) -> tuple[str, str]:
    error = json.loads(reply_body)["error"]
    return error["type"], error["message"]


def _list(api: SimulatedAPI, **query: str) -> dict[str, Any]:
    reply = api.list_models(hdrs(), query)
    assert reply.status == 200, reply.body
    data: dict[str, Any] = parse(reply)
    return data


def test_an_unknown_model_is_a_404_by_default() -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), body(model="claude-nonexistent-9"))
    assert reply.status == 404
    assert _error(reply.body) == ("not_found_error", "model: claude-nonexistent-9")
    counted = api.count_tokens(
        hdrs(), json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        .encode()
    )  # fmt: skip
    assert counted.status == 404
    assert api.stats()["admitted"] == 0


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"])
def test_an_alias_and_its_dated_id_are_both_served(model: str) -> None:
    api, _ = make_api()
    reply = api.messages(hdrs(), body(model=model))
    assert reply.status == 200
    assert parse(reply)["model"] == model


def test_extra_models_are_served_and_listed() -> None:
    api, _ = make_api(extra_models=frozenset({"my-finetune"}))
    assert api.messages(hdrs(), body(model="my-finetune")).status == 200
    ids = [m["id"] for m in _list(api, limit="1000")["data"]]
    assert ids[-1] == "my-finetune"
    assert ids[: len(KNOWN_MODELS)] == [spec.id for spec in KNOWN_MODELS]


def test_models_replaces_the_catalogue() -> None:
    api, _ = make_api(models=frozenset({"claude-opus-4-6"}))
    assert api.messages(hdrs(), body(model="claude-opus-4-6")).status == 200
    assert api.messages(hdrs(), body(model="claude-sonnet-4-6")).status == 404
    assert [m["id"] for m in _list(api)["data"]] == ["claude-opus-4-6"]


def test_bad_extra_models_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="extra_models"):
        SimulatorConfig(extra_models="claude-x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "maximum"),
    [("claude-haiku-4-5", 64_000), ("claude-opus-4-6", 128_000), ("claude-sonnet-5", 128_000)],
)
def test_max_tokens_is_capped_by_the_model(model: str, maximum: int) -> None:
    api, _ = make_api()
    assert api.messages(hdrs(), body(model=model, max_tokens=maximum)).status == 200
    reply = api.messages(hdrs(), body(model=model, max_tokens=maximum + 1))
    assert reply.status == 400
    assert _error(reply.body) == (
        "invalid_request_error",
        f"max_tokens: {maximum + 1} > {maximum}, which is the maximum allowed number of "
        f"output tokens for {model}",
    )


def test_max_output_tokens_overrides_every_model() -> None:
    api, _ = make_api(max_output_tokens=100)
    assert api.messages(hdrs(), body(model="claude-opus-4-6", max_tokens=100)).status == 200
    assert api.messages(hdrs(), body(model="claude-opus-4-6", max_tokens=101)).status == 400


def test_the_context_window_is_the_model_s() -> None:
    api, _ = make_api()
    long_prompt = "word " * 250_000  # above Haiku 4.5's 200K, within Haiku 5.5's 1M
    assert api.messages(hdrs(), body(long_prompt, model="claude-haiku-5-5")).status == 200
    reply = api.messages(hdrs(), body(long_prompt, model="claude-haiku-4-5"))
    assert reply.status == 400
    assert _error(reply.body)[1].endswith(" tokens > 200000 maximum")


def test_model_list_pages_forward_and_back() -> None:
    api, _ = make_api()
    first = _list(api, limit="3")
    ids = [m["id"] for m in first["data"]]
    assert ids == [spec.id for spec in KNOWN_MODELS[:3]]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[0], ids[-1], True)
    second = _list(api, limit="3", after_id=ids[-1])
    assert [m["id"] for m in second["data"]] == [spec.id for spec in KNOWN_MODELS[3:6]]
    back = _list(api, limit="2", before_id=second["first_id"])
    assert [m["id"] for m in back["data"]] == ids[1:]
    assert back["has_more"] is True
    last = _list(api, limit="1000")
    assert last["has_more"] is False and len(last["data"]) == len(KNOWN_MODELS)


def test_model_list_rejects_a_bad_limit() -> None:
    api, _ = make_api()
    reply = api.list_models(hdrs(), {"limit": "0"})
    assert reply.status == 400
    assert _error(reply.body)[1] == "limit: Input should be an integer between 1 and 1000"


def test_retrieve_a_model_by_alias_and_a_404() -> None:
    api, _ = make_api()
    info = parse(api.retrieve_model(hdrs(), "claude-haiku-4-5"))
    assert info == {
        "type": "model",
        "id": "claude-haiku-4-5-20251001",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-10-01T00:00:00Z",
        "lifecycle": "active",
        "deprecated_at": None,
        "retires_at": None,
        "max_tokens": 64_000,
        "max_input_tokens": 200_000,
    }
    missing = api.retrieve_model(hdrs(), "claude-nope")
    assert missing.status == 404
    assert _error(missing.body) == ("not_found_error", "model: claude-nope")
    assert api.retrieve_model(hdrs(key=None), "claude-haiku-4-5").status == 401


@pytest.mark.integration
async def test_the_sdk_lists_and_retrieves_models() -> None:
    async with simulator() as sim:
        async with anthropic.AsyncAnthropic(base_url=sim.url, api_key="sk-t") as client:
            page = await client.models.list(limit=4)
            every = [model.id async for model in client.models.list(limit=5)]
            info = await client.models.retrieve("claude-sonnet-4-5")
            with pytest.raises(anthropic.NotFoundError):
                await client.models.retrieve("claude-nope")
    assert page.has_more is True and len(page.data) == 4
    assert every == [spec.id for spec in KNOWN_MODELS]  # the SDK followed every page
    assert info.id == "claude-sonnet-4-5-20250929" and info.max_tokens == 64_000
    assert info.lifecycle == "active" and info.created_at.year == 2025


@pytest.mark.integration
async def test_the_sdk_gets_a_404_for_an_unknown_model() -> None:
    async with simulator() as sim:
        async with anthropic.AsyncAnthropic(
            base_url=sim.url, api_key="sk-t", max_retries=0
        ) as client:
            with pytest.raises(anthropic.NotFoundError) as info:
                await client.messages.create(
                    model="claude-nonexistent-9",
                    max_tokens=10,
                    messages=[{"role": "user", "content": "hi"}],
                )
    assert info.value.type == "not_found_error"
    assert info.value.body["error"]["message"] == "model: claude-nonexistent-9"  # type: ignore[index]
