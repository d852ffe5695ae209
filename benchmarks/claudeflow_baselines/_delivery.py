"""What a baseline reports for one request: its outcome, wait and attempts (one home for
both baselines)."""

from __future__ import annotations

import anthropic

from claudeflow.bench._record import Delivery

__all__ = ["delivery"]


def delivery(
    result: anthropic.types.Message | anthropic.APIError,
    *,
    submitted: float,
    first_sent: float | None,
    attempts: int,
) -> Delivery:
    """The :class:`Delivery` of a reply or an API error.

    :param first_sent: when the first HTTP attempt left (``None``: it never did)
    """
    wait = None if first_sent is None else max(0.0, first_sent - submitted)
    if isinstance(result, anthropic.APIError):
        return Delivery(ok=False, queue_wait_s=wait, attempts=attempts, error=type(result).__name__)
    return Delivery(
        ok=True,
        queue_wait_s=wait,
        attempts=attempts,
        input_tokens=result.usage.input_tokens,
        output_tokens=result.usage.output_tokens,
    )
