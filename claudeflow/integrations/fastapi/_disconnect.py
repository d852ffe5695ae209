"""Stop a Claude call the moment its HTTP client goes away.

ASGI servers do not cancel a handler when the client disconnects: they only report an
``http.disconnect`` message on ``receive``. Without watching for it, an abandoned
request keeps its place in line, its concurrency slot and its token reservation until
Claude answers a caller that is gone. :func:`cancel_on_disconnect` races the call
against that message and cancels the call first, which makes the Flow drop the job and
settle its permit (everything not used goes back).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

from ..._errors import RequestRejected

__all__ = ["ClientDisconnectedError", "Receive", "cancel_on_disconnect"]

T = TypeVar("T")
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientDisconnectedError(RequestRejected):
    """The HTTP client disconnected; its Claude call was cancelled and released."""


async def cancel_on_disconnect(receive: Receive, call: Awaitable[T]) -> T:
    """Await ``call``; if the client disconnects first, cancel it and raise.

    Call it after the request body has been read (FastAPI reads declared body
    parameters before the handler runs): the watcher consumes ``receive`` messages.

    :raises ClientDisconnectedError: the client left before ``call`` finished
    """
    task = asyncio.ensure_future(call)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also runs when this handler is itself cancelled: never leave the call running.
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled() and watcher.done() and not watcher.cancelled():
        raise ClientDisconnectedError("the client disconnected; the Claude call was cancelled")
    return task.result()


async def _disconnected(receive: Receive) -> None:
    """Return once ``receive`` reports ``http.disconnect``.

    Each turn awaits the server, and after the body the server sends nothing but the
    disconnect, so this loop ends with the connection (or is cancelled with the call).
    """
    while True:
        message = await receive()
        if message.get("type") == "http.disconnect":
            return
