"""Frozen statistics from live counters, each field read from the counter of its name.

The paths that count (the batch path, the cache layer, the runner's outcomes) keep a
``Counter`` while they run and hand out a frozen dataclass (anyio's ``statistics()``
pattern); naming each counter after its field makes that copy one call instead of a
field-by-field list to keep in step with the dataclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["snapshot"]

S = TypeVar("S", bound="DataclassInstance")


def snapshot(cls: type[S], counts: Mapping[str, int], /, **given: object) -> S:
    """A ``cls`` whose fields are ``given``, or else read from ``counts`` by name.

    A counter that was never touched reads 0, as a ``Counter`` would.

    >>> from collections import Counter
    >>> from claudeflow.batches import BatchStats
    >>> snapshot(BatchStats, Counter(submitted=3), cost_usd=0.5).submitted
    3
    """
    counted = {f.name: counts.get(f.name, 0) for f in fields(cls) if f.name not in given}
    return cls(**counted, **given)
