"""Measured runs keep the garbage collector off what the process already holds."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["frozen_heap"]


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what the process already holds out of the garbage collector for a while.

    Earlier runs of a suite leave results, perfect schedules and tokenizer tables
    behind; a full collection that scans them during a measured run taxes whichever
    client happens to allocate when it falls due (one fell inside a run's first 30 ms,
    before any request went out). Inside an outer freeze it does nothing, so that
    freeze is not undone on the way out.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
