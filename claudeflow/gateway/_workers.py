"""``claudeflow serve --workers N``: a parent that forks N gateway processes on one port.

Why a forking parent with one ``SO_REUSEPORT`` socket per worker: the parent binds every
socket before any worker starts, so the port is known (``port = 0`` works), a connection
that arrives while a worker is still starting waits in its backlog instead of being
refused, and the kernel spreads connections evenly over the workers (one shared socket
would let whichever process wakes first take most of them). The parent runs no event
loop and holds no socket once the workers run: it only forwards signals and reaps.

The workers share the account's limits through ``upstream.redis`` (each builds its own
Flow on a :class:`~claudeflow.limiter.RedisBackend`), so N > 1 without it is refused.
Client quotas, metrics and the dashboard are per worker.

Signals to the parent: SIGTERM and SIGINT reach every worker as SIGTERM (each drains as
a single gateway does); SIGHUP reaches every worker (each reloads the file). A worker
that dies unexpectedly stops the others, and the parent exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Final

from .._errors import ConfigError
from ._config import GatewayConfig, load_config

__all__ = ["serve_workers"]

logger = logging.getLogger("claudeflow.gateway")

_FORWARDED: Final = {
    signal.SIGTERM: signal.SIGTERM,
    signal.SIGINT: signal.SIGTERM,
    signal.SIGHUP: signal.SIGHUP,
}


def serve_workers(path: str | Path, workers: int) -> int:
    """Fork ``workers`` gateways serving the config at ``path``; the exit status."""
    config = load_config(path)
    if config.upstream.redis is None:
        raise ConfigError(
            "--workers",
            f'{workers} workers need shared limits: set upstream.redis = "redis://..." '
            "(without it each worker would spend the whole rate limit on its own)",
        )
    sockets = listen(config, workers)
    port = sockets[0].getsockname()[1]
    # Signals wait until the parent's handlers (and each worker's defaults) are in place.
    signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED)
    pids = [_fork(path, sock, sockets) for sock in sockets]
    for sock in sockets:
        sock.close()
    print(
        f"claudeflow gateway listening on http://{config.host}:{port} ({workers} workers)",
        flush=True,
    )
    return _supervise(pids)


def listen(config: GatewayConfig, count: int) -> list[socket.socket]:
    """``count`` listening sockets in one ``SO_REUSEPORT`` group on the config's port."""
    sockets: list[socket.socket] = []
    port = config.port
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((config.host, port))
            port = sock.getsockname()[1]  # port 0: the rest join the first one's port
            # A deep backlog: connections that arrive while a worker starts wait rather than fail.
            sock.listen(1024)
            # As asyncio wants it: the worker's loop takes the socket as it is.
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _fork(path: str | Path, sock: socket.socket, sockets: list[socket.socket]) -> int:
    pid = os.fork()
    if pid:
        return pid
    # The worker: its own socket only, default signals until its loop installs its own.
    status = 1
    try:
        for other in sockets:
            if other is not sock:
                other.close()
        for sig in _FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
        from ._server import serve

        asyncio.run(serve(path, sock=sock))
        status = 0
    except BaseException as exc:  # a worker must never return into the parent's code
        logger.error("gateway worker %d failed: %s", os.getpid(), exc)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # _exit: a forked child must not run the parent's atexit handlers or cleanups.
        os._exit(status)


def _supervise(pids: list[int]) -> int:
    """Forward signals to the workers and reap them; 0 if every one stopped cleanly."""
    alive = set(pids)
    stopping = False

    def forward(signum: int, _frame: Any) -> None:
        nonlocal stopping
        if signum != signal.SIGHUP:
            stopping = True
        _send(alive, _FORWARDED[signal.Signals(signum)])

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED)
    status = 0
    while alive:
        pid, code = os.waitpid(-1, 0)
        # Not a worker: some library's own subprocess.
        if pid not in alive:
            continue
        alive.discard(pid)
        # Any exit we did not ask for, even a clean one, is a worker lost.
        if code != 0 or not stopping:
            logger.error("gateway worker %d exited (status %d); stopping the others", pid, code)
            status, stopping = 1, True
            _send(alive, signal.SIGTERM)
    return status


def _send(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        # Gone between waitpid and kill: nothing left to tell.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
