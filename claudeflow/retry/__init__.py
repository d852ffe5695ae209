"""Should we try again, and when: the retry policy and the server's headers."""

from __future__ import annotations

from ._headers import DimensionView as DimensionView
from ._headers import ServerLimits as ServerLimits
from ._headers import parse_rate_limits as parse_rate_limits
from ._headers import parse_retry_after as parse_retry_after
from ._policy import RetryPolicy as RetryPolicy
from ._policy import is_retryable as is_retryable

__all__ = [
    "DimensionView",
    "RetryPolicy",
    "ServerLimits",
    "is_retryable",
    "parse_rate_limits",
    "parse_retry_after",
]
