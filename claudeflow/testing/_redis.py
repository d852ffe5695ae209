"""A real ``redis-server`` for tests: ``with redis_server() as server: server.url``.

It runs on a free ``127.0.0.1`` port from a temporary directory, keeps nothing on disk,
and can be stopped and started again on the same port (to test losing the server).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RedisServer", "redis_server"]

_READY = "Ready to accept connections"


class RedisServer:
    """One ``redis-server`` process; :meth:`start` and :meth:`stop` may repeat."""

    def __init__(self, *, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not on PATH; install it (e.g. apt-get install redis-server)"
            )
        self._binary = binary
        self._password = password
        self._dir = tempfile.TemporaryDirectory(prefix="claudeflow-redis-")
        self.port = _free_port()
        self._process: subprocess.Popen[str] | None = None
        self._drain: threading.Thread | None = None

    @property
    def url(self) -> str:
        auth = f":{self._password}@" if self._password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and return once it accepts connections."""
        if self.running:
            return
        args = [self._binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", self._dir.name, "--logfile", ""]
        if self._password:
            args += ["--requirepass", self._password]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._process = process
        assert process.stdout is not None
        log: list[str] = []
        for line in process.stdout:  # ends at EOF if the server dies first
            log.append(line)
            if _READY in line:
                break
        else:
            process.wait()
            process.stdout.close()
            raise RuntimeError(f"redis-server did not start:\n{''.join(log[-20:])}")
        # Keep reading so a chatty server never blocks on a full pipe.
        self._drain = threading.Thread(target=_drain, args=(process,), daemon=True)
        self._drain.start()

    def stop(self) -> None:
        """Kill the server at once (as a crash would) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait()
        if self._drain is not None:
            self._drain.join(timeout=5)  # it ends at EOF, once the server has exited
            self._drain = None
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, running={self.running})"


@contextmanager
def redis_server(*, password: str | None = None) -> Iterator[RedisServer]:
    """Run a fresh ``redis-server`` for the duration of the block."""
    server = RedisServer(password=password)
    try:
        server.start()
        yield server
    finally:
        server.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass
