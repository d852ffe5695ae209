"""The models the simulator knows, and the Models API over them (``GET /v1/models``).

The catalogue is the SDK's own list of current model ids (api doc §9.1), newest first,
as the Models API lists them. Dated ids (``claude-sonnet-4-5-20250929``) are the listed
ids and their undated forms are aliases, as the API does it; both are accepted by the
Messages API. Limits per model (``max_tokens``, context window) follow api doc §9 where
it gives them; release dates are given where the api doc states them and epoch zero
elsewhere (the Models API's own convention for "unknown"). Every model is ``active``.

Ids outside the catalogue come from ``SimulatorConfig.extra_models``; they are listed
after the catalogue with the simulator's default limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._pages import page_bounds
from ._wire import EPOCH_ZERO, not_found

__all__ = ["KNOWN_MODELS", "ModelCatalog", "ModelSpec"]

_DEFAULT_MAX_TOKENS = 128_000
_DEFAULT_CONTEXT = 1_000_000


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model of the catalogue: what the Models API says about it."""

    id: str
    display_name: str
    created_at: str = EPOCH_ZERO
    max_tokens: int = _DEFAULT_MAX_TOKENS
    context_window: int = _DEFAULT_CONTEXT
    aliases: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "lifecycle": "active",
            "deprecated_at": None,
            "retires_at": None,
            "max_tokens": self.max_tokens,
            "max_input_tokens": self.context_window,
        }


def _m(
    model_id: str,
    name: str,
    created: str = EPOCH_ZERO,
    *,
    out: int = _DEFAULT_MAX_TOKENS,
    ctx: int = _DEFAULT_CONTEXT,
    alias: str | None = None,
) -> ModelSpec:
    return ModelSpec(model_id, name, created, out, ctx, (alias,) if alias else ())


_K = 1000
KNOWN_MODELS: tuple[ModelSpec, ...] = (
    _m("claude-fable-5-2", "Claude Fable 5.2"),
    _m("claude-mythos-5-2", "Claude Mythos 5.2"),
    _m("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07T00:00:00Z"),
    _m("claude-sonnet-5-5", "Claude Sonnet 5.5"),
    _m("claude-fable-5-1", "Claude Fable 5.1"),
    _m("claude-opus-5-5", "Claude Opus 5.5", "2026-09-22T00:00:00Z"),
    _m("claude-mythos-5-1", "Claude Mythos 5.1"),
    _m("claude-sonnet-5", "Claude Sonnet 5", "2026-06-30T00:00:00Z"),
    _m("claude-fable-5", "Claude Fable 5"),
    _m("claude-mythos-5", "Claude Mythos 5"),
    _m("claude-opus-5", "Claude Opus 5", "2026-07-24T00:00:00Z"),
    _m("claude-opus-4-8", "Claude Opus 4.8"),
    _m("claude-opus-4-7", "Claude Opus 4.7"),
    _m("claude-mythos-preview", "Claude Mythos Preview"),
    _m("claude-opus-4-6", "Claude Opus 4.6", ctx=200 * _K),
    _m("claude-sonnet-4-6", "Claude Sonnet 4.6", out=64 * _K, ctx=200 * _K),
    _m(
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-01T00:00:00Z",
        out=64 * _K,
        ctx=200 * _K,
        alias="claude-haiku-4-5",
    ),
    _m(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-01T00:00:00Z",
        out=64 * _K,
        ctx=200 * _K,
        alias="claude-opus-4-5",
    ),
    _m(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29T00:00:00Z",
        out=64 * _K,
        ctx=200 * _K,
        alias="claude-sonnet-4-5",
    ),
)


class ModelCatalog:
    """Model lookup by id or alias, and the pages of ``GET /v1/models``.

    :param models: the accepted ids (``None``: :data:`KNOWN_MODELS`); ids not in the
        catalogue get default limits
    :param extra: ids accepted in addition
    :param max_tokens: overrides every model's maximum ``max_tokens`` when set
    :param context_window: overrides every model's context window when set
    """

    __slots__ = ("_by_name", "listed")

    def __init__(
        self,
        models: Iterable[str] | None,
        extra: Iterable[str],
        *,
        max_tokens: int | None,
        context_window: int | None,
    ) -> None:
        known = {name: spec for spec in KNOWN_MODELS for name in (spec.id, *spec.aliases)}
        # An alias given counts as its model: both spellings are served, as by the API.
        asked = set(known if models is None else models) | set(extra)
        # Catalogue models keep its newest-first order; other ids follow, sorted.
        served = [s for s in KNOWN_MODELS if asked & {s.id, *s.aliases}]
        served += [ModelSpec(name, name) for name in sorted(asked - set(known))]
        self.listed: tuple[ModelSpec, ...] = tuple(
            replace(
                spec,
                # Overridden in the listing too: the Models API reports the limits enforced.
                max_tokens=max_tokens or spec.max_tokens,
                context_window=context_window or spec.context_window,
            )
            for spec in served
        )
        self._by_name: Mapping[str, ModelSpec] = {
            name: spec for spec in self.listed for name in (spec.id, *spec.aliases)
        }

    def get(self, model: str) -> ModelSpec | None:
        """The spec of ``model`` (an id or alias), or ``None`` when it is not served."""
        return self._by_name.get(model)

    def retrieve(self, model: str) -> dict[str, Any]:
        """The ``GET /v1/models/{id}`` body (raises the 404)."""
        spec = self._by_name.get(model)
        if spec is None:
            raise not_found(f"model: {model}")
        return spec.to_json()

    def page(self, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of ``GET /v1/models`` (aliases work as cursors)."""
        cursors = {
            name: spec.id if (spec := self._by_name.get(value)) else value
            for name, value in query.items()
            if name in ("after_id", "before_id")
        }
        start, stop, has_more = page_bounds([s.id for s in self.listed], {**query, **cursors})
        chosen = self.listed[start:stop]
        return {
            "data": [spec.to_json() for spec in chosen],
            "has_more": has_more,
            "first_id": chosen[0].id if chosen else None,
            "last_id": chosen[-1].id if chosen else None,
        }
