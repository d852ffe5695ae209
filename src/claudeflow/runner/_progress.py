"""Counting a run and showing it: the live progress line and the final summary.

Plain text on stderr. On a terminal the progress line is redrawn in place; otherwise
(a log file, CI) each update is its own line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TextIO

from .._clock import Clock, LoopClock

__all__ = ["Progress", "RunSummary", "Tally", "format_duration"]


class Tally:
    """Live counters of one run, updated as lines are read and requests finish."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or LoopClock()
        self.started = self.clock.now()
        self.total_lines: int | None = None  # known once the background count finishes
        self.skipped = 0
        self.succeeded = 0
        self.failed = 0
        self.invalid = 0
        self.in_flight = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.stop_reason = ""

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.invalid

    @property
    def elapsed(self) -> float:
        return max(1e-9, self.clock.now() - self.started)

    def summary(self) -> RunSummary:
        return RunSummary(
            succeeded=self.succeeded,
            failed=self.failed,
            invalid=self.invalid,
            skipped=self.skipped,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cost_usd=self.cost_usd,
            elapsed_s=self.elapsed,
            stop_reason=self.stop_reason,
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run did. ``skipped`` lines were already done by an earlier run.

    ``stop_reason`` is empty when every line was handled, else why the run stopped early
    (``"interrupted"``, ``"budget reached"``); rerunning the same command resumes it.
    """

    succeeded: int
    failed: int
    invalid: int
    skipped: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    elapsed_s: float
    stop_reason: str = ""

    @property
    def complete(self) -> bool:
        """Every line was handled, successfully or not."""
        return not self.stop_reason

    def render(self) -> str:
        tokens = self.input_tokens + self.output_tokens
        state = f"stopped ({self.stop_reason})" if self.stop_reason else "finished"
        return "\n".join(
            (
                f"claudeflow run: {state} in {format_duration(self.elapsed_s)}",
                f"  succeeded {self.succeeded:,}  failed {self.failed:,}  "
                f"invalid {self.invalid:,}  skipped (already done) {self.skipped:,}",
                f"  tokens    {self.input_tokens:,} in / {self.output_tokens:,} out  "
                f"({tokens / max(self.elapsed_s, 1e-9):,.0f} tok/s)",
                f"  cost      ${self.cost_usd:,.4f}",
            )
        )


class Progress:
    """Writes the tally to ``stream`` on demand (the runner calls :meth:`show`)."""

    def __init__(self, tally: Tally, stream: TextIO) -> None:
        self._tally = tally
        self._stream = stream
        self._tty = stream.isatty()
        self._width = 0

    def show(self) -> None:
        line = self.line()
        if self._tty:
            # Redraw in place; pad over the remains of a longer previous line.
            self._stream.write("\r" + line.ljust(self._width))
            self._width = len(line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def end(self) -> None:
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()

    def line(self) -> str:
        t = self._tally
        rate = t.finished / t.elapsed
        tokens = (t.input_tokens + t.output_tokens) / t.elapsed
        total = f"/{t.total_lines:,}" if t.total_lines is not None else ""
        return (
            f"[{format_duration(t.elapsed)}] {t.finished + t.skipped:,}{total} lines | "
            f"ok {t.succeeded:,} failed {t.failed:,} invalid {t.invalid:,} "
            f"skipped {t.skipped:,} | in flight {t.in_flight} | {rate:,.1f} req/s "
            f"{tokens:,.0f} tok/s | ${t.cost_usd:,.4f} | ETA {self._eta(rate)}"
        )

    def _eta(self, rate: float) -> str:
        t = self._tally
        if t.total_lines is None or rate <= 0:
            return "?"
        left = max(0, t.total_lines - t.finished - t.skipped)
        return format_duration(left / rate)


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
