"""Model ids -> rate-limit classes (models of one class share one set of buckets).

Shared by the client (one pool per class) and the simulator (one bucket set per class).

The API groups models by family and major version: Opus 4.5-4.8 share "Claude Opus
4.x", Sonnet 4.5/4.6 share "Claude Sonnet 4.x", Sonnet 5 has its own (api doc §1.1).
The default rule reproduces that from the id; an explicit mapping (``Flow(pools=...)``,
``SimulatorConfig.model_classes``) sends exact ids to any class for the cases it gets wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ModelClasses", "model_class"]

_FAMILIES = frozenset({"opus", "sonnet", "haiku", "fable", "mythos"})


def model_class(model: str) -> str:
    """``claude-opus-4-6`` -> ``claude-opus-4``; ``claude-3-5-haiku-2024`` -> ``claude-haiku-3``."""
    parts = model.split("-")
    for index, part in enumerate(parts):
        if part not in _FAMILIES:
            continue
        after = parts[index + 1] if index + 1 < len(parts) else ""
        # A short number after the family is the major version; a long one is a date.
        if after.isdigit() and len(after) <= 2:
            return f"claude-{part}-{after}"
        # Older ids put the version first: claude-3-5-haiku.
        before = [p for p in parts[1:index] if p.isdigit()]
        return f"claude-{part}-{before[0]}" if before else f"claude-{part}"
    # No known family: its own class, so an unknown model shares buckets with nobody.
    return model


class ModelClasses:
    """Memoised :func:`model_class` with explicit overrides."""

    __slots__ = ("_memo", "_overrides")

    def __init__(self, overrides: Mapping[str, str] | None) -> None:
        self._overrides = dict(overrides or {})
        self._memo: dict[str, str] = {}

    def __call__(self, model: str) -> str:
        found = self._memo.get(model)
        if found is None:
            found = self._overrides.get(model) or model_class(model)
            if len(self._memo) < 10_000:  # bounded: model ids come from clients
                self._memo[model] = found
        return found
