"""Counters of the batch path."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BatchStats"]


@dataclass(frozen=True, slots=True)
class BatchStats:
    """A snapshot of a Flow's Message Batches offload.

    :ivar collecting: requests waiting to be submitted in a batch
    :ivar batches_submitted: batches created on the API
    :ivar batches_running: submitted batches not yet read back
    :ivar submitted: requests sent in batches
    :ivar succeeded / errored / canceled / expired: per-request outcomes (api doc §7.3)
    :ivar cost_usd: spent at the batch rate
    :ivar saved_usd: the standard price of the same usage minus ``cost_usd``
    """

    collecting: int = 0
    batches_submitted: int = 0
    batches_running: int = 0
    submitted: int = 0
    succeeded: int = 0
    errored: int = 0
    canceled: int = 0
    expired: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    saved_usd: float = 0.0
