"""frozen_heap: the process's objects stay out of the collector inside, and come back."""

from __future__ import annotations

import gc

import pytest

from claudeflow.bench._heap import frozen_heap


def test_the_heap_is_frozen_inside_and_thawed_after_an_error() -> None:
    assert gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), frozen_heap():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("a run that failed")
    assert gc.get_freeze_count() == 0


def test_an_inner_freeze_leaves_an_outer_one_alone() -> None:
    with frozen_heap():
        outer = gc.get_freeze_count()
        with frozen_heap():
            pass
        assert gc.get_freeze_count() == outer > 0
    assert gc.get_freeze_count() == 0
