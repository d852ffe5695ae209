"""A Python module run in a child process that never outlives the block using it.

The benchmarks run servers and workers as separate processes so that each has a CPU to
itself; a failed or cancelled benchmark must not leave them behind. When the block ends
the child is asked to stop (SIGTERM), then killed if it has not exited in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

__all__ = ["python_child"]

_STOP_TIMEOUT_S: Final = 5.0


@asynccontextmanager
async def python_child(
    module: str, *args: str, stdin: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m module args`` with piped stdout and stderr (``stdin`` as given)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield child
    finally:
        await _stop(child)


async def _stop(child: asyncio.subprocess.Process) -> None:
    if child.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        async with asyncio.timeout(_STOP_TIMEOUT_S):
            await child.communicate()  # drains the pipes: a full pipe would block its exit
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
