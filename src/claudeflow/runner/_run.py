"""Pushing a JSONL file of requests through a Flow: streamed, bounded, resumable.

The input is read one line at a time; at most ``window`` requests are in memory (queued
or in flight) at once, so a million-line file costs no more than a hundred-line one.
Every input line ends as exactly one result line, written when it is known:

* already in the results file (an earlier run did it): skipped;
* a bad line (invalid JSON, missing fields): an ``invalid`` result plus a dead letter;
* sent: a ``succeeded`` result, or a ``failed``/``invalid`` one plus a dead letter.

A request cancelled by an interruption writes nothing, so the next run redoes it.
The result is written before its dead letter; if a crash falls between the two, the
next run rebuilds the dead letter from the result line.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._clock import Clock
from .._config import check_positive
from .._errors import (
    BudgetExceededError,
    ClaudeflowError,
    ConfigError,
    FlowClosedError,
    InvalidRequestError,
)
from ..scheduler import Flow
from ._done import DoneIndex
from ._input import BadLine, LineRequest, count_lines, read_items
from ._log import JsonlLog, read_records
from ._progress import Progress, RunSummary, Tally
from ._records import bad_line_record, dead_letter_of, failure_record, success_record

__all__ = ["RunFiles", "RunOptions", "run_jsonl"]

# Let the loop breathe (signals, progress) while skipping many already-done lines.
_YIELD_EVERY: Final = 256
# Bad lines reported one by one on the console; the rest only in the dead-letter file.
_BAD_LINES_SHOWN: Final = 20


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Where requests come from and where results and dead letters go."""

    input: Path
    output: Path
    dead_letter: Path

    def __post_init__(self) -> None:
        paths = {"input": self.input, "output": self.output, "dead_letter": self.dead_letter}
        for name, path in paths.items():
            if not isinstance(path, Path):
                raise ConfigError(name, f"must be a pathlib.Path, got {type(path).__name__}")
        if len({p.resolve() for p in paths.values()}) != 3:
            raise ConfigError("output", "input, output and dead-letter files must all differ")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How the runner paces itself.

    :param window: most requests held at once (queued in the Flow or in flight)
    :param fsync_interval_s: longest time between ``fsync`` calls on the output files
    :param progress_interval_s: seconds between progress lines
    :param max_line_bytes: longer input lines are reported as bad
    """

    window: int = 64
    fsync_interval_s: float = 1.0
    progress_interval_s: float = 1.0
    max_line_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("window", "max_line_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be an int >= 1, got {value!r}")
        check_positive("fsync_interval_s", self.fsync_interval_s, allow_none=False)
        check_positive("progress_interval_s", self.progress_interval_s, allow_none=False)


async def run_jsonl(
    flow: Flow,
    files: RunFiles,
    options: RunOptions | None = None,
    *,
    tally: Tally | None = None,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    secret: str | None = None,
    notify: Callable[[str], None] | None = None,
) -> RunSummary:
    """Send every request of ``files.input`` not yet in ``files.output`` through ``flow``.

    ``flow`` must be running. Setting ``stop`` stops reading new lines; the requests in
    flight finish and are written. Cancelling the call abandons them (they are redone on
    the next run). ``secret`` (the API key) is scrubbed from every error written.
    ``notify`` receives one-line notices (a repaired file, bad lines and their numbers).

    :raises CorruptFileError: the results or dead-letter file is damaged before its end
    """
    run = _Run(flow, files, options or RunOptions(), tally or Tally(), stop or asyncio.Event())
    run.secret = secret
    run.notify = notify or _ignore
    async with run.open_files(), _showing(progress, run.options, run.tally.clock):
        done = run.resume()
        counting = asyncio.ensure_future(asyncio.to_thread(count_lines, files.input))
        counting.add_done_callback(run.learn_total)
        await run.feed(done)
    return run.tally.summary()


class _Run:
    """The state of one run; each method is one step of :func:`run_jsonl`."""

    def __init__(
        self, flow: Flow, files: RunFiles, options: RunOptions, tally: Tally, stop: asyncio.Event
    ) -> None:
        self.flow = flow
        self.files = files
        self.options = options
        self.tally = tally
        self.stop = stop
        self.secret: str | None = None
        self.notify: Callable[[str], None] = _ignore
        self.output: JsonlLog | None = None
        self.dead: JsonlLog | None = None

    @contextlib.asynccontextmanager
    async def open_files(self) -> AsyncIterator[None]:
        interval = self.options.fsync_interval_s
        clock = self.tally.clock
        self.output = JsonlLog(self.files.output, fsync_interval_s=interval, clock=clock)
        try:
            self.dead = JsonlLog(self.files.dead_letter, fsync_interval_s=interval, clock=clock)
            for log in (self.output, self.dead):
                if log.repaired_bytes:
                    self.notify(
                        f"{log.path}: cut off a partial last line ({log.repaired_bytes} bytes) "
                        "left by an interrupted run; that line is redone"
                    )
            yield
        finally:
            self.output.close()
            if self.dead is not None:
                self.dead.close()

    def resume(self) -> DoneIndex:
        """Index what earlier runs finished; restore dead letters a crash lost."""
        assert self.dead is not None
        dead_ids = {custom_id for custom_id, _ in read_records(self.files.dead_letter)}
        lost: list[dict[str, Any]] = []

        def finished_ids() -> Any:
            for custom_id, record in read_records(self.files.output, full=False):
                if record is not None and record.get("status") != "succeeded":
                    if custom_id not in dead_ids:
                        lost.append(record)
                yield custom_id

        done = DoneIndex(finished_ids())
        for record in lost:
            self.dead.append(dead_letter_of(record))
        if lost:
            self.notify(f"{self.dead.path}: restored {len(lost)} dead letter(s) lost in a crash")
        return done

    def learn_total(self, counting: asyncio.Future[int]) -> None:
        if not counting.cancelled() and counting.exception() is None:
            self.tally.total_lines = counting.result()

    async def feed(self, done: DoneIndex) -> None:
        """Read the input and keep up to ``window`` requests going."""
        window = asyncio.Semaphore(self.options.window)
        tasks: set[asyncio.Task[None]] = set()
        items = read_items(self.files.input, max_line_bytes=self.options.max_line_bytes)
        try:
            for count, item in enumerate(items):
                if count % _YIELD_EVERY == 0:
                    await self.tally.clock.sleep(0)
                if self.stop.is_set():
                    self.tally.stop_reason = self.tally.stop_reason or "stopped"
                    break
                if item.custom_id in done:
                    self.tally.skipped += 1
                elif isinstance(item, BadLine):
                    self._bad_line(item)
                else:
                    await window.acquire()
                    if self.stop.is_set():
                        window.release()
                        self.tally.stop_reason = self.tally.stop_reason or "stopped"
                        break
                    task = asyncio.create_task(self._one(item, window))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(set(tasks))
        finally:
            # Cancelled (a second Ctrl-C): abandon what is in flight; it is redone later.
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(set(tasks))

    async def _one(self, item: LineRequest, window: asyncio.Semaphore) -> None:
        self.tally.in_flight += 1
        try:
            result = await self.flow.create(
                priority=item.priority, wait_for_space=True, **item.body
            )
        except (BudgetExceededError, FlowClosedError) as stopped:
            # Not this request's fault: leave it unrecorded so a later run does it.
            self.tally.stop_reason = self.tally.stop_reason or _reason(stopped)
            self.stop.set()
        except Exception as error:  # every outcome is recorded, bugs included
            invalid = isinstance(error, InvalidRequestError)
            record = failure_record(item, error, invalid=invalid, secret=self.secret)
            self._write_failure(record, invalid=invalid)
        else:
            assert self.output is not None
            self.output.append(success_record(item, result))
            self.tally.succeeded += 1
            self.tally.input_tokens += result.usage.total_input
            self.tally.output_tokens += result.usage.output_tokens
            self.tally.cost_usd += result.cost_usd or 0.0
        finally:
            self.tally.in_flight -= 1
            window.release()

    def _bad_line(self, bad: BadLine) -> None:
        self._write_failure(bad_line_record(bad), invalid=True)
        shown = self.tally.invalid
        if shown <= _BAD_LINES_SHOWN:
            self.notify(f"{self.files.input}:{bad.line}: bad line ({bad.problem})")
        if shown == _BAD_LINES_SHOWN:
            self.notify(f"further bad lines go to {self.files.dead_letter} only")

    def _write_failure(self, record: dict[str, Any], *, invalid: bool) -> None:
        assert self.output is not None and self.dead is not None
        self.output.append(record)  # the result first: it is what resuming trusts
        self.dead.append(dead_letter_of(record))
        if invalid:
            self.tally.invalid += 1
        else:
            self.tally.failed += 1


def _ignore(message: str) -> None:
    return None


def _reason(error: ClaudeflowError) -> str:
    return "budget reached" if isinstance(error, BudgetExceededError) else "flow closed"


@contextlib.asynccontextmanager
async def _showing(
    progress: Progress | None, options: RunOptions, clock: Clock
) -> AsyncIterator[None]:
    """Redraw ``progress`` every interval while the block runs, and once at the end."""
    if progress is None:
        yield
        return

    async def tick() -> None:
        while True:  # ends when the block exits and cancels it
            await clock.sleep(options.progress_interval_s)
            progress.show()

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        progress.show()
        progress.end()
