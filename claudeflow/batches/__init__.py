"""Can it wait: the Message Batches offload (half price, outside the per-minute limits)."""

from __future__ import annotations

from .._errors import BatchError as BatchError
from ._api import BatchApi as BatchApi
from ._config import MAX_BATCH_BYTES as MAX_BATCH_BYTES
from ._config import MAX_BATCH_REQUESTS as MAX_BATCH_REQUESTS
from ._config import BatchOffload as BatchOffload
from ._config import BatchRule as BatchRule
from ._config import default_rule as default_rule
from ._offload import BatchRunner as BatchRunner
from ._stats import BatchStats as BatchStats

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_REQUESTS",
    "BatchApi",
    "BatchError",
    "BatchOffload",
    "BatchRule",
    "BatchRunner",
    "BatchStats",
    "default_rule",
]
