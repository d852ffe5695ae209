"""Missing optional dependencies are named up front, with the install command and the flag."""

from __future__ import annotations

import pytest

from claudeflow.bench import _deps
from claudeflow.cli import main


def test_ensure_names_every_missing_module_and_how_to_avoid_it() -> None:
    assert _deps.missing(["json", "claudeflow_no_such_module"]) == ["claudeflow_no_such_module"]
    _deps.ensure(["json"])
    with pytest.raises(_deps.MissingDependencyError) as caught:
        _deps.ensure(["claudeflow_no_such_module"])
    assert "pip install 'claudeflow[bench]'" in str(caught.value)


def test_bench_exits_2_before_running_when_a_baseline_dependency_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_deps, "missing", lambda modules: [m for m in modules if m == "anthropic"])
    assert main(["bench", "--smoke", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "needs anthropic" in err
    assert "--no-baselines" in err


def test_matplotlib_is_needed_only_for_plots(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_deps, "missing", lambda modules: [m for m in modules if m == "matplotlib"])
    assert main(["bench", "--scenario", "rpm_bound", "--no-baselines"]) == 2
    assert "--no-plots" in capsys.readouterr().err
