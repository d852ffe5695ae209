"""Running the gateway: build everything from a config, serve, reload, shut down.

Signals: SIGTERM and SIGINT stop accepting connections, let running requests finish for
up to ``shutdown_timeout_s`` (the Flow drains its queue meanwhile), then cancel what is
left. SIGHUP re-reads the config file and swaps in its clients, quotas and alert rules
without touching the engine, so no queued or running request is dropped; a config
that fails to validate is logged and the old one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .._clock import Clock
from .._errors import ConfigError
from ..transport import Transport
from ._app import create_app
from ._config import GatewayConfig, load_config
from ._engine import build_engine
from ._gateway import Gateway

__all__ = ["RunningGateway", "build_gateway", "reload_config", "run_gateway", "serve"]

logger = logging.getLogger("claudeflow.gateway")


def build_gateway(
    config: GatewayConfig, *, transport: Transport | None = None, clock: Clock | None = None
) -> Gateway:
    """The gateway for ``config``: its engine built, nothing started yet."""
    return Gateway(
        config, build_engine(config.upstream, transport=transport, clock=clock), clock=clock
    )


@dataclass(frozen=True, slots=True)
class RunningGateway:
    """A gateway being served: where it listens, and the object itself."""

    url: str
    gateway: Gateway
    runner: web.AppRunner


@contextlib.asynccontextmanager
async def run_gateway(
    config: GatewayConfig,
    *,
    transport: Transport | None = None,
    sample_every_s: float = 1.0,
    sock: socket.socket | None = None,
) -> AsyncIterator[RunningGateway]:
    """Serve ``config`` on its host and port (0: a free port) for the block's duration.

    :param sock: a listening socket to serve instead (a worker of ``--workers N``)
    """
    gateway = build_gateway(config, transport=transport)
    runner = web.AppRunner(
        create_app(gateway, sample_every_s=sample_every_s),
        # aiohttp's own access log is off: _observe writes one JSON line per request instead.
        access_log=None,
        shutdown_timeout=config.shutdown_timeout_s,
    )
    await runner.setup()
    try:
        site: web.BaseSite = (
            web.TCPSite(runner, config.host, config.port)
            if sock is None
            else web.SockSite(runner, sock)
        )
        await site.start()
        # The real port: port 0 in the config asks the OS for a free one.
        port = runner.addresses[0][1]
        yield RunningGateway(f"http://{config.host}:{port}", gateway, runner)
    finally:
        # Before cleanup: /readyz says draining for the whole shutdown timeout.
        gateway.accepting = False
        await runner.cleanup()


def reload_config(gateway: Gateway) -> bool:
    """Re-read the gateway's config file; keep the old config if the new one is bad."""
    # A config built in code has no file to read again.
    if gateway.config.source is None:
        return False
    try:
        config = load_config(gateway.config.source)
    except ConfigError as exc:
        logger.error("config reload failed, keeping the old one: %s", exc)
        return False
    if (config.upstream, config.host, config.port) != (
        gateway.config.upstream, gateway.config.host, gateway.config.port
    ):  # fmt: skip
        # The engine holds the queue: rebuilding it for a reload would drop every request in it.
        logger.warning("config reload: [upstream], host and port take effect on restart only")
    gateway.reload(config)
    logger.info("config reloaded: %d clients", len(config.clients))
    return True


async def serve(path: str | Path, *, sock: socket.socket | None = None) -> None:
    """Serve the config at ``path`` until SIGTERM or SIGINT; SIGHUP reloads it.

    :param sock: the listening socket of one worker of ``--workers N``
    """
    config = load_config(path)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    async with run_gateway(config, sock=sock) as running:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        # In the loop, not a signal.signal handler: a reload then never runs mid-request code.
        loop.add_signal_handler(signal.SIGHUP, reload_config, running.gateway)
        if sock is None:
            # Printed, not logged: one banner on stdout, where scripts look for the URL.
            print(f"claudeflow gateway listening on {running.url}", flush=True)
        else:
            logger.info("claudeflow gateway worker %d serving %s", os.getpid(), running.url)
        try:
            await stop.wait()
            logger.info("shutting down: draining requests in progress")
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
