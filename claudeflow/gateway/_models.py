"""``GET /v1/models`` and ``/v1/models/{id}``: the aliases and models a key may use.

One route serves both SDKs: the Anthropic SDK always sends ``anthropic-version`` and
the OpenAI SDK never does, so that header picks the shape of the answer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .._errors import ClaudeflowError
from ._anthropic import error_response as anthropic_error
from ._clients import UnknownModel
from ._config import ClientConfig
from ._gateway import Gateway
from ._openai import error_response as openai_error
from ._wire import GATEWAY

__all__ = ["get_model", "list_models"]

# The gateway does not know when a model was released; a fixed date keeps the shape.
_CREATED = "2025-01-01T00:00:00Z"


async def list_models(request: web.Request) -> web.Response:
    anthropic = "anthropic-version" in request.headers
    try:
        ids = _model_ids(request.app[GATEWAY], request)
    except ClaudeflowError as exc:
        return anthropic_error(exc) if anthropic else openai_error(exc)
    if anthropic:
        first, last = (ids[0], ids[-1]) if ids else (None, None)
        data = [_anthropic_model(i) for i in ids]
        return web.json_response(
            {"data": data, "has_more": False, "first_id": first, "last_id": last}
        )
    return web.json_response({"object": "list", "data": [_openai_model(i) for i in ids]})


async def get_model(request: web.Request) -> web.Response:
    anthropic = "anthropic-version" in request.headers
    model_id = request.match_info["model_id"]
    try:
        if model_id not in _model_ids(request.app[GATEWAY], request):
            raise UnknownModel(f"model: {model_id}")
    except ClaudeflowError as exc:
        return anthropic_error(exc) if anthropic else openai_error(exc)
    return web.json_response(_anthropic_model(model_id) if anthropic else _openai_model(model_id))


def _model_ids(gateway: Gateway, request: web.Request) -> list[str]:
    # Authenticated: the model list depends on the key, and says what the gateway serves.
    client: ClientConfig = gateway.clients.authenticate(request.headers).client
    upstream, routes = gateway.config.upstream, gateway.config.upstream.routes
    names = [*upstream.aliases, *routes.aliases, *routes.splits, *upstream.models]
    # The real ids behind aliases and splits too: a client may ask for either.
    names += [target for name in names for target in upstream.targets(name)]
    # Only what this key may use: listing the rest would invite 403s.
    return [n for n in dict.fromkeys(names) if gateway.config.allows(client, n)]


def _anthropic_model(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": _CREATED}


def _openai_model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "anthropic"}
