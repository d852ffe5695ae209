"""Small pieces every endpoint shares: app keys and reading a JSON body."""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from .._errors import InvalidRequestError
from ._gateway import Call, Gateway

__all__ = ["GATEWAY", "Exchange", "exchange", "identified", "read_json"]

GATEWAY: Final = web.AppKey("claudeflow_gateway", Gateway)


@dataclass(slots=True)
class Exchange:
    """What the access-log middleware and a handler share about one request.

    Kept in a context variable (the handler runs in the middleware's task) rather than
    in ``request[...]``, whose typed keys exist only in recent aiohttp versions.
    """

    request_id: str
    call: Call | None = None


_EXCHANGE: ContextVar[Exchange] = ContextVar("claudeflow_gateway_exchange")


def exchange() -> Exchange:
    return _EXCHANGE.get()


def begin_exchange(request_id: str) -> tuple[Exchange, Any]:
    current = Exchange(request_id)
    return current, _EXCHANGE.set(current)


def end_exchange(token: Any) -> None:
    _EXCHANGE.reset(token)


async def identified(request: web.Request, api: str) -> tuple[Call, dict[str, Any]]:
    """Who is calling (401 if nobody we know) and the JSON body they sent."""
    body = await read_json(request)
    call = request.app[GATEWAY].identify(request.headers, api)
    exchange().call = call  # from here on, the metrics know who it was
    return call, body


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or :class:`InvalidRequestError` saying why not."""
    try:
        body = json.loads(await request.read())
    # The API's own wording, so SDKs and clients see the message they know.
    except (ValueError, UnicodeDecodeError):
        # from None: the JSON parser's traceback says nothing to an HTTP client.
        raise InvalidRequestError(
            "There was an error parsing the body of your request as JSON"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return body
