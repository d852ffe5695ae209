"""Which model and key: routes and fallbacks, model classes to pools, key pools."""

from __future__ import annotations

from ._keys import ApiKey as ApiKey
from ._keys import KeyEntry as KeyEntry
from ._keys import KeyRing as KeyRing
from ._keys import KeyStatistics as KeyStatistics
from ._keys import fingerprint as fingerprint
from ._org_limits import fetch_rate_limits as fetch_rate_limits
from ._org_limits import parse_rate_limits_response as parse_rate_limits_response
from ._pools import LimitsSpec as LimitsSpec
from ._pools import Pool as Pool
from ._pools import PoolFactory as PoolFactory
from ._pools import PoolLimits as PoolLimits
from ._routes import ArmStatistics as ArmStatistics
from ._routes import Router as Router
from ._routes import Routes as Routes
from ._routes import max_output_tokens as max_output_tokens

__all__ = [
    "ApiKey",
    "ArmStatistics",
    "KeyEntry",
    "KeyRing",
    "KeyStatistics",
    "LimitsSpec",
    "Pool",
    "PoolFactory",
    "PoolLimits",
    "Router",
    "Routes",
    "fetch_rate_limits",
    "fingerprint",
    "max_output_tokens",
    "parse_rate_limits_response",
]
