"""An error as HTTP, before it takes a body's shape: shared by the gateway and FastAPI."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ErrorReply"]


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What an error means over HTTP, before it becomes a body of the API's shape.

    ``message`` is safe to show the client; ``retry_after`` (seconds) and ``headers`` are
    the back-pressure it should obey.
    """

    status: int
    type: str
    message: str
    retry_after: float | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def retry_after_header(self) -> int | None:
        """``retry_after`` as ``Retry-After`` says it: whole seconds, at least 1."""
        if self.retry_after is None:
            return None
        # Whole seconds (RFC 9110 10.2.3), rounded up so that a client that obeys it
        # never comes back early.
        return max(1, math.ceil(self.retry_after))

    def all_headers(self) -> dict[str, str]:
        """``headers`` plus ``Retry-After`` when a retry can succeed."""
        headers = dict(self.headers)
        seconds = self.retry_after_header
        if seconds is not None:
            headers["Retry-After"] = str(seconds)
        return headers
