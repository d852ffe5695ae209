"""The public surface of claudeflow.cache and claudeflow.batches."""

from __future__ import annotations

import importlib

import pytest

import claudeflow


@pytest.mark.parametrize("name", ["claudeflow.cache", "claudeflow.batches"])
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    key = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in exported]
    assert key == sorted(key)
    assert all(hasattr(module, attr) for attr in exported)


def test_the_top_level_reexports_the_main_names() -> None:
    from claudeflow.batches import BatchOffload
    from claudeflow.cache import ResponseCache

    assert claudeflow.ResponseCache is ResponseCache and claudeflow.BatchOffload is BatchOffload
    assert ResponseCache.__module__ == "claudeflow"  # the façade's name, as httpx shows its own
    assert issubclass(claudeflow.BatchError, claudeflow.ClaudeflowError)
