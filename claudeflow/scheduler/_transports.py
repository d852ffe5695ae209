"""The Flow's connections: its own transport, and one per other endpoint a key names."""

from __future__ import annotations

import asyncio

from .._config import Timeouts
from ..transport import AiohttpTransport, Transport

__all__ = ["Transports"]


class Transports:
    """The transports of one Flow; it closes the ones it made, never one it was given."""

    def __init__(self, base_url: str, given: Transport | None, timeouts: Timeouts) -> None:
        self.base_url = base_url
        self.main: Transport = given or AiohttpTransport(base_url, timeouts=timeouts)
        self._owns_main = given is None
        self._timeouts = timeouts
        self._others: dict[str, Transport] = {}

    def for_url(self, base_url: str | None) -> Transport:
        """The main transport, or (for a key with its own endpoint) one made for it."""
        if base_url is None or base_url == self.base_url:
            return self.main
        found = self._others.get(base_url)
        if found is None:
            found = AiohttpTransport(base_url, timeouts=self._timeouts)
            self._others[base_url] = found
        return found

    async def aclose(self) -> None:
        """Close every transport made here; one failing to close stops none of the others."""
        closing = [t.aclose() for t in self._others.values()]
        if self._owns_main:
            closing.append(self.main.aclose())
        self._others.clear()
        await asyncio.gather(*closing, return_exceptions=True)
