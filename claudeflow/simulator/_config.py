"""Configuration of the simulator: limits, time scale, latency, faults and batches.

All objects are frozen and validated at construction; a bad value raises
:class:`~claudeflow.ConfigError` naming the argument.

Time scale: one simulated minute lasts ``minute_seconds`` real seconds. Buckets refill
``limit`` per ``minute_seconds``, so ``retry-after`` and every ``*-reset`` header are in
real seconds of the scaled clock. The latency model (``ttft_s``, ``per_token_s``) and the
fault window are in real seconds and are *not* scaled: they describe how long the server
takes, not how much quota a minute holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from .._config import check_positive
from .._errors import ConfigError

__all__ = ["DEFAULT_LIMITS", "BatchConfig", "FaultConfig", "OtpmMode", "SimulatorConfig"]

OtpmMode = Literal["reserve_max_tokens", "actual"]
_OTPM_MODES = ("reserve_max_tokens", "actual")

#: The limits ``claudeflow simulate`` serves unless told otherwise (a high 2025 tier,
#: generous enough to be usable out of the box): ``SimulatorConfig(**DEFAULT_LIMITS)``.
DEFAULT_LIMITS: Mapping[str, float] = MappingProxyType(
    {"rpm": 4_000.0, "input_tpm": 2_000_000.0, "output_tpm": 400_000.0}
)


def _check_rate(argument: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(argument, f"must be a number, got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ConfigError(argument, f"must be a probability in [0, 1], got {value!r}")


def _check_non_negative(argument: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(argument, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(argument, f"must be a finite number >= 0, got {value!r}")


def _check_int(argument: str, value: int | None, *, minimum: int, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(argument, f"must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ConfigError(argument, f"must be >= {minimum}, got {value!r}")


def _string_set(argument: str, value: Iterable[str] | None) -> frozenset[str] | None:
    """Normalise a collection of names to a frozenset, rejecting empty names."""
    if value is None:
        return None
    if isinstance(value, str):
        raise ConfigError(argument, "must be a collection of strings, not one string")
    names = frozenset(value)
    if not names:
        raise ConfigError(argument, "must not be empty (use None for 'any')")
    if not all(isinstance(name, str) and name for name in names):
        # Never echo the values: for api_keys they are secrets.
        raise ConfigError(argument, "every entry must be a non-empty string")
    return names


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Seeded fault injection for ``POST /v1/messages``.

    Rates are per-request probabilities. Each kind draws from its own RNG seeded with
    ``f"{seed}/{kind}"`` (``kind`` being the field name) once for every request that
    passes validation, so the number of faults of one kind is reproducible for a seed.
    When several kinds fire at once the first in this order wins: overload window,
    spend cap, 529, 500, ramp 429, 504, then (after admission) mid-stream error and
    connection drop.

    :param error_529: ``overloaded_error`` (HTTP 529) before admission; consumes nothing
    :param error_500: ``api_error`` (HTTP 500) before admission; consumes nothing
    :param error_504: ``timeout_error`` (HTTP 504) after ``ttft_s``; consumes nothing
    :param stream_error: an ``event: error`` (overloaded) half-way through a stream
    :param connection_drop: the connection is closed without a (complete) response
    :param ramp_429: 429 ``ramp_limit_exceeded`` with ``retry-after: ramp_retry_after_s``
    :param spend_cap_rate: 429 ``enforced_spend_limit_reached`` without ``retry-after``
    :param spend_cap_after: every request after this many admitted ones hits the spend cap
    :param overload_window: ``(start, end)`` real seconds since start: every request 529s
    :param overload_retry_after_s: ``retry-after`` sent with 529s; whether the API sends
        one is unconfirmed, so by default (``None``) it does not
    """

    error_529: float = 0.0
    error_500: float = 0.0
    error_504: float = 0.0
    stream_error: float = 0.0
    connection_drop: float = 0.0
    ramp_429: float = 0.0
    ramp_retry_after_s: float = 1.0
    spend_cap_rate: float = 0.0
    spend_cap_after: int | None = None
    overload_window: tuple[float, float] | None = None
    overload_retry_after_s: float | None = None

    def __post_init__(self) -> None:
        for name in self.rate_names():
            _check_rate(name, getattr(self, name))
        check_positive("ramp_retry_after_s", self.ramp_retry_after_s, allow_none=False)
        check_positive("overload_retry_after_s", self.overload_retry_after_s)
        _check_int("spend_cap_after", self.spend_cap_after, minimum=0, allow_none=True)
        if self.overload_window is not None:
            start, end = self.overload_window
            _check_non_negative("overload_window", start)
            _check_non_negative("overload_window", end)
            if end <= start:
                raise ConfigError("overload_window", f"needs start < end, got {start}, {end}")

    @staticmethod
    def rate_names() -> tuple[str, ...]:
        """The probability fields, in the order their RNGs are drawn."""
        return (
            "spend_cap_rate",
            "error_529",
            "error_500",
            "ramp_429",
            "error_504",
            "stream_error",
            "connection_drop",
        )

    @property
    def enabled(self) -> bool:
        """Whether any fault can ever fire (lets the hot path skip the RNG draws)."""
        return (
            any(getattr(self, name) > 0 for name in self.rate_names())
            or self.spend_cap_after is not None
            or self.overload_window is not None
        )


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """Limits and pace of the Message Batches API (a pool separate from Messages).

    :param rpm: requests per minute over all batch endpoints, per API key
    :param max_queued_requests: cap on requests waiting in unfinished batches, per key
    :param max_requests: most requests one batch may hold (the API allows 100,000)
    :param process_rpm: pace of background processing: requests per minute
    :param process_input_tpm: pace of background processing: input tokens per minute
    :param process_output_tpm: pace of background processing: output tokens per minute
    :param request_s: real seconds spent on each request (not scaled)
    :param expiry_minutes: simulated minutes until unfinished requests expire (24 h)
    """

    rpm: float | None = None
    max_queued_requests: int | None = None
    max_requests: int = 100_000
    process_rpm: float | None = None
    process_input_tpm: float | None = None
    process_output_tpm: float | None = None
    request_s: float = 0.0
    expiry_minutes: float = 24 * 60.0

    def __post_init__(self) -> None:
        for name in ("rpm", "process_rpm", "process_input_tpm", "process_output_tpm"):
            check_positive(name, getattr(self, name))
        _check_int("max_queued_requests", self.max_queued_requests, minimum=1, allow_none=True)
        _check_int("max_requests", self.max_requests, minimum=1, allow_none=False)
        _check_non_negative("request_s", self.request_s)
        check_positive("expiry_minutes", self.expiry_minutes, allow_none=False)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulated API does, in one frozen object.

    Limits left ``None`` are unlimited (and their headers are omitted). Token buckets are
    kept per API key and model class; a model's class is ``model_classes[model]`` when
    given, else its family and major version (``claude-opus-4-6`` -> ``claude-opus-4``).

    >>> SimulatorConfig(rpm=50, input_tpm=30_000, output_tpm=8_000, minute_seconds=6).rpm
    50

    :param otpm_mode: ``"actual"`` (2026 rule: only generated tokens count, debited as
        they are produced, by a plain reply as by a stream (every ``stream_chunk_tokens``);
        admission needs a positive OTPM balance) or
        ``"reserve_max_tokens"`` (2025 rule: ``max_tokens`` is debited at admission and
        the unused part refunded at the end)
    :param count_cache_reads: count ``cache_read_input_tokens`` toward ITPM (dagger models)
    :param ttft_s: real seconds before the first token; 0 disables the wait entirely
    :param per_token_s: real seconds per output token after the first
    :param stream_chunk_tokens: output tokens per stream delta (and per debit of a plain
        reply under the ``actual`` rule)
    :param output_tokens_min: shortest reply of the default output-length model
    :param output_tokens_max: longest reply of the default output-length model; a prompt
        whose last user text contains ``[[output_tokens=N]]`` gets exactly ``N`` tokens
        (at most ``max_tokens``, with ``stop_reason: "max_tokens"`` when clamped)
    :param models: accepted model ids; ``None`` serves the built-in catalogue (the SDK's
        current models, :data:`~claudeflow.simulator.KNOWN_MODELS`); others get a 404
    :param extra_models: ids accepted (and listed by ``GET /v1/models``) in addition
    :param max_output_tokens: largest ``max_tokens`` for every model; ``None``: each
        model's own maximum (128,000 for ids outside the catalogue)
    :param context_window: longest prompt for every model; ``None``: each model's own
    :param ping_interval_s: real seconds of silence in a stream before a ``ping`` event
        (one also follows the first ``content_block_start``, as the API sends it)
    :param round_remaining: token ``remaining`` headers are rounded to this (API: 1000)
    :param cache_min_tokens: shortest prefix that prompt caching will store
    :param cache_ttl_minutes: simulated minutes a ``5m`` cache entry lives (``1h``: 60)
    :param api_keys: accepted keys; ``None`` accepts any non-empty key. Never shown.
    """

    rpm: float | None = None
    input_tpm: float | None = None
    output_tpm: float | None = None
    minute_seconds: float = 60.0
    burst: float = 1.0
    # The 2026 rule by default (api doc §1.4); "reserve_max_tokens" reproduces the 2025 one.
    otpm_mode: OtpmMode = "actual"
    count_cache_reads: bool = False
    count_tokens_rpm: float | None = None
    batch: BatchConfig = BatchConfig()
    ttft_s: float = 0.02
    per_token_s: float = 0.0005
    stream_chunk_tokens: int = 4
    seed: int = 0
    output_tokens_min: int = 16
    output_tokens_max: int = 128
    models: frozenset[str] | None = None
    extra_models: frozenset[str] = frozenset()
    api_keys: frozenset[str] | None = field(default=None, repr=False)
    model_classes: Mapping[str, str] | None = field(default=None, hash=False)
    faults: FaultConfig = FaultConfig()
    retry_after_ms: bool = False
    round_remaining: int = 1000
    # 1024: the minimum cacheable prompt of most models (the API has one per model).
    cache_min_tokens: int = 1024
    cache_ttl_minutes: float = 5.0
    max_output_tokens: int | None = None
    context_window: int | None = None
    ping_interval_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("rpm", "input_tpm", "output_tpm", "count_tokens_rpm"):
            check_positive(name, getattr(self, name))
        check_positive("minute_seconds", self.minute_seconds, allow_none=False)
        check_positive("burst", self.burst, allow_none=False)
        # At most 1: enforcement can make a burst smaller than a minute, not larger (§1.2).
        if self.burst > 1.0:
            raise ConfigError("burst", f"must be in (0, 1], got {self.burst!r}")
        if self.otpm_mode not in _OTPM_MODES:
            raise ConfigError("otpm_mode", f"must be one of {_OTPM_MODES}, got {self.otpm_mode!r}")
        _check_non_negative("ttft_s", self.ttft_s)
        _check_non_negative("per_token_s", self.per_token_s)
        check_positive("ping_interval_s", self.ping_interval_s, allow_none=False)
        self._check_ints()
        if self.output_tokens_max < self.output_tokens_min:
            raise ConfigError("output_tokens_max", "must be >= output_tokens_min")
        check_positive("cache_ttl_minutes", self.cache_ttl_minutes, allow_none=False)
        self._check_types()
        object.__setattr__(self, "models", _string_set("models", self.models))
        extra = _string_set("extra_models", self.extra_models) if self.extra_models else None
        object.__setattr__(self, "extra_models", extra or frozenset())
        # Normalised in place (frozen): any iterable given becomes the frozenset compared at auth.
        object.__setattr__(self, "api_keys", _string_set("api_keys", self.api_keys))
        if self.model_classes is not None:
            classes = dict(self.model_classes)
            if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in classes.items()):
                raise ConfigError("model_classes", "must map model ids to non-empty class names")
            object.__setattr__(self, "model_classes", MappingProxyType(classes))

    def _check_ints(self) -> None:
        _check_int("stream_chunk_tokens", self.stream_chunk_tokens, minimum=1, allow_none=False)
        _check_int("seed", self.seed, minimum=-(2**63), allow_none=False)
        _check_int("output_tokens_min", self.output_tokens_min, minimum=1, allow_none=False)
        _check_int("output_tokens_max", self.output_tokens_max, minimum=1, allow_none=False)
        _check_int("round_remaining", self.round_remaining, minimum=1, allow_none=False)
        _check_int("cache_min_tokens", self.cache_min_tokens, minimum=0, allow_none=False)
        _check_int("max_output_tokens", self.max_output_tokens, minimum=1, allow_none=True)
        _check_int("context_window", self.context_window, minimum=1, allow_none=True)

    def _check_types(self) -> None:
        if not isinstance(self.faults, FaultConfig):
            raise ConfigError("faults", f"must be a FaultConfig, got {type(self.faults).__name__}")
        if not isinstance(self.batch, BatchConfig):
            raise ConfigError("batch", f"must be a BatchConfig, got {type(self.batch).__name__}")
        if not isinstance(self.count_cache_reads, bool):
            raise ConfigError("count_cache_reads", "must be a bool")
        if not isinstance(self.retry_after_ms, bool):
            raise ConfigError("retry_after_ms", "must be a bool")

    @property
    def has_latency(self) -> bool:
        """Whether replies wait at all (with no latency the server never sleeps)."""
        return self.ttft_s > 0 or self.per_token_s > 0
