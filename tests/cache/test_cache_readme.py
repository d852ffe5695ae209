"""The README's cache and batches examples run as printed, against the simulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"


def _block_defining(name: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    matches = [b for b in blocks if f"def {name}(" in b]
    assert len(matches) == 1, f"README has {len(matches)} blocks defining {name}"
    return matches[0]


@pytest.mark.parametrize("name", ["cache_example", "batches_example"])
async def test_readme_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(_block_defining(name), namespace)
    await namespace[name]()
    assert "saved" in capsys.readouterr().out
