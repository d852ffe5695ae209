"""claudeflow: call the Claude Messages API at the full speed your limits allow.

The names most users need are here; the subpackages (``limiter``, ``routing``, ``tokens``,
``retry``, ``transport``, ``scheduler``, ``simulator``, ``testing``) hold the rest.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from typing import get_type_hints

from ._clock import Clock as Clock
from ._clock import LoopClock as LoopClock
from ._config import RateLimits as RateLimits
from ._config import Timeouts as Timeouts
from ._errors import APIConnectionError as APIConnectionError
from ._errors import APIError as APIError
from ._errors import APIStatusError as APIStatusError
from ._errors import APITimeoutError as APITimeoutError
from ._errors import AuthenticationError as AuthenticationError
from ._errors import BackendUnavailableError as BackendUnavailableError
from ._errors import BadRequestError as BadRequestError
from ._errors import BatchError as BatchError
from ._errors import BillingError as BillingError
from ._errors import BudgetExceededError as BudgetExceededError
from ._errors import CapacityError as CapacityError
from ._errors import ClaudeflowError as ClaudeflowError
from ._errors import ConfigError as ConfigError
from ._errors import DeadlineExceededError as DeadlineExceededError
from ._errors import FlowClosedError as FlowClosedError
from ._errors import InternalServerError as InternalServerError
from ._errors import InvalidRequestError as InvalidRequestError
from ._errors import NotFoundError as NotFoundError
from ._errors import OverloadedError as OverloadedError
from ._errors import PermissionDeniedError as PermissionDeniedError
from ._errors import QueueFullError as QueueFullError
from ._errors import QuotaExceededError as QuotaExceededError
from ._errors import RateLimitError as RateLimitError
from ._errors import RequestRejected as RequestRejected
from ._errors import RequestTooLargeError as RequestTooLargeError
from ._errors import StreamError as StreamError
from ._errors import TransportError as TransportError
from ._message import ApiObject as ApiObject
from ._message import Message as Message
from ._types import Cost as Cost
from ._types import Priority as Priority
from .batches import BatchOffload as BatchOffload
from .cache import ResponseCache as ResponseCache
from .limiter import MemoryBackend as MemoryBackend
from .limiter import Quota as Quota
from .retry import RetryPolicy as RetryPolicy
from .retry import ServerLimits as ServerLimits
from .routing import ApiKey as ApiKey
from .routing import Routes as Routes
from .routing import fetch_rate_limits as fetch_rate_limits
from .scheduler import Flow as Flow
from .scheduler import FlowStats as FlowStats
from .scheduler import FlowStream as FlowStream
from .scheduler import QueuePolicy as QueuePolicy
from .scheduler import Result as Result
from .scheduler import SpendPolicy as SpendPolicy
from .scheduler import TokenCounting as TokenCounting
from .tokens import OutputReservation as OutputReservation
from .tokens import PriceTable as PriceTable
from .tokens import TokenEstimator as TokenEstimator
from .tokens import Usage as Usage


def _rename(obj: object, module: str) -> None:
    """Set ``obj.__module__`` to ``module``, unless its annotations need their home.

    ``typing.get_type_hints`` (pydantic and FastAPI call it) resolves a class's string
    annotations in the module its ``__module__`` names; a class whose annotations use
    names that only its home module imports keeps that home.
    """
    if not (isinstance(obj, type) or callable(obj)):
        return
    home = obj.__module__
    obj.__module__ = module
    if isinstance(obj, type):
        try:
            get_type_hints(obj)
        except NameError:
            obj.__module__ = home


try:
    __version__ = version("claudeflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ApiKey",
    "ApiObject",
    "AuthenticationError",
    "BackendUnavailableError",
    "BadRequestError",
    "BatchError",
    "BatchOffload",
    "BillingError",
    "BudgetExceededError",
    "CapacityError",
    "ClaudeflowError",
    "Clock",
    "ConfigError",
    "Cost",
    "DeadlineExceededError",
    "Flow",
    "FlowClosedError",
    "FlowStats",
    "FlowStream",
    "InternalServerError",
    "InvalidRequestError",
    "LoopClock",
    "MemoryBackend",
    "Message",
    "NotFoundError",
    "OutputReservation",
    "OverloadedError",
    "PermissionDeniedError",
    "PriceTable",
    "Priority",
    "QueueFullError",
    "QueuePolicy",
    "Quota",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimits",
    "RequestRejected",
    "RequestTooLargeError",
    "ResponseCache",
    "Result",
    "RetryPolicy",
    "Routes",
    "ServerLimits",
    "SpendPolicy",
    "StreamError",
    "Timeouts",
    "TokenCounting",
    "TokenEstimator",
    "TransportError",
    "Usage",
    "__version__",
    "fetch_rate_limits",
]

# Public names show where users import them from: ``claudeflow.Flow``, not
# ``claudeflow.scheduler._flow.Flow``, in reprs, tracebacks and docs (as httpx does).
# Every such name is importable from here, so pickling by module still works.
for _name in __all__:
    _rename(globals()[_name], __name__)
del _name

# A library logs; the application decides where it goes (no "last resort" stderr output).
logging.getLogger("claudeflow").addHandler(logging.NullHandler())
