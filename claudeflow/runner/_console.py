"""What ``claudeflow run`` prints on stderr at the end, and the exit status it returns."""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # the runner's modules import the Flow: only when the command runs
    from ._options import RunFiles
    from ._progress import RunSummary

__all__ = [
    "EXIT_ABORTED",
    "EXIT_FAILURES",
    "EXIT_OK",
    "EXIT_USAGE",
    "abort_early",
    "exit_status",
    "fail",
    "report",
    "say",
]

EXIT_OK: Final = 0
EXIT_FAILURES: Final = 1
EXIT_USAGE: Final = 2
EXIT_ABORTED: Final = 3


def report(summary: RunSummary, files: RunFiles) -> None:
    """The summary, where the results are, and what to do next."""
    lines = [summary.render(), f"  results      {files.output}"]
    if summary.file_unsucceeded:
        lines.append(
            f"  dead letters {files.dead_letter}: {summary.file_unsucceeded:,} line(s) as given "
            f"(the reasons are in {files.output}; retry them into it: the same command "
            "with --retry-failed)"
        )
    if summary.abort_message:
        lines.append("  fix the cause above, then rerun the same command (nothing is lost)")
    elif summary.stop_reason == "budget reached":
        lines.append(
            f"  the budget covers what {files.output} already cost: continue with a larger "
            "--budget-usd"
        )
    elif summary.stop_reason:
        lines.append("  rerun the same command to continue where this run stopped")
    say("\n".join(lines))


def exit_status(summary: RunSummary, signals: Sequence[int] = ()) -> int:
    if summary.abort_message:
        return EXIT_ABORTED
    if summary.stop_reason == "interrupted":
        # The shell's convention for a process ended by a signal: 130 for SIGINT.
        return 128 + (signals[0] if signals else signal.SIGINT)
    if summary.stop_reason or summary.file_unsucceeded:
        return EXIT_FAILURES
    return EXIT_OK


def abort_early(why: str) -> int:
    say(f"claudeflow run: aborted before sending anything: {why}")
    return EXIT_ABORTED


def fail(message: str) -> int:
    say(f"claudeflow run: {message}")
    return EXIT_USAGE


def say(message: str) -> None:
    # Flushed at once: the line may be the last thing a killed run prints.
    print(message, file=sys.stderr, flush=True)
