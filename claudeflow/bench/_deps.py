"""The benchmark suite's optional dependencies: checked up front, imported lazily.

matplotlib (plots), anthropic, tenacity and aiolimiter (baselines) live in the ``bench`` extra, so a
plain install of claudeflow must still import this package. :func:`ensure` names every
missing module at once, with the command that installs them and the flag that avoids
needing them, instead of failing half-way through a run on the first ``import``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

__all__ = ["BASELINE_MODULES", "PLOT_MODULES", "MissingDependencyError", "ensure", "missing"]

BASELINE_MODULES = ("anthropic", "tenacity", "aiolimiter")
PLOT_MODULES = ("matplotlib",)
_INSTALL = "pip install 'claudeflow[bench]'"
_AVOID = {
    "matplotlib": "--no-plots",
    "anthropic": "--no-baselines",
    "tenacity": "--no-baselines",
    "aiolimiter": "--no-baselines",
}


class MissingDependencyError(ImportError):
    """An optional module the requested benchmark needs is not installed."""


def missing(modules: Iterable[str]) -> list[str]:
    """The ``modules`` that cannot be imported (checked without importing them)."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def ensure(modules: Iterable[str]) -> None:
    """Raise :class:`MissingDependencyError` naming every module of ``modules`` not installed."""
    absent = missing(modules)
    if not absent:
        return
    flags = sorted({_AVOID[name] for name in absent if name in _AVOID})
    hint = f" (or run with {' '.join(flags)})" if flags else ""
    raise MissingDependencyError(f"`claudeflow bench` needs {', '.join(absent)}: {_INSTALL}{hint}")
