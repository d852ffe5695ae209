"""What each client reports per request, and what the driver records around it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ._workload import WorkItem

__all__ = ["Delivery", "Outcome", "Send"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request's result as the client saw it.

    :ivar queue_wait_s: time before the first HTTP attempt started (claudeflow: time in
        line before admission, summed over attempts); ``None`` if it never started
    :ivar attempts: HTTP attempts the client made, when it can tell
    :ivar error: the exception's class name for a failed request
    """

    ok: bool
    queue_wait_s: float | None = None
    attempts: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None


# A client: sends one work item and reports what happened. It never raises for an API
# outcome (that is a failed Delivery); cancellation propagates.
Send = Callable[[WorkItem], Awaitable[Delivery]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One work item after a run. Times are seconds since the run started.

    ``delivery`` is ``None`` when the run's time limit ended the request first.
    """

    index: int
    priority: int
    tag: str
    input_tokens: int
    submitted_s: float
    finished_s: float | None
    delivery: Delivery | None

    @property
    def ok(self) -> bool:
        return self.delivery is not None and self.delivery.ok

    @property
    def failed(self) -> bool:
        return self.delivery is not None and not self.delivery.ok
