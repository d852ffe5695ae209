"""How bytes move: the transport protocol, the aiohttp transport, SSE and a mock."""

from __future__ import annotations

from ._aiohttp import AiohttpTransport as AiohttpTransport
from ._aiohttp import map_aiohttp_errors as map_aiohttp_errors
from ._base import ApiResponse as ApiResponse
from ._base import Response as Response
from ._base import SseEvent as SseEvent
from ._base import StreamResponse as StreamResponse
from ._base import Transport as Transport
from ._mock import MockHandler as MockHandler
from ._mock import MockRequest as MockRequest
from ._mock import MockStream as MockStream
from ._mock import MockTransport as MockTransport
from ._sse import SseParser as SseParser

__all__ = [
    "AiohttpTransport",
    "ApiResponse",
    "MockHandler",
    "MockRequest",
    "MockStream",
    "MockTransport",
    "Response",
    "SseEvent",
    "SseParser",
    "StreamResponse",
    "Transport",
    "map_aiohttp_errors",
]
