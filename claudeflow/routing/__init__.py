"""Which model and key: model classes to pools, key pools."""

from __future__ import annotations

from ._keys import ApiKey as ApiKey
from ._keys import KeyEntry as KeyEntry
from ._keys import KeyRing as KeyRing
from ._keys import KeyStatistics as KeyStatistics
from ._keys import fingerprint as fingerprint
from ._pools import LimitsSpec as LimitsSpec
from ._pools import Pool as Pool
from ._pools import PoolFactory as PoolFactory
from ._pools import PoolLimits as PoolLimits

__all__ = [
    "ApiKey",
    "KeyEntry",
    "KeyRing",
    "KeyStatistics",
    "LimitsSpec",
    "Pool",
    "PoolFactory",
    "PoolLimits",
    "fingerprint",
]
