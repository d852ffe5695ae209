"""Adapters that plug a :class:`~claudeflow.Flow` into frameworks.

Each adapter is a subpackage with its own optional dependency, imported only when used:
``claudeflow.integrations.fastapi`` needs ``pip install 'claudeflow[fastapi]'``.
"""

from __future__ import annotations

__all__: list[str] = []
