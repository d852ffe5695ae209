"""The public surface: everything in __all__ exists, is sorted, and nothing leaks."""

from __future__ import annotations

import importlib

import pytest

import claudeflow

PACKAGES = [
    "claudeflow",
    "claudeflow.limiter",
    "claudeflow.retry",
    "claudeflow.routing",
    "claudeflow.scheduler",
    "claudeflow.testing",
    "claudeflow.tokens",
    "claudeflow.transport",
    "claudeflow.simulator",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's __all__ order: CONSTANTS, then Classes, then functions and dunders."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is in __all__ but missing"


def test_every_error_is_under_the_root() -> None:
    for attr in claudeflow.__all__:
        obj = getattr(claudeflow, attr)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, claudeflow.ClaudeflowError), attr


def test_version_is_set() -> None:
    assert claudeflow.__version__ != "0.0.0"
