"""The results file and the dead-letter file of one run, kept in step.

A line's result is written before its dead letter, and the dead letters never reach the
disk ahead of their results: resuming trusts the results file, so the dead-letter file
is the one brought in line with it (restored from the input after a crash between the
two, or rewritten to the final failures after a ``retry_failed`` run).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .._clock import Clock
from ._input import STDIN
from ._log import JsonlLog, count_complete_lines
from ._options import RunFiles

__all__ = ["Outputs"]


class Outputs:
    """The open results (:attr:`results`) and dead-letter (:attr:`dead`) logs of a run."""

    def __init__(self, files: RunFiles, *, fsync_interval_s: float, clock: Clock) -> None:
        self.files = files
        self._fsync_interval_s = fsync_interval_s
        self._clock = clock
        self.results = self._log(files.output)
        try:
            # sync_first: the dead letters never reach the disk ahead of their results.
            self.dead = self._log(files.dead_letter, sync_first=self.results)
        except BaseException:
            self.results.close()
            raise

    def repairs(self) -> Iterator[str]:
        """A notice for each file whose partial last line was cut off on opening."""
        for log in (self.results, self.dead):
            if log.repaired_bytes:
                yield (
                    f"{log.path}: cut off a partial last line ({log.repaired_bytes} bytes) "
                    "left by an interrupted run; that line is redone"
                )

    def close(self) -> None:
        self.results.close()
        self.dead.close()

    def write_failure(
        self, record: dict[str, Any], raw: bytes | None, offset: int, source: Path | None
    ) -> None:
        """The result first (it is what resuming trusts), then the line as a dead letter."""
        self.results.append(record)
        if raw is not None:
            self.dead.append_line(raw)
        elif offset >= 0:  # a line too long to hold (or a batch line): copy it from where it is
            self.dead.copy_line(source or self.files.input, offset)

    def match_dead_letters(self, offsets: list[int], notify: Callable[[str], None]) -> None:
        """The dead letters are the final failures, in order: restore or rewrite them."""
        have = count_complete_lines(self.files.dead_letter)
        if have == len(offsets):
            return
        # Dead letters are copied from the input by offset; stdin cannot be read twice.
        if self.files.input == STDIN:
            notify(
                f"{self.dead.path}: holds {have} line(s) for {len(offsets)} failure(s) in "
                f"{self.files.output}; they cannot be copied from stdin again"
            )
        elif have < len(offsets):  # a crash fell between a result and its dead letter
            restored = 0
            for offset in offsets[have:]:
                if offset >= 0 and self.dead.copy_line(self.files.input, offset):
                    restored += 1
            if restored:
                notify(f"{self.dead.path}: restored {restored} dead letter(s) lost in a crash")
        else:  # a retry run ended before it rewrote them
            self.rewrite_dead_letters(offsets)
            notify(f"{self.dead.path}: rewritten to the {len(offsets)} line(s) still failed")

    def rewrite_dead_letters(self, offsets: list[int]) -> None:
        """Replace the dead-letter file, at once, by the input lines at ``offsets``."""
        self.results.sync()  # the dead letters never reach the disk ahead of their results
        self.dead.close()
        target = self.files.dead_letter
        # Written beside the target and renamed over it: a kill leaves the old file whole.
        fresh = self._log(target.with_name(target.name + ".tmp"))
        fresh.path.unlink(missing_ok=True)
        for offset in offsets:
            if offset >= 0:
                fresh.copy_line(self.files.input, offset)
        fresh.close()
        # An empty file is removed, not kept: no dead letters means every line succeeded.
        if fresh.written:
            os.replace(fresh.path, target)
        else:
            target.unlink(missing_ok=True)
        self.dead = self._log(target, sync_first=self.results)

    def _log(self, path: Path, sync_first: JsonlLog | None = None) -> JsonlLog:
        return JsonlLog(
            path, fsync_interval_s=self._fsync_interval_s, clock=self._clock, sync_first=sync_first
        )
