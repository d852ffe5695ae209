"""OutputReservation: max_tokens by default, adaptive p95 once enough outputs are seen."""

from __future__ import annotations

from typing import Any

import pytest

from claudeflow import ConfigError
from claudeflow.tokens import OutputReservation

MODEL = "claude-haiku-4-5"


def adaptive(**kwargs: Any) -> OutputReservation:
    options: dict[str, Any] = {"mode": "adaptive", "min_samples": 20, "floor": 0, "margin": 0.1}
    return OutputReservation(**(options | kwargs))


def feed(policy: OutputReservation, outputs: list[int], model: str = MODEL) -> None:
    for output in outputs:
        policy.observe(model, output)


def test_default_reserves_max_tokens() -> None:
    policy = OutputReservation()
    feed(policy, [10] * 100)
    assert policy.mode == "max_tokens"
    assert policy.reserve(MODEL, 4096) == 4096


def test_adaptive_falls_back_until_min_samples() -> None:
    policy = adaptive()
    feed(policy, [100] * 19)
    assert policy.reserve(MODEL, 4096) == 4096
    policy.observe(MODEL, 100)
    assert policy.reserve(MODEL, 4096) == 110  # p95 100 + 10 %


@pytest.mark.parametrize(
    ("outputs", "options", "max_tokens", "expected"),
    [
        # 1..100: p95 (linear) = 95.05; x1.1 = 104.555 -> 105
        pytest.param(list(range(1, 101)), {}, 4096, 105, id="p95-plus-margin"),
        pytest.param(list(range(1, 101)), {}, 100, 100, id="capped-by-max-tokens"),
        pytest.param([10] * 30, {"floor": 256}, 4096, 256, id="floor"),
        pytest.param([10] * 30, {"floor": 256}, 128, 128, id="max-tokens-beats-floor"),
        pytest.param([500] * 30, {"margin": 0.0}, 4096, 500, id="no-margin"),
        pytest.param([100] * 30, {}, 0, 0, id="max-tokens-zero-prewarm"),
    ],
)
def test_adaptive_reservation(
    outputs: list[int], options: dict[str, Any], max_tokens: int, expected: int
) -> None:
    policy = adaptive(**options)
    feed(policy, outputs)
    assert policy.reserve(MODEL, max_tokens) == expected


def test_adaptive_is_per_model() -> None:
    policy = adaptive()
    feed(policy, [100] * 20, model="a")
    assert policy.reserve("a", 4096) == 110
    assert policy.reserve("b", 4096) == 4096


def test_window_keeps_recent_outputs() -> None:
    policy = adaptive(window=20)
    feed(policy, [3000] * 20)
    feed(policy, [200] * 20)
    assert policy.samples(MODEL) == 20
    assert policy.reserve(MODEL, 4096) == 220


def test_negative_output_ignored() -> None:
    policy = adaptive()
    policy.observe(MODEL, -1)
    assert policy.samples(MODEL) == 0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"mode": "p95"}, "mode", id="bad-mode"),
        pytest.param({"quantile": 0.0}, "quantile", id="quantile-zero"),
        pytest.param({"margin": -0.5}, "margin", id="negative-margin"),
        pytest.param({"floor": -1}, "floor", id="negative-floor"),
        pytest.param({"window": 0}, "window", id="window-zero"),
        pytest.param({"min_samples": 0}, "min_samples", id="min-samples-zero"),
        pytest.param({"window": 5, "min_samples": 6}, "min_samples", id="min-above-window"),
    ],
)
def test_config_errors(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        OutputReservation(**kwargs)
    assert info.value.argument == argument
