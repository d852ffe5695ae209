"""Pools: one set of buckets per API key and model class, as the API enforces them.

The API's limits are per model class (Haiku, Sonnet and Opus each have their own RPM,
ITPM and OTPM) and per key, so a Flow keeps one pool per (key, class) and one waiting
line per class: a Haiku request never waits behind a Sonnet head.

``limits=`` names the configured limits of each pool: one :class:`RateLimits` for every
pool, or a mapping from pool names (model classes such as ``"claude-haiku-4"``, or the
names given in ``pools=``) or exact model ids to limits, with ``"*"`` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .._clock import Clock
from .._config import RateLimits
from .._errors import ConfigError
from ..limiter import Backend, ModelClasses, PoolBuckets
from ..retry._overload import OverloadGate
from ..retry._window import WindowEstimate

if TYPE_CHECKING:
    from ._keys import KeyEntry

__all__ = ["LimitsSpec", "Pool", "PoolFactory", "PoolLimits"]

LimitsSpec = RateLimits | Mapping[str, RateLimits] | None


class PoolLimits:
    """Which configured limits apply to which pool."""

    __slots__ = ("_by_class", "_default", "classes", "min_lead_s", "min_lead_tokens")

    def __init__(
        self,
        spec: LimitsSpec,
        classes: ModelClasses,
        *,
        min_lead_s: float = 0.0,
        min_lead_tokens: int = 0,
    ) -> None:
        self.classes = classes
        # Output every pool keeps in hand, at least: seconds of refill, and tokens (as
        # seconds of a configured output limit's refill, at most half its window).
        self.min_lead_s = min_lead_s
        self.min_lead_tokens = min_lead_tokens
        self._by_class: dict[str, RateLimits] = {}
        self._default: RateLimits | None = None
        if spec is None or isinstance(spec, RateLimits):
            self._default = spec
            return
        if not isinstance(spec, Mapping):
            raise ConfigError(
                "limits", f"must be RateLimits or a mapping of them, got {type(spec).__name__}"
            )
        for name, limits in spec.items():
            if not isinstance(name, str) or not isinstance(limits, RateLimits):
                raise ConfigError("limits", f"{name!r}: each entry must map a str to RateLimits")
            if name == "*":
                self._default = limits
            else:
                # Ids and class names both land on the class: limits belong to the class's buckets.
                self._by_class[classes(name)] = limits

    @property
    def default(self) -> RateLimits | None:
        return self._default

    def of(self, model_class: str) -> RateLimits | None:
        limits = self._by_class.get(model_class, self._default)
        base = RateLimits() if limits is None else limits
        lead = self.min_lead_s
        if self.min_lead_tokens and base.output_tpm:
            rate = base.output_tpm / base.window_s
            lead = max(lead, min(self.min_lead_tokens / rate, base.window_s / 2))
        if lead > base.leads[2]:
            # A pool's learned limits start from the defaults: carry the lead there too.
            return replace(base, output_lead_s=lead)
        return limits

    @property
    def window_s(self) -> float:
        """The "minute" of the configured limits (for learned limits and token counting)."""
        # Any configured limits' window: one Flow talks to one server, with one minute.
        given = self._default or next(iter(self._by_class.values()), None)
        return (given or RateLimits()).window_s

    def all_known(self, model_class: str) -> bool:
        limits = self.of(model_class)
        return limits is not None and None not in (limits.rpm, limits.input_tpm, limits.output_tpm)


class Pool:
    """One (key, model class) pool: its buckets, and whether its limits are still unknown.

    While ``probing``, the pool sends one request at a time: nothing is known about its
    limits until the first response's headers arrive. While its ``overload`` gate is
    tripped (a 529), it also sends one at a time, as probes, until one succeeds.
    """

    __slots__ = (
        "buckets",
        "in_flight",
        "key",
        "model_class",
        "name",
        "overload",
        "probing",
        "refusal",
        "window",
    )

    def __init__(
        self, key: KeyEntry, model_class: str, buckets: PoolBuckets, *, probing: bool
    ) -> None:
        self.key = key
        self.model_class = model_class
        self.name = f"{key.name}/{model_class}"
        self.buckets = buckets
        self.probing = probing
        self.overload = OverloadGate()
        self.window = WindowEstimate()  # the server's window, for learned limits
        self.refusal: BaseException | None = None  # a 403: this key may not use the class
        self.in_flight = 0

    @property
    def can_start(self) -> bool:
        """Whether one more request may start (a probe goes alone, learning or overloaded)."""
        # A probe goes alone: a second request would meet the same unknown limit or the same 529.
        return not ((self.probing or self.overload.tripped) and self.in_flight)

    def __repr__(self) -> str:
        return f"Pool({self.name!r})"


class PoolFactory:
    """Makes a key's pool of a model class, in the Flow's backend."""

    def __init__(
        self,
        backend: Backend,
        limits: PoolLimits,
        clock: Clock,
        *,
        learn: bool,
        on_change: Callable[[str], None],
    ) -> None:
        self._backend = backend
        self._limits = limits
        self._clock = clock
        self._learn = learn
        self._on_change = on_change

    def __call__(self, key: KeyEntry, model_class: str) -> Pool:
        # Label and class: the same key and class in another process is the same shared pool.
        name = f"{key.name}/{model_class}"
        buckets = self._backend.pool(name, self._limits.of(model_class), clock=self._clock)
        # The class's line is woken: one line per model class serves every key's pool of it.
        buckets.on_change = lambda: self._on_change(model_class)
        # Some limit unknown: one request first, to read the limits from its headers.
        probing = self._learn and not self._limits.all_known(model_class)
        return Pool(key, model_class, buckets, probing=probing)
