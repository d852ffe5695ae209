"""Limits from the API itself: the Rate Limits API, read with an Admin key.

``GET /v1/organizations/rate_limits`` lists the organization's limits per model group
(SDK 2.x ``OrganizationRateLimit``; see :mod:`claudeflow.simulator._rate_limits_api` for
the shape, which the simulator serves from its configuration). :func:`fetch_rate_limits`
reads every page and returns limits per model id, ready for ``Flow(limits=...)``, so
nothing is guessed: each pool starts with its real limits instead of a probe.

The Admin key is used for this one call and kept nowhere.
"""

from __future__ import annotations

import json
from typing import Any, Final

from .._config import RateLimits, Timeouts
from .._errors import ConfigError, status_error
from ..transport import AiohttpTransport, Transport

__all__ = ["RATE_LIMITS_PATH", "fetch_rate_limits", "parse_rate_limits_response"]

RATE_LIMITS_PATH: Final = "/v1/organizations/rate_limits"
RPM: Final = "requests_per_minute"
ITPM: Final = "input_tokens_per_minute"
ITPM_CACHE_AWARE: Final = "input_tokens_per_minute_cache_aware"
OTPM: Final = "output_tokens_per_minute"
_MAX_PAGES = 100  # a loop guard: real organizations have a handful of groups


def parse_rate_limits_response(body: Any, *, window_s: float = 60.0) -> dict[str, RateLimits]:
    """Per model id, the limits a Rate Limits API page gives its model groups.

    ``body`` is the parsed JSON of ``GET /v1/organizations/rate_limits``; entries that are
    not model groups, and limiter types other than requests / input / output tokens per
    minute, are ignored (the cache-aware input limit wins over the plain one).
    ``window_s`` is the length of the limits' minute (a time-scaled simulator's
    ``minute_seconds``). Raises :class:`~claudeflow.ConfigError` naming ``body`` when it
    does not have that shape.

    >>> page = {"data": [{"type": "rate_limit", "id": "rl_1", "models": ["m"],
    ...     "group": {"type": "model_group", "id": "rlg_1", "display_name": "M"},
    ...     "limits": [{"type": "requests_per_minute", "value": 50}]}], "next_page": None}
    >>> parse_rate_limits_response(page)["m"].rpm
    50
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ConfigError("body", "must be a Rate Limits API page: an object with a 'data' list")
    out: dict[str, RateLimits] = {}
    for index, entry in enumerate(data):
        try:
            if entry["group"]["type"] != "model_group":
                continue
            values = {item["type"]: item["value"] for item in entry["limits"]}
            models: list[str] = entry["models"]
            limits = RateLimits(
                rpm=values.get(RPM),
                input_tpm=values.get(ITPM_CACHE_AWARE, values.get(ITPM)),
                output_tpm=values.get(OTPM),
                window_s=window_s,
            )
        except (KeyError, TypeError) as exc:
            # from None: the KeyError's traceback says nothing the message does not.
            raise ConfigError(
                "body", f"data[{index}] is not a rate-limit entry ({exc!r})"
            ) from None
        out.update((model, limits) for model in models)
    return out


async def fetch_rate_limits(
    admin_key: str,
    *,
    base_url: str = "https://api.anthropic.com",
    window_s: float = 60.0,
    transport: Transport | None = None,
) -> dict[str, RateLimits]:
    """Read the organization's limits per model id (every page) with an Admin key.

    >>> limits = await fetch_rate_limits(os.environ["ANTHROPIC_ADMIN_KEY"])  # doctest: +SKIP
    >>> flow = Flow(limits=limits)  # doctest: +SKIP

    :raises AuthenticationError: no or a wrong key (401)
    :raises PermissionDeniedError: the key is not an Admin key (403)
    """
    if not isinstance(admin_key, str) or not admin_key:
        raise ConfigError("admin_key", "must be a non-empty str (an Admin key, sk-ant-admin...)")
    # A transport the caller passed is theirs to close; one made here is closed here.
    owned = transport is None
    # 30 s, not the Messages default of 600: a listing of limits is small and quick.
    sender = transport or AiohttpTransport(base_url, timeouts=Timeouts(total=30))
    headers = {"x-api-key": admin_key, "anthropic-version": "2023-06-01"}
    limits: dict[str, RateLimits] = {}
    try:
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            path = RATE_LIMITS_PATH + (f"?page={cursor}" if cursor else "")
            response = await sender.send("GET", path, headers=headers)
            body = await response.read()
            if response.status >= 300:
                raise status_error(response.status, response.headers, body)
            page = json.loads(body)
            limits.update(parse_rate_limits_response(page, window_s=window_s))
            cursor = page.get("next_page")
            if not cursor:
                break
    finally:
        if owned:
            await sender.aclose()
    return limits
