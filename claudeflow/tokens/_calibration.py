"""Learn, per model, how far local estimates are from the server's token counts."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .._checks import check_count, check_fraction
from .._errors import ConfigError
from ._numbers import ceil_tokens
from ._numbers import quantile as quantile_of

__all__ = ["FACTOR_RANGE", "CalibrationStats", "Calibrator"]

# However wild the samples, the correction stays within these bounds: a handful of
# mis-reported or pathological requests must not make every later reservation 50x too big
# (or too small) and stall the scheduler.
FACTOR_RANGE = (0.5, 4.0)


@dataclass(frozen=True, slots=True)
class CalibrationStats:
    """How good one model's estimates are, over the calibration window.

    Errors are relative absolute errors ``|estimate - actual| / actual`` (0.05 = 5 %), of
    the raw estimate and of the estimate corrected by the current ``factor``.
    """

    factor: float
    samples: int
    raw_median_error: float
    raw_p90_error: float
    corrected_median_error: float
    corrected_p90_error: float


class Calibrator:
    """Online, per-model correction factor for input-token estimates.

    The factor is the ``quantile`` of the ``actual / estimated`` ratios of the last
    ``window`` observations. A high quantile (0.9) makes the corrected estimate err on the
    high side (a too-small reservation causes 429s, a slightly large one only idles a
    little capacity), and unlike a mean or a max it ignores the top tail, so outliers cannot
    drag it; it is also clamped to :data:`FACTOR_RANGE`. Until ``min_samples`` observations
    the factor is 1.0. Meant for one event loop; it is not thread-safe.

    :param window: observations kept per model
    :param quantile: which quantile of the ratios to use, in (0, 1]
    :param min_samples: observations needed before the factor departs from 1.0
    :raises ConfigError: on a bad argument (``min_samples`` above ``window`` included)

    >>> calibrator = Calibrator(min_samples=1)
    >>> calibrator.observe("claude-sonnet-4-6", estimated=100, actual=125)
    >>> calibrator.adjust("claude-sonnet-4-6", 1000)
    1250
    """

    __slots__ = (
        "_factors",
        "_fresh",
        "_min_samples",
        "_quantile",
        "_refresh",
        "_samples",
        "_window",
    )

    def __init__(self, *, window: int = 200, quantile: float = 0.9, min_samples: int = 5) -> None:
        check_count("window", window)
        check_fraction("quantile", quantile, allow_zero=False, allow_one=True)
        check_count("min_samples", min_samples)
        if min_samples > window:
            raise ConfigError("min_samples", f"must be <= window ({window}), got {min_samples}")
        self._window = window
        self._quantile = float(quantile)
        self._min_samples = min_samples
        self._samples: dict[str, deque[tuple[int, int]]] = {}
        # factor() runs once per request and costs a quantile over the window: cache it per
        # model and recompute after every ``_refresh`` new samples (a factor a few samples
        # old is as good an estimate, at a twentieth of the CPU).
        self._factors: dict[str, float] = {}
        self._fresh: dict[str, int] = {}  # samples seen since the cached factor was computed
        self._refresh = max(1, window // 20)

    def observe(self, model: str, estimated: int, actual: int) -> None:
        """Record one request: the local ``estimated`` input tokens and the ``actual`` count.

        ``actual`` should be the whole prompt (:attr:`Usage.total_input`). Samples with a
        non-positive estimate or a negative actual carry no ratio and are ignored.
        """
        if estimated <= 0 or actual < 0:
            return
        samples = self._samples.get(model)
        if samples is None:
            samples = self._samples[model] = deque(maxlen=self._window)
        samples.append((estimated, actual))
        fresh = self._fresh.get(model, 0) + 1
        # Up to min_samples, any sample may be the one that ends the 1.0 default.
        if fresh >= self._refresh or len(samples) <= self._min_samples:
            self._factors.pop(model, None)
            fresh = 0
        self._fresh[model] = fresh

    def factor(self, model: str) -> float:
        """The correction for ``model``: 1.0 until ``min_samples``, then the ratio quantile."""
        cached = self._factors.get(model)
        if cached is None:
            cached = self._factors[model] = self._compute_factor(model)
        return cached

    def adjust(self, model: str, estimate: int) -> int:
        """``estimate`` corrected for ``model``, rounded up."""
        return ceil_tokens(estimate * self.factor(model))

    def samples(self, model: str) -> int:
        """Observations currently held for ``model``."""
        return len(self._samples.get(model, ()))

    def stats(self) -> dict[str, CalibrationStats]:
        """Per-model factor, sample count and estimate errors."""
        return {model: self._stats(model) for model in sorted(self._samples)}

    def _compute_factor(self, model: str) -> float:
        samples = self._samples.get(model)
        if samples is None or len(samples) < self._min_samples:
            return 1.0
        ratio = quantile_of([actual / estimated for estimated, actual in samples], self._quantile)
        low, high = FACTOR_RANGE
        return min(high, max(low, ratio))

    def _stats(self, model: str) -> CalibrationStats:
        factor = self.factor(model)
        samples = self._samples[model]
        raw = [_relative_error(estimated, actual) for estimated, actual in samples]
        corrected = [
            _relative_error(ceil_tokens(estimated * factor), actual)
            for estimated, actual in samples
        ]
        return CalibrationStats(
            factor=factor,
            samples=len(samples),
            raw_median_error=_q(raw, 0.5),
            raw_p90_error=_q(raw, 0.9),
            corrected_median_error=_q(corrected, 0.5),
            corrected_p90_error=_q(corrected, 0.9),
        )

    def __repr__(self) -> str:
        return (
            f"Calibrator(window={self._window!r}, quantile={self._quantile!r}, "
            f"min_samples={self._min_samples!r})"
        )


def _relative_error(estimate: int, actual: int) -> float:
    # An actual of 0 (possible only for odd test input) must not divide by zero.
    return abs(estimate - actual) / max(actual, 1)


def _q(values: Iterable[float], q: float) -> float:
    listed = list(values)
    return quantile_of(listed, q) if listed else 0.0
