"""What a Flow builds once from its arguments and keeps across runs."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .._clock import Clock, LoopClock
from .._config import Timeouts
from ..batches import BatchOffload
from ..cache import ResponseCache
from ..limiter import Backend, MemoryBackend, ModelClasses
from ..limiter._quota import QuotaBook
from ..retry import RetryPolicy
from ..routing import ApiKey, LimitsSpec, PoolLimits, Router
from ..tokens import Calibrator, OutputReservation, PriceTable, ServerTokenCounter, TokenEstimator
from ..transport import Transport
from ..transport._base import check_headers
from ._arguments import Headers, api_keys
from ._jobs import Estimator
from ._policies import QueuePolicy, SpendPolicy, TokenCounting
from ._transports import Transports

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "Parts", "base_headers", "build_parts"]

DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
DEFAULT_API_VERSION: Final = "2023-06-01"
# Arguments a Flow keeps exactly as given.
_AS_GIVEN: Final = ("limits", "concurrency", "learn_limits", "cache", "coalesce", "batches")


@dataclass(frozen=True, slots=True)
class Parts:
    """The Flow's settings with their defaults filled in, and the parts made from them."""

    keys: list[ApiKey]  # add_key and remove_key change it in place
    base_url: str
    limits: LimitsSpec
    pool_limits: PoolLimits
    router: Router
    backend: Backend
    concurrency: int | None
    queue: QueuePolicy
    retry: RetryPolicy
    timeouts: Timeouts
    learn_limits: bool
    tokens: TokenCounting
    spend: SpendPolicy
    quotas: QuotaBook
    prices: PriceTable
    calibrator: Calibrator | None
    reservation: OutputReservation
    estimator: Estimator
    cache: ResponseCache | None
    coalesce: bool | None
    batches: BatchOffload | None
    headers: dict[str, str]  # every request's headers but the key, which each key adds
    transports: Transports
    clock: Clock
    rng: random.Random


def build_parts(given: Mapping[str, Any]) -> Parts:
    """The parts of a Flow from its arguments (already checked by ``check_arguments``)."""
    keys = api_keys(given["api_key"])
    url = given["base_url"] or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
    timeouts = given["timeouts"] or Timeouts()
    tokens: TokenCounting = given["tokens"] or TokenCounting()
    spend: SpendPolicy = given["spend"] or SpendPolicy()
    clock: Clock = given["clock"] or LoopClock()
    reservation = tokens.output_reservation or OutputReservation()
    # Output charged as generated is seen late: every pool keeps a cushion in hand.
    classes = ModelClasses(given["pools"])
    pool_limits = PoolLimits(
        given["limits"],
        classes,
        min_lead_s=reservation.cushion_s,
        min_lead_tokens=reservation.lead_tokens(given["concurrency"]),
    )
    transports = Transports(url, given["transport"], timeouts)
    headers = base_headers(given["anthropic_version"], given["default_headers"])
    signed = Headers({**headers, "x-api-key": keys[0].key})
    if given["cache"] is not None:
        given["cache"].use_clock(clock)  # TTLs run on the Flow's (possibly virtual) time
    return Parts(
        keys=keys,
        base_url=url,
        pool_limits=pool_limits,
        router=Router(given["routes"]),
        backend=given["backend"] or MemoryBackend(),
        queue=given["queue"] or QueuePolicy(),
        retry=given["retry"] or RetryPolicy(),
        timeouts=timeouts,
        tokens=tokens,
        spend=spend,
        quotas=QuotaBook(spend.quotas, spend.quota_file),
        prices=spend.prices or PriceTable.default(),
        calibrator=Calibrator() if tokens.calibrate else None,
        reservation=reservation,
        estimator=_estimator(tokens, transports.main, signed, clock, pool_limits.window_s),
        headers=headers,
        transports=transports,
        clock=clock,
        rng=given["rng"] or random.Random(),
        **{name: given[name] for name in _AS_GIVEN},
    )


def base_headers(version: str, defaults: Mapping[str, str] | None) -> dict[str, str]:
    """Every request's headers but the key: the API version, JSON, the user's defaults."""
    return {
        "anthropic-version": version,
        "content-type": "application/json",
        **check_headers("default_headers", defaults, config=True),
    }


def _estimator(
    tokens: TokenCounting, transport: Transport, signed: Headers, clock: Clock, window_s: float
) -> Estimator:
    """The local estimator (the user's, or tiktoken), or exact counts from the server."""
    if tokens.mode == "server":
        return ServerTokenCounter(
            transport, signed, clock, rpm=tokens.count_tokens_rpm, window_s=window_s
        )
    if tokens.estimator is not None:
        return tokens.estimator
    if isinstance(clock, LoopClock):
        return TokenEstimator()
    # A worker thread ends in real time, which an injected clock does not see: in
    # virtual time every count stays on the loop, so a test sees the same order each run.
    return TokenEstimator(thread_threshold=sys.maxsize)
