"""Public test helpers: a virtual clock and simulator fixtures.

Not imported by ``import claudeflow``; import ``claudeflow.testing`` explicitly.
"""

from __future__ import annotations

from ._fake_clock import FakeClock as FakeClock
from ._fake_clock import settle as settle
from ._simulator import simulator as simulator

__all__ = ["FakeClock", "settle", "simulator"]
