"""``examples/gateway_demo.py --simulate`` runs as a user would start it, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from claudeflow.gateway import load_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid() -> None:
    config = load_config(ROOT / "examples" / "gateway.toml")
    assert [c.name for c in config.clients] == ["search", "nightly-batch"]


def test_gateway_demo_runs_offline() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "gateway_demo.py"), "--simulate"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "anthropic create: " in out and "openai create: " in out
    assert "openai smart model: refused with 403" in out
    assert 'client="nightly-batch",model="smart",status="403"} 1.0' in out
