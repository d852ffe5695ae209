"""How many output tokens to reserve for a request before it runs."""

from __future__ import annotations

from collections import deque
from typing import Literal, get_args

from .._checks import check_count, check_fraction, check_non_negative
from .._errors import ConfigError
from ._numbers import ceil_tokens
from ._numbers import quantile as quantile_of

__all__ = ["OutputReservation", "ReservationMode"]

# Characters a token until streams have taught the ratio: on the high side of the
# tokens (English runs near 4), so an estimate charges more than was generated, not less.
_CAUTIOUS_CHARS_PER_TOKEN = 3.0
# Streams that teach the ratio, and the share of it used (a margin toward charging more).
_TEXT_WINDOW = 50
_TEXT_MIN_SAMPLES = 5
_TEXT_SAFETY = 0.9

ReservationMode = Literal["max_tokens", "adaptive", "as_generated"]


class OutputReservation:
    """Per-model policy for the output tokens admission reserves (api doc §1.4).

    ``"max_tokens"`` (default) reserves the request's ``max_tokens``: always safe, but a
    generous ``max_tokens`` then starves throughput (peers §3.4). ``"adaptive"`` reserves
    what the model has actually been producing: the ``quantile`` (p95) of the last
    ``window`` observed ``output_tokens``, plus ``margin``, never below ``floor`` and
    never above ``max_tokens``. Until ``min_samples`` outputs are seen it reserves
    ``max_tokens``. Settling to the real usage corrects any under-reservation afterwards.

    ``"as_generated"`` is for servers that count output as it is generated (the 2026
    rule, api doc §1.4): a request whose ``max_tokens`` is above ``whole_up_to`` is
    streamed (a plain one under the hood, still returned whole), reserves ``ahead``
    tokens when admitted, and is charged ``ahead`` more each time its stream has produced
    what it holds, so capacity is never held for tokens that were not generated. A
    smaller ``max_tokens`` is reserved whole: streaming it would cost more than it frees.
    A stream's tokens reach us a moment after the server counts them, so every pool keeps
    ``cushion_s`` of refill in hand (it raises :class:`~claudeflow.RateLimits` ``lead_s``
    to that), and at least the charges ahead of as many streams as the Flow lets out at
    once (:meth:`lead_tokens`; for a configured output limit). A line's last requests
    (no more than the Flow's ``concurrency``) go as one group once the balance covers
    all their charges ahead, and wait for room together while the requests out drain
    it: the line then ends as soon as the balance has paid for what came before them
    (the scheduler's lane has the conditions).
    Against a server that still reserves ``max_tokens`` this mode admits more than the
    server allows, and its 429s say so.

    :param mode: ``"max_tokens"``, ``"adaptive"`` or ``"as_generated"``
    :param quantile: quantile of observed outputs to reserve, in (0, 1]
    :param margin: fraction added on top of that quantile
    :param floor: smallest adaptive reservation
    :param window: outputs remembered per model
    :param min_samples: outputs needed before adapting (<= ``window``)
    :param ahead: ``as_generated``: tokens charged ahead of a stream's output
    :param cushion_s: ``as_generated``: seconds of refill every pool keeps in hand (0:
        no cushion, not even :meth:`lead_tokens`)
    :param whole_up_to: ``as_generated``: the largest ``max_tokens`` reserved whole
    :raises ConfigError: on a bad argument

    >>> policy = OutputReservation(mode="adaptive", min_samples=1, floor=1, margin=0.0)
    >>> policy.observe("claude-haiku-4-5", 300)
    >>> policy.reserve("claude-haiku-4-5", max_tokens=4096)
    300
    """

    __slots__ = (
        "_ahead",
        "_cushion_s",
        "_floor",
        "_margin",
        "_min_samples",
        "_mode",
        "_outputs",
        "_quantile",
        "_ratios",
        "_whole_up_to",
        "_window",
    )

    def __init__(
        self,
        *,
        mode: ReservationMode = "max_tokens",
        quantile: float = 0.95,
        margin: float = 0.1,
        floor: int = 256,
        window: int = 200,
        min_samples: int = 20,
        ahead: int = 16,
        cushion_s: float = 0.1,
        whole_up_to: int = 256,
    ) -> None:
        if mode not in get_args(ReservationMode):
            modes = ", ".join(repr(m) for m in get_args(ReservationMode))
            raise ConfigError("mode", f"must be one of {modes}, got {mode!r}")
        check_fraction("quantile", quantile, allow_zero=False, allow_one=True)
        check_non_negative("margin", margin)
        check_count("floor", floor, minimum=0)
        check_count("window", window)
        check_count("min_samples", min_samples)
        check_count("ahead", ahead)
        check_non_negative("cushion_s", cushion_s)
        check_count("whole_up_to", whole_up_to, minimum=0)
        if min_samples > window:
            raise ConfigError("min_samples", f"must be <= window ({window}), got {min_samples}")
        self._mode: ReservationMode = mode
        self._quantile = float(quantile)
        self._margin = float(margin)
        self._floor = floor
        self._window = window
        self._min_samples = min_samples
        self._ahead = ahead
        self._cushion_s = float(cushion_s)
        self._whole_up_to = whole_up_to
        self._outputs: dict[str, deque[int]] = {}
        self._ratios: dict[str, deque[float]] = {}

    @property
    def mode(self) -> ReservationMode:
        """``"max_tokens"``, ``"adaptive"`` or ``"as_generated"``."""
        return self._mode

    @property
    def ahead(self) -> int:
        """Tokens a stream charged as generated holds ahead of its output."""
        return self._ahead

    def as_generated(self, max_tokens: int) -> bool:
        """Whether a request with this ``max_tokens`` is charged as it is generated."""
        return self._mode == "as_generated" and max_tokens > self._whole_up_to

    @property
    def cushion_s(self) -> float:
        """Seconds of refill pools keep in hand for output not yet seen (0: none)."""
        return self._cushion_s if self._mode == "as_generated" else 0.0

    def lead_tokens(self, concurrency: int | None) -> int:
        """Output tokens pools keep in hand at least: the charges ahead of ``concurrency``
        streams (0 unless ``as_generated``, with ``cushion_s=0``, which asks for no
        cushion at all, or with no bound on requests in flight).

        A burst sent while the server's bucket is full is charged ahead here at once,
        while the server debits nothing until the first tokens: its bucket sits full,
        and the refill ours gets meanwhile, up to those charges, it never gets.
        """
        if self.cushion_s == 0 or concurrency is None:
            return 0
        return concurrency * self._ahead

    def reserve(self, model: str, max_tokens: int) -> int:
        """Output tokens to reserve for a request to ``model`` with this ``max_tokens``."""
        if max_tokens <= 0:
            return 0  # max_tokens=0 only pre-warms the cache and generates nothing
        if self._mode == "as_generated":
            return self._ahead if self.as_generated(max_tokens) else max_tokens
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

    def observe_text(self, model: str, chars: int, output_tokens: int) -> None:
        """Record that a finished stream's ``chars`` characters were ``output_tokens``."""
        if chars <= 0 or output_tokens <= 0:
            return
        ratios = self._ratios.get(model)
        if ratios is None:
            ratios = self._ratios[model] = deque(maxlen=_TEXT_WINDOW)
        ratios.append(chars / output_tokens)

    def chars_per_token(self, model: str) -> float:
        """How many characters of a stream's deltas make one output token of ``model``:
        the median of recent streams, less a margin, or a cautious 3 until 5 finished."""
        ratios = self._ratios.get(model)
        if ratios is None or len(ratios) < _TEXT_MIN_SAMPLES:
            return _CAUTIOUS_CHARS_PER_TOKEN
        return max(1.0, _TEXT_SAFETY * quantile_of(ratios, 0.5))

    def samples(self, model: str) -> int:
        """Outputs currently remembered for ``model``."""
        return len(self._outputs.get(model, ()))

    def __repr__(self) -> str:
        return (
            f"OutputReservation(mode={self._mode!r}, quantile={self._quantile!r}, "
            f"margin={self._margin!r}, floor={self._floor!r}, window={self._window!r}, "
            f"min_samples={self._min_samples!r}, ahead={self._ahead!r}, "
            f"cushion_s={self._cushion_s!r}, whole_up_to={self._whole_up_to!r})"
        )
