"""Server-side counters, the simulator's ground truth for benchmarks and tests."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Plain counters; :meth:`snapshot` turns them into JSON-ready data."""

    __slots__ = (
        "admitted",
        "by_endpoint",
        "by_status",
        "cache_creation_tokens",
        "cache_read_tokens",
        "client_disconnects",
        "completed",
        "faults",
        "in_flight",
        "input_tokens",
        "output_tokens",
        "rate_limited",
        "rate_limited_by",
        "received",
    )

    def __init__(self) -> None:
        self.received = 0
        self.admitted = 0
        self.completed = 0
        self.in_flight = 0
        self.rate_limited = 0
        self.client_disconnects = 0  # clients that left before their reply was complete
        self.input_tokens = 0
        self.cache_creation_tokens = 0
        self.cache_read_tokens = 0
        self.output_tokens = 0
        self.by_status: Counter[int] = Counter()
        self.by_endpoint: Counter[str] = Counter()
        self.rate_limited_by: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()

    def record_input(self, input_tokens: int, cache_creation: int, cache_read: int) -> None:
        self.input_tokens += input_tokens
        self.cache_creation_tokens += cache_creation
        self.cache_read_tokens += cache_read

    def finish(self, output_tokens: int) -> None:
        """An admitted request ended having produced ``output_tokens``."""
        self.output_tokens += output_tokens
        # Called once per admitted request, by Settlement.finish (idempotent) or the hot path.
        self.in_flight -= 1
        self.completed += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "admitted": self.admitted,
            "completed": self.completed,
            "in_flight": self.in_flight,
            "rate_limited": self.rate_limited,
            "client_disconnects": self.client_disconnects,
            "rate_limited_by": dict(self.rate_limited_by),
            "by_status": {str(status): n for status, n in sorted(self.by_status.items())},
            "by_endpoint": dict(self.by_endpoint),
            "faults": dict(self.faults),
            "tokens": {
                "input": self.input_tokens,
                "cache_creation": self.cache_creation_tokens,
                "cache_read": self.cache_read_tokens,
                "output": self.output_tokens,
            },
        }
