"""Public test helpers: a virtual clock, canned API answers and simulator fixtures.

Not imported by ``import claudeflow``; import ``claudeflow.testing`` explicitly.
"""

from __future__ import annotations

from ._fake_clock import FakeClock as FakeClock
from ._fake_clock import settle as settle
from ._responses import error_response as error_response
from ._responses import message_response as message_response
from ._simulator import simulator as simulator

__all__ = ["FakeClock", "error_response", "message_response", "settle", "simulator"]
