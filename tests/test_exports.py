"""The public surface: everything in __all__ exists, is sorted, and nothing leaks."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import typing

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


# Classes whose annotations name types that only their home module imports: moving them
# to ``claudeflow`` would break ``typing.get_type_hints`` (pydantic, FastAPI).
# Their annotations name types only their home module imports (see claudeflow._rename).
KEEP_HOME = {"BatchOffload", "FlowStats", "Quota", "Routes", "ServerLimits"}


def test_public_names_show_the_facade_as_their_module() -> None:
    for name in claudeflow.__all__:
        obj = getattr(claudeflow, name)
        if not (isinstance(obj, type) or callable(obj)):
            continue
        if name in KEEP_HOME:
            assert obj.__module__.startswith("claudeflow."), name
        else:
            assert obj.__module__ == "claudeflow", name
    assert repr(claudeflow.Flow) == "<class 'claudeflow.Flow'>"
    assert repr(claudeflow.RateLimitError) == "<class 'claudeflow.RateLimitError'>"


def test_type_hints_of_public_classes_still_resolve() -> None:
    for name in claudeflow.__all__:
        obj = getattr(claudeflow, name)
        if isinstance(obj, type):
            typing.get_type_hints(obj)  # raises NameError if a rename broke it


def test_renamed_errors_still_pickle() -> None:
    error = claudeflow.APIConnectionError("refused", kind="refused")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is claudeflow.APIConnectionError and again.kind == "refused"


def test_cli_prints_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "claudeflow.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"claudeflow {claudeflow.__version__}"
