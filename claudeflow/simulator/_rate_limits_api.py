"""The Rate Limits API (``GET /v1/organizations/rate_limits``) and a client-side parser.

The shape is SDK 2.x's ``OrganizationRateLimit`` (``client.organization.rate_limits
.list()``), one entry per rate-limit group::

    {"data": [{"type": "rate_limit",
               "id": "rl_<hex>",                       # differs per organization
               "group": {"type": "model_group", "id": "rlg_<hex>",
                         "display_name": "Claude Sonnet 4.x"},
               "models": ["claude-sonnet-4-6", "claude-sonnet-4-5-20250929", ...],
               "limits": [{"type": "requests_per_minute", "value": 4000},
                          {"type": "input_tokens_per_minute_cache_aware", "value": 2000000},
                          {"type": "output_tokens_per_minute", "value": 400000}]},
              {"type": "rate_limit", "id": "...", "group": {"type": "token_count", ...},
               "models": null, "limits": [{"type": "requests_per_minute", "value": ...}]}],
     "next_page": null}

Choices where nothing is documented:

- The simulator's own configuration is served: one ``model_group`` entry per model class
  of the served models (the classes its buckets are kept by), plus ``token_count`` and
  ``batch`` entries when those pools are limited. Unlimited dimensions are left out, and
  a group with no limits at all is not listed. Values are per *simulated* minute.
- The input limiter is ``input_tokens_per_minute_cache_aware`` (cache reads do not count)
  unless ``count_cache_reads`` is set, when it is ``input_tokens_per_minute``.
- Only an Admin key (``sk-ant-admin...``) may read it: no key is a 401
  ``authentication_error``, any other key a 403 ``permission_error``.
- ``group_type`` and ``model`` filter (an unknown model is a 404); ``limit`` (1-1000)
  pages, ``next_page`` is the opaque cursor of the next page (``null`` on the last).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from ..routing._org_limits import (
    ITPM,
    ITPM_CACHE_AWARE,
    OTPM,
    RPM,
    parse_rate_limits_response,
)
from ._config import SimulatorConfig
from ._models import ModelCatalog
from ._pages import page_limit
from ._wire import SimError, invalid, not_found

__all__ = ["ADMIN_KEY_PREFIX", "authorize_admin", "parse_rate_limits_response", "rate_limits"]

ADMIN_KEY_PREFIX = "sk-ant-admin"
_GROUP_TYPES = ("batch", "files", "model_group", "skills", "token_count", "web_search")


def authorize_admin(key: str) -> None:
    """Raise the 403 unless ``key`` (already authenticated) is an Admin key."""
    if not key.startswith(ADMIN_KEY_PREFIX):
        raise SimError(
            403, "permission_error", "This endpoint requires an Admin API key (sk-ant-admin...)"
        )


def rate_limits(
    config: SimulatorConfig,
    models: ModelCatalog,
    classes: Callable[[str], str],
    org_id: str,
    query: Mapping[str, str],
) -> dict[str, Any]:
    """The ``GET /v1/organizations/rate_limits`` body for ``query`` (raises SimError)."""
    entries = _entries(config, models, classes, org_id)
    group_type = query.get("group_type")
    if group_type is not None:
        if group_type not in _GROUP_TYPES:
            raise invalid(f"group_type: Input should be one of {', '.join(_GROUP_TYPES)}")
        entries = [e for e in entries if e["group"]["type"] == group_type]
    if (model := query.get("model")) is not None:
        # Aliases are listed as members too, so filtering by an alias finds its group.
        entries = [e for e in entries if model in (e["models"] or ())]
        if not entries:
            raise not_found(f"model: {model}")
    return _page(entries, query)


def _entries(
    config: SimulatorConfig, models: ModelCatalog, classes: Callable[[str], str], org_id: str
) -> list[dict[str, Any]]:
    itpm = ITPM if config.count_cache_reads else ITPM_CACHE_AWARE
    limits = _limits(((RPM, config.rpm), (itpm, config.input_tpm), (OTPM, config.output_tpm)))
    members: dict[str, list[str]] = {}
    for spec in models.listed:
        members.setdefault(classes(spec.id), []).extend((spec.id, *spec.aliases))
    out = []
    if limits:
        for name, ids in members.items():
            group = {"type": "model_group", "id": _id("rlg", name), "display_name": _display(name)}
            out.append(_entry(org_id, group, limits, ids))
    for kind, rpm in (("token_count", config.count_tokens_rpm), ("batch", config.batch.rpm)):
        if rpm is not None:
            out.append(
                _entry(org_id, {"type": kind, "id": _id("rlg", kind)}, _limits(((RPM, rpm),)), None)
            )
    return out


def _entry(
    org_id: str, group: dict[str, Any], limits: list[dict[str, Any]], ids: list[str] | None
) -> dict[str, Any]:
    entry_id = _id("rl", f"{org_id}/{group['id']}")
    return {"type": "rate_limit", "id": entry_id, "group": group, "models": ids, "limits": limits}


def _limits(pairs: tuple[tuple[str, float | None], ...]) -> list[dict[str, Any]]:
    return [{"type": kind, "value": round(value)} for kind, value in pairs if value is not None]


def _id(prefix: str, name: str) -> str:
    # Hashed from the name: ids are stable across restarts, so cursors stay valid.
    return f"{prefix}_{hashlib.sha256(name.encode()).hexdigest()[:24]}"


def _display(model_class: str) -> str:
    """``claude-sonnet-4`` -> ``Claude Sonnet 4.x``; other class names are shown as is."""
    parts = model_class.split("-")
    if parts[0] != "claude" or len(parts) not in (2, 3):
        return model_class
    if len(parts) == 2:
        return f"Claude {parts[1].capitalize()}"
    return f"Claude {parts[1].capitalize()} {parts[2]}.x" if parts[2].isdigit() else model_class


def _page(entries: list[dict[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    start = 0
    if (cursor := query.get("page")) is not None:
        ids = [e["id"] for e in entries]
        if cursor not in ids:
            raise invalid("page: Invalid page cursor")
        start = ids.index(cursor)
    limit = page_limit(query.get("limit"), default=max(1, len(entries)))
    chosen = entries[start : start + limit]
    rest = entries[start + limit :]
    return {"data": chosen, "next_page": rest[0]["id"] if rest else None}
