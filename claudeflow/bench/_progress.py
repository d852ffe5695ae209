"""A plain-text progress display on stderr: one line per run, redrawn on a terminal."""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``[3/25] rpm_bound · sdk  412/720 done  2.1s``; silent when ``enabled`` is false.

    On a terminal the line is redrawn in place while a run goes; elsewhere (CI, a log
    file) only each run's final line is written, so logs stay short.
    """

    def __init__(
        self, total_runs: int, *, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self._stream = stream or sys.stderr
        self._enabled = enabled
        self._live = enabled and self._stream.isatty()
        self._total = total_runs
        self._index = 0
        self._label = ""
        self._size = 0

    def begin(self, label: str, size: int) -> None:
        self._index += 1
        self._label = label
        self._size = size
        self.tick(0, 0.0)

    def tick(self, done: int, elapsed: float) -> None:
        if self._live:
            self._stream.write(f"\r\033[K{self._line(done, elapsed)}")
            self._stream.flush()

    def end(self, summary: str) -> None:
        if not self._enabled:
            return
        prefix = "\r\033[K" if self._live else ""
        self._stream.write(f"{prefix}[{self._index}/{self._total}] {self._label}  {summary}\n")
        self._stream.flush()

    def note(self, text: str) -> None:
        if self._enabled:
            self._stream.write(f"{text}\n")
            self._stream.flush()

    def _line(self, done: int, elapsed: float) -> str:
        head = f"[{self._index}/{self._total}] {self._label}"
        return f"{head}  {done}/{self._size} done  {elapsed:.1f}s"
