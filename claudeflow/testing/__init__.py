"""Public test helpers: a virtual clock, canned API answers and simulator fixtures.

Not imported by ``import claudeflow``; import ``claudeflow.testing`` explicitly.
"""

from __future__ import annotations

from ._fake_clock import FakeClock as FakeClock
from ._fake_clock import settle as settle
from ._redis import RedisServer as RedisServer
from ._redis import redis_server as redis_server
from ._responses import error_response as error_response
from ._responses import message_response as message_response
from ._simulator import simulator as simulator

__all__ = [
    "FakeClock",
    "RedisServer",
    "error_response",
    "message_response",
    "redis_server",
    "settle",
    "simulator",
]
