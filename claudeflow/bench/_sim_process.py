"""A simulator in a child process, so a client under measurement has the CPU to itself.

The child runs the ``claudeflow simulate`` command (``python -m
claudeflow.bench._sim_process --port 0 ...``: the same parser and server, without
importing the other subcommands); its startup banner names the bound URL. It listens
on 127.0.0.1 only, and is stopped with SIGTERM (killed if it does not exit in time)
when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

__all__ = ["UNLIMITED_ZERO_LATENCY", "simulator_process"]

# The overhead benchmark's server: no limits, no latency.
UNLIMITED_ZERO_LATENCY = ("--unlimited", "--ttft", "0", "--per-token", "0")
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 5.0
_URL = re.compile(r"listening on (http://\S+)")


@asynccontextmanager
async def simulator_process(options: Sequence[str] = UNLIMITED_ZERO_LATENCY) -> AsyncIterator[str]:
    """Start ``claudeflow simulate`` with ``options`` on a free port; yield its URL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(_START_TIMEOUT_S):
            url = await _bound_url(child)
        yield url
    finally:
        await _stop(child)


async def _bound_url(child: asyncio.subprocess.Process) -> str:
    assert child.stdout is not None
    while line := (await child.stdout.readline()).decode(errors="replace"):
        if match := _URL.search(line):
            return match.group(1)
    error = b"" if child.stderr is None else await child.stderr.read()
    raise RuntimeError(f"simulator process exited before listening: {error.decode()[-500:]}")


async def _stop(child: asyncio.subprocess.Process) -> None:
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        try:
            async with asyncio.timeout(_STOP_TIMEOUT_S):
                await child.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()


def _main(argv: Sequence[str]) -> int:
    """``claudeflow simulate`` with ``argv``, as a standalone program."""
    import argparse

    from ..simulator import _cli

    parser = argparse.ArgumentParser(prog="claudeflow-bench-simulator")
    _cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", *argv])
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
