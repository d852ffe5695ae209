"""Outcomes of a batched request that are neither an answer nor an API error."""

from __future__ import annotations

from .._errors import ClaudeflowError

__all__ = ["BatchError"]


class BatchError(ClaudeflowError):
    """A batched request ended without an answer.

    :ivar outcome: ``"canceled"`` or ``"expired"`` (api doc §7.3; neither is billed),
        or ``"missing"`` if the results file did not mention the request
    :ivar batch_id: the batch it was in
    """

    def __init__(self, message: str, *, outcome: str, batch_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.batch_id = batch_id
