"""Calibrator: convergence on a 1.25x server tokenizer, robustness, clamping, stats."""

from __future__ import annotations

import random
from typing import Any

import pytest

from claudeflow import ConfigError
from claudeflow.tokens import CalibrationStats, Calibrator

MODEL = "claude-sonnet-4-6"


def simulate(calibrator: Calibrator, n: int, *, seed: int = 7, ratio: float = 1.25) -> None:
    """A server tokenizer that counts ``ratio`` x our estimate, with +/-3 % noise."""
    rng = random.Random(seed)
    for _ in range(n):
        estimated = rng.randint(200, 20_000)
        actual = round(estimated * ratio * (1 + rng.uniform(-0.03, 0.03)))
        calibrator.observe(MODEL, estimated, actual)


def test_factor_is_one_until_min_samples() -> None:
    calibrator = Calibrator(min_samples=5)
    for _ in range(4):
        calibrator.observe(MODEL, 100, 200)
    assert calibrator.factor(MODEL) == 1.0
    assert calibrator.adjust(MODEL, 1000) == 1000
    calibrator.observe(MODEL, 100, 200)
    assert calibrator.factor(MODEL) == 2.0
    assert calibrator.adjust(MODEL, 1000) == 2000


def test_unknown_model_is_uncorrected() -> None:
    assert Calibrator().factor("never-seen") == 1.0
    assert Calibrator().samples("never-seen") == 0


def test_converges_within_a_few_percent_after_50() -> None:
    calibrator = Calibrator()
    simulate(calibrator, 50)
    factor = calibrator.factor(MODEL)
    # The p90 of the ratios: just above the true 1.25, never below it by more than noise.
    assert 1.25 <= factor <= 1.25 * 1.04
    stats = calibrator.stats()[MODEL]
    assert stats.samples == 50
    assert 0.19 <= stats.raw_median_error <= 0.21  # 1 - 1/1.25 = 0.2
    assert stats.corrected_median_error <= 0.04
    assert stats.corrected_p90_error <= 0.06


@pytest.mark.parametrize(
    ("outlier_ratio"),
    [
        pytest.param(50.0, id="huge"),
        pytest.param(0.01, id="tiny"),
    ],
)
def test_outliers_are_ignored(outlier_ratio: float) -> None:
    calibrator = Calibrator()
    simulate(calibrator, 25, seed=1)
    for _ in range(4):  # 4 of 54 samples (7 %) sit above/below the p90
        calibrator.observe(MODEL, 1000, round(1000 * outlier_ratio))
    simulate(calibrator, 25, seed=2)
    assert 1.25 * 0.97 <= calibrator.factor(MODEL) <= 1.25 * 1.04


@pytest.mark.parametrize(
    ("estimated", "actual", "factor"),
    [
        pytest.param(100, 10_000, 4.0, id="clamped-high"),
        pytest.param(100, 1, 0.5, id="clamped-low"),
        pytest.param(100, 0, 0.5, id="zero-actual"),
    ],
)
def test_factor_is_clamped(estimated: int, actual: int, factor: float) -> None:
    calibrator = Calibrator(min_samples=1)
    calibrator.observe(MODEL, estimated, actual)
    assert calibrator.factor(MODEL) == factor


def test_window_forgets_old_samples() -> None:
    calibrator = Calibrator(window=10, min_samples=5)
    for _ in range(10):
        calibrator.observe(MODEL, 100, 300)
    assert calibrator.factor(MODEL) == 3.0
    for _ in range(10):
        calibrator.observe(MODEL, 100, 110)
    assert calibrator.factor(MODEL) == 1.1
    assert calibrator.samples(MODEL) == 10


def test_models_are_independent() -> None:
    calibrator = Calibrator(min_samples=1)
    calibrator.observe("a", 100, 200)
    calibrator.observe("b", 100, 100)
    assert (calibrator.factor("a"), calibrator.factor("b")) == (2.0, 1.0)


def test_adjust_does_not_round_float_noise_up() -> None:
    calibrator = Calibrator(min_samples=1)
    calibrator.observe(MODEL, 10, 13)  # factor 1.3; 10 * 1.3 = 13.000000000000002
    assert calibrator.adjust(MODEL, 10) == 13
    assert calibrator.adjust(MODEL, 11) == 15  # 14.3 rounds up


@pytest.mark.parametrize(
    ("estimated", "actual"),
    [
        pytest.param(0, 100, id="zero-estimate"),
        pytest.param(-5, 100, id="negative-estimate"),
        pytest.param(100, -1, id="negative-actual"),
    ],
)
def test_meaningless_samples_are_ignored(estimated: int, actual: int) -> None:
    calibrator = Calibrator(min_samples=1)
    calibrator.observe(MODEL, estimated, actual)
    assert calibrator.samples(MODEL) == 0
    assert calibrator.stats() == {}


def test_stats_exact() -> None:
    calibrator = Calibrator(min_samples=2, quantile=1.0)
    calibrator.observe(MODEL, 100, 100)  # raw error 0
    calibrator.observe(MODEL, 100, 200)  # raw error 0.5; factor = max ratio = 2.0
    assert calibrator.stats() == {
        MODEL: CalibrationStats(
            factor=2.0,
            samples=2,
            raw_median_error=0.25,
            raw_p90_error=0.45,
            corrected_median_error=0.5,  # corrected: 200 vs 100 -> 1.0, 200 vs 200 -> 0.0
            corrected_p90_error=0.9,
        )
    }


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        pytest.param({"window": 0}, "window", id="window-zero"),
        pytest.param({"window": 2.5}, "window", id="window-float"),
        pytest.param({"quantile": 0}, "quantile", id="quantile-zero"),
        pytest.param({"quantile": 1.5}, "quantile", id="quantile-above-one"),
        pytest.param({"min_samples": 0}, "min_samples", id="min-samples-zero"),
        pytest.param({"window": 3, "min_samples": 4}, "min_samples", id="min-above-window"),
    ],
)
def test_config_errors(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ConfigError) as info:
        Calibrator(**kwargs)
    assert info.value.argument == argument
