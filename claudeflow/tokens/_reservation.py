"""How many output tokens to reserve for a request before it runs."""

from __future__ import annotations

from collections import deque
from typing import Literal, get_args

from .._checks import check_count, check_fraction, check_non_negative
from .._errors import ConfigError
from ._numbers import ceil_tokens
from ._numbers import quantile as quantile_of

__all__ = ["OutputReservation", "ReservationMode"]

ReservationMode = Literal["max_tokens", "adaptive"]


class OutputReservation:
    """Per-model policy for the output tokens admission reserves (api doc §1.4).

    ``"max_tokens"`` (default) reserves the request's ``max_tokens``: always safe, but a
    generous ``max_tokens`` then starves throughput (peers §3.4). ``"adaptive"`` reserves
    what the model has actually been producing: the ``quantile`` (p95) of the last
    ``window`` observed ``output_tokens``, plus ``margin``, never below ``floor`` and
    never above ``max_tokens``. Until ``min_samples`` outputs are seen it reserves
    ``max_tokens``. Settling to the real usage corrects any under-reservation afterwards.

    :param mode: ``"max_tokens"`` or ``"adaptive"``
    :param quantile: quantile of observed outputs to reserve, in (0, 1]
    :param margin: fraction added on top of that quantile
    :param floor: smallest adaptive reservation
    :param window: outputs remembered per model
    :param min_samples: outputs needed before adapting (<= ``window``)
    :raises ConfigError: on a bad argument

    >>> policy = OutputReservation(mode="adaptive", min_samples=1, floor=1, margin=0.0)
    >>> policy.observe("claude-haiku-4-5", 300)
    >>> policy.reserve("claude-haiku-4-5", max_tokens=4096)
    300
    """

    __slots__ = ("_floor", "_margin", "_min_samples", "_mode", "_outputs", "_quantile", "_window")

    def __init__(
        self,
        *,
        mode: ReservationMode = "max_tokens",
        quantile: float = 0.95,
        margin: float = 0.1,
        floor: int = 256,
        window: int = 200,
        min_samples: int = 20,
    ) -> None:
        if mode not in get_args(ReservationMode):
            raise ConfigError("mode", f"must be 'max_tokens' or 'adaptive', got {mode!r}")
        check_fraction("quantile", quantile, allow_zero=False, allow_one=True)
        check_non_negative("margin", margin)
        check_count("floor", floor, minimum=0)
        check_count("window", window)
        check_count("min_samples", min_samples)
        if min_samples > window:
            raise ConfigError("min_samples", f"must be <= window ({window}), got {min_samples}")
        self._mode: ReservationMode = mode
        self._quantile = float(quantile)
        self._margin = float(margin)
        self._floor = floor
        self._window = window
        self._min_samples = min_samples
        self._outputs: dict[str, deque[int]] = {}

    @property
    def mode(self) -> ReservationMode:
        """``"max_tokens"`` or ``"adaptive"``."""
        return self._mode

    def reserve(self, model: str, max_tokens: int) -> int:
        """Output tokens to reserve for a request to ``model`` with this ``max_tokens``."""
        if max_tokens <= 0:
            return 0  # max_tokens=0 only pre-warms the cache and generates nothing
        outputs = self._outputs.get(model)
        # Too few outputs seen to trust a quantile: the safe reservation until then.
        if self._mode == "max_tokens" or outputs is None or len(outputs) < self._min_samples:
            return max_tokens
        typical = ceil_tokens(quantile_of(outputs, self._quantile) * (1.0 + self._margin))
        # The floor: a run of short answers must not leave a long one starved of room.
        return min(max_tokens, max(self._floor, typical))

    def observe(self, model: str, output_tokens: int) -> None:
        """Record the ``output_tokens`` a finished request to ``model`` produced."""
        if output_tokens < 0:
            return
        outputs = self._outputs.get(model)
        if outputs is None:
            # Bounded: the reservation follows the model's recent outputs, not all-time ones.
            outputs = self._outputs[model] = deque(maxlen=self._window)
        outputs.append(output_tokens)

    def samples(self, model: str) -> int:
        """Outputs currently remembered for ``model``."""
        return len(self._outputs.get(model, ()))

    def __repr__(self) -> str:
        return (
            f"OutputReservation(mode={self._mode!r}, quantile={self._quantile!r}, "
            f"margin={self._margin!r}, floor={self._floor!r}, window={self._window!r}, "
            f"min_samples={self._min_samples!r})"
        )
