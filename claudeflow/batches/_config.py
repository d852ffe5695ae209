"""How requests go through the Message Batches API instead of Messages (api doc §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .._config import check_positive
from .._errors import ConfigError
from .._types import Priority

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_REQUESTS", "BatchOffload", "BatchRule", "default_rule"]

# The API's limits per batch (api doc §7.4): whichever is reached first.
MAX_BATCH_REQUESTS: Final = 100_000
MAX_BATCH_BYTES: Final = 256_000_000

# (priority, queue_timeout) -> send this request through the Batches API?
BatchRule = Callable[[int, "float | None"], bool]

_AN_HOUR: Final = 3600.0


def default_rule(priority: int, queue_timeout: float | None) -> bool:
    """Batch what can wait: priority LOW (or lower) with no deadline or one over an hour.

    >>> default_rule(Priority.LOW, None), default_rule(Priority.LOW, 60.0)
    (True, False)
    """
    return priority >= Priority.LOW and (queue_timeout is None or queue_timeout > _AN_HOUR)


@dataclass(frozen=True, slots=True)
class BatchOffload:
    """Settings of the batch path (``Flow(batches=BatchOffload())``).

    A request goes through Batches when ``create(..., batch=True)`` asks, or when
    ``batch`` is unset and ``rule(priority, queue_timeout)`` says so.

    :param rule: which requests are batched when the caller does not say
    :param linger_s: how long a batch collects requests before it is submitted
    :param max_requests: most requests per batch (the API allows 100,000)
    :param max_bytes: most bytes of JSON per batch (the API allows 256 MB)
    :param poll_s: first wait between status polls; grows by ``poll_factor`` per poll
    :param poll_max_s: longest wait between polls
    """

    rule: BatchRule = default_rule
    linger_s: float = 5.0
    max_requests: int = MAX_BATCH_REQUESTS
    max_bytes: int = MAX_BATCH_BYTES
    poll_s: float = 5.0
    poll_factor: float = 1.5
    poll_max_s: float = 60.0

    def __post_init__(self) -> None:
        if not callable(self.rule):
            raise ConfigError("rule", "must be a callable (priority, queue_timeout) -> bool")
        for name in ("linger_s", "poll_s", "poll_max_s"):
            check_positive(name, getattr(self, name), allow_none=False)
        check_positive("poll_factor", self.poll_factor, allow_none=False)
        if self.poll_factor < 1:
            raise ConfigError("poll_factor", f"must be >= 1, got {self.poll_factor!r}")
        for name, cap in (("max_requests", MAX_BATCH_REQUESTS), ("max_bytes", MAX_BATCH_BYTES)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cap:
                raise ConfigError(name, f"must be an int in [1, {cap:,}], got {value!r}")

    def poll_delay(self, polls: int) -> float:
        """Seconds to wait after ``polls`` status polls (0 before the first)."""
        # Growing pauses: a batch takes minutes to hours, and every poll is a request.
        return min(self.poll_max_s, self.poll_s * self.poll_factor**polls)
