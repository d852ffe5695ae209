"""What a caller gets back: per-request results and Flow-wide statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from .._message import Message
from .._types import Cost
from ..batches import BatchStats
from ..cache import CacheStats
from ..limiter import BucketState, PoolStatistics
from ..retry import ServerLimits
from ..routing import ArmStatistics, KeyStatistics
from ..tokens import CalibrationStats, Usage
from ._statistics import RunnerStatistics

__all__ = ["FlowStats", "Result"]


@dataclass(frozen=True, slots=True)
class Result:
    """One successful request.

    :ivar message: the API's response (attribute or key access, SDK field names)
    :ivar usage: token counts the server reported
    :ivar estimated_input_tokens: the local estimate made before sending
    :ivar reserved: what admission reserved (requests, input, output tokens)
    :ivar attempts: HTTP attempts made (1 = no retry)
    :ivar queue_wait_s: time spent waiting in line for admission, over all attempts
    :ivar retry_wait_s: time spent in retry back-off
    :ivar latency_s: duration of the successful HTTP attempt
    :ivar cost_usd: price of this request, ``None`` if the model is unpriced
    :ivar key: the name of the API key that served it (never the key itself)
    :ivar pool: the pool that admitted it (``key/model-class``)
    :ivar tried: the models tried in order; the last one served it (fallbacks)
    :ivar arm: the split its model was drawn from, if any
    :ivar cache_hit: served from the response cache (nothing sent, nothing billed)
    :ivar batched: served through the Message Batches API (priced at the batch rate)
    """

    message: Message
    usage: Usage
    estimated_input_tokens: int
    reserved: Cost
    attempts: int
    queue_wait_s: float
    retry_wait_s: float
    latency_s: float
    cost_usd: float | None
    request_id: str | None
    priority: int
    key: str = ""
    pool: str = ""
    tried: tuple[str, ...] = ()
    arm: str | None = None
    cache_hit: bool = False
    batched: bool = False

    @property
    def text(self) -> str:
        """The concatenated text blocks of the response."""
        return self.message.text

    # The SDK Message's fields and methods, so code written against ``messages.create``
    # keeps working; ``usage`` is claudeflow's summary, ``message.usage`` the API's own.
    @property
    def id(self) -> str:
        return str(self.message["id"])

    @property
    def model(self) -> str:
        return str(self.message["model"])

    @property
    def role(self) -> str:
        return str(self.message.get("role", "assistant"))

    @property
    def content(self) -> Any:
        return self.message["content"]

    @property
    def stop_reason(self) -> str | None:
        return self.message.get("stop_reason")

    @property
    def stop_sequence(self) -> str | None:
        return self.message.get("stop_sequence")

    @property
    def type(self) -> str:
        return str(self.message.get("type", "message"))

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """The response as plain JSON values (the SDK's ``Message.model_dump``)."""
        return self.message.model_dump(mode=mode, exclude_none=exclude_none)

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        return self.message.model_dump_json(indent=indent, exclude_none=exclude_none)

    def to_dict(self) -> dict[str, Any]:
        return self.message.model_dump()

    def to_json(self, *, indent: int | None = 2) -> str:
        return self.message.to_json(indent=indent)


@dataclass(frozen=True, slots=True)
class FlowStats:
    """A snapshot of a Flow's counters, queue and limiter state."""

    submitted: int
    completed: int
    failed: int
    cancelled: int
    queued: int
    in_flight: int
    attempts: int
    retries: int
    rate_limited: int
    statuses: Mapping[int, int]
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_usd: float
    unpriced_requests: int
    queue_by_priority: Mapping[int, int]
    buckets: Mapping[str, BucketState]
    paused_for_s: float
    server: ServerLimits | None
    calibration: Mapping[str, CalibrationStats] = field(default_factory=dict)
    pools: Mapping[str, PoolStatistics] = field(default_factory=dict)
    keys: Mapping[str, KeyStatistics] = field(default_factory=dict)
    budget_reserved_usd: float = 0.0
    arms: Mapping[str, Mapping[str, ArmStatistics]] = field(default_factory=dict)
    quotas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Share of prompt tokens read from the API's prompt cache: do the cache_control
    # breakpoints work?  (claudeflow.cache.prompt_cache_share)
    prompt_cache_read_share: float = 0.0
    cache: CacheStats | None = None  # response cache and coalescing, when on
    batches: BatchStats | None = None  # Message Batches offload, when on
    runner: RunnerStatistics | None = None  # the attempts' counters, as one snapshot

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values (for logs, the CLI and benchmark reports)."""
        plain = _plain(self)
        assert isinstance(plain, dict)
        return plain


def _plain(value: Any) -> Any:
    """Dataclasses and (read-only) mappings as plain dicts, all the way down."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
