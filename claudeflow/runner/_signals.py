"""Ctrl-C and SIGTERM during ``claudeflow run``: stop gently first, then at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

from ._console import say
from ._progress import Tally

__all__ = ["signals", "uncancel"]


@contextlib.contextmanager
def signals(stop: asyncio.Event, tally: Tally) -> Iterator[list[int]]:
    """First Ctrl-C (or SIGTERM): abandon the queued lines, await the ones on the wire.
    Second: abandon those too. Yields the signals received, in order."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        # Only a second signal cancels: a stop for another reason (budget) still waits gently.
        if stop.is_set() and tally.stop_reason == "interrupted":
            if task is not None:
                task.cancel()
            return
        # The reason is set before stop, so whoever wakes on stop reads why.
        tally.stop_reason = "interrupted"
        stop.set()
        say(
            f"\nclaudeflow run: {signal.Signals(signum).name}: stopping; queued lines are "
            "abandoned, waiting only for the requests on the wire "
            "(Ctrl-C again to abandon them too); rerun the same command to resume"
        )

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # e.g. Windows
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(sig)
    try:
        yield received
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def uncancel() -> None:
    """Take back the second Ctrl-C's cancellation once it has been handled, so that the
    command can still write its summary and return its exit status."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
