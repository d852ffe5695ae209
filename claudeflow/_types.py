"""Small shared value types: priorities and request costs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = ["Cost", "Priority"]


class Priority(IntEnum):
    """Scheduling class; lower is more urgent. Plain ints are accepted wherever this is."""

    HIGH = 0
    NORMAL = 1
    LOW = 2


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request takes from the rate limits."""

    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
        )

    def __sub__(self, other: Cost) -> Cost:
        return Cost(
            self.requests - other.requests,
            self.input_tokens - other.input_tokens,
            self.output_tokens - other.output_tokens,
        )
