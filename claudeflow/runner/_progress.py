"""Counting a run and showing it: the live progress line and the final summary.

Plain text on stderr. On a terminal the progress line is redrawn in place; otherwise
(a log file, CI) each update is its own line. Rates and the ETA come from the lines
drawn over the last :data:`RATE_WINDOW_S` seconds, not from the start, so a fast start
(full rate-limit buckets) does not make the ETA of the slower steady state look short.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final, TextIO

from .._clock import Clock, LoopClock
from ..tokens import Usage

__all__ = [
    "RATE_WINDOW_S",
    "BatchCounts",
    "Progress",
    "RunSummary",
    "Tally",
    "format_duration",
    "showing",
]

RATE_WINDOW_S: Final = 10.0


@dataclass(slots=True)
class BatchCounts:
    """A ``--batches`` run's batches: how many were submitted (or resumed) and have
    ended, and their requests by state (the API's latest ``request_counts``)."""

    submitted: int = 0
    ended: int = 0
    requests: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        r = self.requests
        return (
            f"batches {self.submitted:,} submitted {self.ended:,} ended | "
            f"processing {r['processing']:,} succeeded {r['succeeded']:,} "
            f"errored {r['errored']:,} expired {r['expired']:,}"
        )


class Tally:
    """Live counters of one run, updated as lines are read and requests finish.

    ``prior`` counts the lines of the results file by status when the run started (a
    retried line leaves its old status when its new record is written: ``retried``);
    ``prior_cost_usd`` is what those records cost; ``unpriced`` counts this run's
    successes without a price (their cost is not in ``cost_usd``); ``queued``,
    ``in_flight``, ``retries`` and ``last_error`` mirror the Flow and are refreshed
    before each progress line.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or LoopClock()
        self.started = self.clock.now()
        self.total_lines: int | None = None  # known once the background count finishes
        self.prior: Counter[str] = Counter()
        self.skipped = 0
        self.blank = 0
        self.succeeded = 0
        self.failed = 0
        self.invalid = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost_usd = 0.0
        self.prior_cost_usd = 0.0
        self.unpriced = 0
        self.retried = 0
        self.queued = 0
        self.in_flight = 0
        self.retries = 0
        self.last_error = ""
        self.stop_reason = ""
        self.abort_message = ""
        self.batches: BatchCounts | None = None  # a --batches run: what its batches hold

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed + self.invalid

    @property
    def elapsed(self) -> float:
        # Never zero: rates divide by it, and a run can end within one clock tick.
        return max(1e-9, self.clock.now() - self.started)

    def add_success(self, usage: Usage, cost_usd: float | None) -> None:
        self.succeeded += 1
        self.input_tokens += usage.total_input
        self.output_tokens += usage.output_tokens
        if cost_usd is None:
            self.unpriced += 1
        else:
            self.cost_usd += cost_usd

    def abort(self, message: str) -> None:
        """Record why the run must stop now (the first reason wins)."""
        if not self.abort_message:
            self.stop_reason = "aborted"
            self.abort_message = message

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
            blank=self.blank,
            total_lines=self.total_lines,
            file_succeeded=self.prior["succeeded"] + self.succeeded,
            file_failed=self.prior["failed"] + self.failed,
            file_invalid=self.prior["invalid"] + self.invalid,
            abort_message=self.abort_message,
            unpriced=self.unpriced,
            retried=self.retried,
            file_cost_usd=self.prior_cost_usd + self.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What one run did, and what the results file holds after it.

    ``skipped`` lines were already done by an earlier run; ``blank`` lines are not
    requests and count nowhere else. ``file_*`` count the results file's lines by status
    (earlier runs included). ``stop_reason`` is empty when every line was handled, else
    why the run stopped early (``"interrupted"``, ``"budget reached"``, ``"aborted"``
    with ``abort_message``); rerunning the same command resumes it. ``cost_usd`` is
    this run's, ``file_cost_usd`` the results file's in all; ``unpriced`` successes
    (a model without a price) are in neither. ``retried`` lines were failures of an
    earlier run sent again (``retry_failed``).
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
    blank: int = 0
    total_lines: int | None = None
    file_succeeded: int = 0
    file_failed: int = 0
    file_invalid: int = 0
    abort_message: str = ""
    unpriced: int = 0
    retried: int = 0
    file_cost_usd: float = 0.0

    @property
    def complete(self) -> bool:
        """Every line was handled, successfully or not."""
        return not self.stop_reason

    @property
    def file_unsucceeded(self) -> int:
        """Failed and invalid lines in the results file (this run's and earlier ones)."""
        return self.file_failed + self.file_invalid

    @property
    def remaining(self) -> int | None:
        """Input lines not in the results file yet (``None`` if the total is unknown)."""
        if self.total_lines is None:
            return None
        # Clamped: the background count may disagree with what was read if the file changed.
        return max(0, self.total_lines - self.skipped - self.succeeded - self.failed - self.invalid)

    def render(self) -> str:
        tokens = self.input_tokens + self.output_tokens
        if self.abort_message:
            state = "aborted"
        else:
            state = f"stopped ({self.stop_reason})" if self.stop_reason else "finished"
        lines = [f"claudeflow run: {state} in {format_duration(self.elapsed_s)}"]
        if self.abort_message:
            lines.append(f"  cause        {self.abort_message}")
        blank = f"  blank lines {self.blank:,}" if self.blank else ""
        retried = f"  retried {self.retried:,}" if self.retried else ""
        unpriced = (
            f"  (+ {self.unpriced:,} unpriced request(s): no price for their model)"
            if self.unpriced
            else ""
        )
        lines += [
            f"  this run     succeeded {self.succeeded:,}  failed {self.failed:,}  "
            f"invalid {self.invalid:,}  skipped (already done) {self.skipped:,}{blank}{retried}",
            f"  results file succeeded {self.file_succeeded:,}  failed {self.file_failed:,}  "
            f"invalid {self.file_invalid:,}{self._done_of_total()}",
            f"  tokens       {self.input_tokens:,} in / {self.output_tokens:,} out  "
            f"({tokens / max(self.elapsed_s, 1e-9):,.0f} tok/s)",
            f"  cost         ${self.cost_usd:,.4f} this run, ${self.file_cost_usd:,.4f} in the "
            f"results file{unpriced}",
        ]
        return "\n".join(lines)

    def _done_of_total(self) -> str:
        remaining = self.remaining
        if remaining is None or self.total_lines is None:
            return ""
        done = self.total_lines - remaining
        return f"  ({done:,} of {self.total_lines:,} input lines done, {remaining:,} to go)"


class Progress:
    """Writes the tally to ``stream`` on demand (the runner calls :meth:`show`)."""

    def __init__(
        self, tally: Tally, stream: TextIO, *, rate_window_s: float = RATE_WINDOW_S
    ) -> None:
        self._tally = tally
        self._stream = stream
        self._tty = stream.isatty()
        self._width = 0
        self._window = rate_window_s
        # (time, lines finished, tokens) at each line drawn, over the last window. The
        # start is not a sample: the first burst (full buckets) would skew the rate.
        self._samples: deque[tuple[float, int, int]] = deque()

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
        rate, tokens = self._recent_rates()
        total = f"/{t.total_lines:,}" if t.total_lines is not None else ""
        text = (
            f"[{format_duration(t.elapsed)}] {t.finished + t.skipped:,}{total} lines | "
            f"ok {t.succeeded:,} failed {t.failed:,} invalid {t.invalid:,} "
            f"skipped {t.skipped:,} | {self._waiting()} | "
            f"{rate:,.1f} req/s {tokens:,.0f} tok/s | ${t.cost_usd:,.4f} | "
            f"ETA {self._eta(rate)}"
        )
        if t.last_error:
            text += f" | retries {t.retries:,}, last error: {t.last_error}"
        return text

    def _waiting(self) -> str:
        """What is under way: the Flow's queue and wire, or the batches'."""
        t = self._tally
        if t.batches is not None:
            return t.batches.line()
        return f"queued {t.queued} in flight {t.in_flight}"

    def _recent_rates(self) -> tuple[float, float]:
        """Lines and tokens per second between the samples of the last window.

        Until there are two samples (the first line), the rates since the start.
        """
        t = self._tally
        now = t.clock.now()
        tokens = t.input_tokens + t.output_tokens
        self._samples.append((now, t.finished, tokens))
        # Two samples are always kept: a slow redraw interval must not leave no span at all.
        while len(self._samples) > 2 and self._samples[0][0] < now - self._window:
            self._samples.popleft()
        then, finished_then, tokens_then = self._samples[0]
        if len(self._samples) < 2:
            then, finished_then, tokens_then = t.started, 0, 0
        span = now - then
        if span <= 0:
            return 0.0, 0.0
        return (t.finished - finished_then) / span, (tokens - tokens_then) / span

    def _eta(self, rate: float) -> str:
        t = self._tally
        left = None if t.total_lines is None else max(0, t.total_lines - t.finished - t.skipped)
        if left == 0:
            return format_duration(0.0)  # done: no rate is needed to say so
        if left is None or rate <= 0 or len(self._samples) < 2:
            return "?"  # unknown total, nothing done yet, or only the start to go by
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


@contextlib.asynccontextmanager
async def showing(
    progress: Progress | None, interval_s: float, clock: Clock, refresh: Callable[[], None]
) -> AsyncIterator[None]:
    """Redraw ``progress`` every ``interval_s`` while the block runs, and once at the end
    (``refresh`` first copies the latest counts into the tally)."""
    if progress is None:
        yield
        return

    async def tick() -> None:
        while True:  # ends when the block exits and cancels it
            await clock.sleep(interval_s)
            refresh()
            progress.show()

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        # Awaited before the final draw, so that no tick can draw after it.
        await asyncio.gather(ticker, return_exceptions=True)
        refresh()
        progress.show()
        progress.end()
