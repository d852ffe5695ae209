"""Run the simulator on a real socket: :func:`run_simulator`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from .._clock import Clock
from ._app import create_app
from ._config import SimulatorConfig
from ._core import SimulatedAPI

__all__ = ["SimulatorServer", "run_simulator"]

_GRACE_S = 0.5


class SimulatorServer:
    """A running simulator: its base ``url`` (no trailing slash) and its core ``api``."""

    __slots__ = ("api", "host", "port", "url")

    def __init__(self, api: SimulatedAPI, host: str, port: int) -> None:
        self.api = api
        self.host = host
        self.port = port
        self.url = f"http://{_url_host(host)}:{port}"

    def stats(self) -> dict[str, Any]:
        """The core's counters (same as ``GET {url}/_stats``)."""
        return self.api.stats()

    def __repr__(self) -> str:
        return f"SimulatorServer(url={self.url!r})"


@asynccontextmanager
async def run_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock | None = None,
) -> AsyncIterator[SimulatorServer]:
    """Serve a :class:`SimulatedAPI` on ``host:port`` (0 = any free port) until exit.

    >>> async def demo() -> None:
    ...     async with run_simulator(SimulatorConfig(rpm=50)) as sim:
    ...         print(sim.url)  # e.g. http://127.0.0.1:54321
    """
    api = SimulatedAPI(config, clock)
    # No access log: it costs more than the whole core on the hot path.
    # In-flight replies get a short grace period at exit, then are cancelled (and settled).
    runner = web.AppRunner(create_app(api), access_log=None, shutdown_timeout=_GRACE_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        bound = runner.addresses[0][1]
        yield SimulatorServer(api, host, int(bound))
    finally:
        await runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
