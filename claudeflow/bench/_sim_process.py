"""A simulator in a child process, so a client under measurement has the CPU to itself.

The child runs the ``claudeflow simulate`` command (``python -m
claudeflow.bench._sim_process --port 0 ...``: the same parser and server, without
importing the other subcommands); its startup banner names the bound URL. It listens
on 127.0.0.1 only, and is stopped with SIGTERM (killed if it does not exit in time)
when the block ends (see :mod:`._child`).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from ._child import python_child

__all__ = ["UNLIMITED_ZERO_LATENCY", "simulator_process"]

# The overhead benchmark's server: no limits, no latency.
UNLIMITED_ZERO_LATENCY = ("--unlimited", "--ttft", "0", "--per-token", "0")
_START_TIMEOUT_S = 30.0
_URL = re.compile(r"listening on (http://\S+)")


@asynccontextmanager
async def simulator_process(options: Sequence[str] = UNLIMITED_ZERO_LATENCY) -> AsyncIterator[str]:
    """Start ``claudeflow simulate`` with ``options`` on a free port; yield its URL."""
    args = ("--host", "127.0.0.1", "--port", "0", *options)
    async with python_child(__name__, *args, stdin=asyncio.subprocess.DEVNULL) as child:
        async with asyncio.timeout(_START_TIMEOUT_S):
            url = await _bound_url(child)
        yield url


async def _bound_url(child: asyncio.subprocess.Process) -> str:
    assert child.stdout is not None
    while line := (await child.stdout.readline()).decode(errors="replace"):
        if match := _URL.search(line):
            return match.group(1)
    error = b"" if child.stderr is None else await child.stderr.read()
    raise RuntimeError(f"simulator process exited before listening: {error.decode()[-500:]}")


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
