"""claudeflow: call the Claude Messages API at the full speed your limits allow."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._clock import Clock as Clock
from ._clock import LoopClock as LoopClock
from ._config import RateLimits as RateLimits
from ._config import Timeouts as Timeouts
from ._errors import *  # noqa: F403  (the tree's own __all__ is re-exported below)
from ._errors import __all__ as _error_names
from ._types import Cost as Cost
from ._types import Priority as Priority

try:
    __version__ = version("claudeflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = sorted(
    [
        *_error_names,
        "Clock",
        "Cost",
        "LoopClock",
        "Priority",
        "RateLimits",
        "Timeouts",
        "__version__",
    ]
)
