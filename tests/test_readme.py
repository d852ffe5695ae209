"""The README's test example must run as printed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_defining(name: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    matches = [b for b in blocks if f"def {name}(" in b]
    assert len(matches) == 1, f"README has {len(matches)} blocks defining {name}"
    return matches[0]


async def test_readme_mock_transport_example_passes() -> None:
    namespace: dict[str, Any] = {}
    exec(_block_defining("test_a_429_is_retried_after_retry_after"), namespace)
    await namespace["test_a_429_is_retried_after_retry_after"]()
