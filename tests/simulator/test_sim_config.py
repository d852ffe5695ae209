"""Bad configuration fails at construction and names the argument."""

from __future__ import annotations

from typing import Any

import pytest

from claudeflow import ConfigError
from claudeflow.simulator import BatchConfig, FaultConfig, SimulatedAPI, SimulatorConfig


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rpm": 0}, "rpm"),
        ({"input_tpm": -5}, "input_tpm"),
        ({"output_tpm": float("inf")}, "output_tpm"),
        ({"minute_seconds": 0}, "minute_seconds"),
        ({"burst": 1.5}, "burst"),
        ({"otpm_mode": "sometimes"}, "otpm_mode"),
        ({"ttft_s": -1}, "ttft_s"),
        ({"per_token_s": float("nan")}, "per_token_s"),
        ({"stream_chunk_tokens": 0}, "stream_chunk_tokens"),
        ({"output_tokens_min": 10, "output_tokens_max": 5}, "output_tokens_max"),
        ({"round_remaining": 0}, "round_remaining"),
        ({"models": frozenset()}, "models"),
        ({"models": "claude-opus-4-6"}, "models"),
        ({"api_keys": frozenset({""})}, "api_keys"),
        ({"count_tokens_rpm": 0}, "count_tokens_rpm"),
        ({"faults": "none"}, "faults"),
        ({"seed": 1.5}, "seed"),
        ({"model_classes": {"claude-opus-4-6": ""}}, "model_classes"),
    ],
)
def test_simulator_config_rejects(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimulatorConfig(**kwargs)
    assert info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"error_529": 1.5}, "error_529"),
        ({"connection_drop": -0.1}, "connection_drop"),
        ({"spend_cap_after": -1}, "spend_cap_after"),
        ({"overload_window": (5.0, 5.0)}, "overload_window"),
        ({"ramp_retry_after_s": 0}, "ramp_retry_after_s"),
        ({"overload_retry_after_s": -1.0}, "overload_retry_after_s"),
    ],
)
def test_fault_config_rejects(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        FaultConfig(**kwargs)
    assert info.value.argument == argument


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"rpm": 0}, "rpm"),
        ({"max_queued_requests": 0}, "max_queued_requests"),
        ({"max_requests": 0}, "max_requests"),
        ({"request_s": -1}, "request_s"),
    ],
)
def test_batch_config_rejects(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        BatchConfig(**kwargs)
    assert info.value.argument == argument


def test_bad_api_key_entry_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        SimulatorConfig(api_keys=frozenset({"sk-good-secret", ""}))
    assert "sk-good-secret" not in str(info.value)


def test_collections_are_normalised_and_config_is_hashable() -> None:
    config = SimulatorConfig(models={"a", "b"}, api_keys=["k"], model_classes={"a": "x"})  # type: ignore[arg-type]
    assert config.models == frozenset({"a", "b"})
    assert config.api_keys == frozenset({"k"})
    assert dict(config.model_classes or {}) == {"a": "x"}
    assert hash(config) == hash(config)


def test_simulated_api_rejects_a_non_config() -> None:
    with pytest.raises(ConfigError) as info:
        SimulatedAPI({"rpm": 5})  # type: ignore[arg-type]
    assert info.value.argument == "config"


def test_faults_enabled_flag() -> None:
    assert not FaultConfig().enabled
    assert FaultConfig(error_500=0.1).enabled
    assert FaultConfig(spend_cap_after=0).enabled
    assert FaultConfig(overload_window=(0.0, 1.0)).enabled
