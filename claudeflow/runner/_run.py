"""Pushing a JSONL file of requests through a Flow: streamed, bounded, resumable.

The input is read one line at a time; at most ``window`` requests are in memory (queued
or in flight) at once, so a million-line file costs no more than a hundred-line one.
Every non-blank input line ends as exactly one result line, written when it is known:

* already in the results file (an earlier run did it): skipped;
* a bad line (invalid JSON, missing fields, a reused custom_id): an ``invalid`` result
  plus a dead letter;
* sent: a ``succeeded`` result, or a ``failed``/``invalid`` one plus a dead letter.

A request abandoned by a stop writes nothing, so the next run redoes it. When ``stop``
is set, the lines still queued are abandoned at once and only the requests on the wire
are awaited (this needs the Flow's transport wrapped in a :class:`WireTracker`; without
one the runner cannot tell them apart and waits for every request it submitted).
An error that every line would share (the key refused with 401/403, or the API
unreachable before anything succeeded) aborts the run with that cause, writing nothing
for the lines in progress.

The result is written before its dead letter; if a crash falls between the two, the
next run copies the missing dead letter from the input again.
"""

from __future__ import annotations

import asyncio
import contextlib
from array import array
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._clock import Clock
from .._config import check_positive
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    BudgetExceededError,
    ClaudeflowError,
    ConfigError,
    FlowClosedError,
    InvalidRequestError,
    PermissionDeniedError,
)
from ..scheduler import Flow
from ._done import DoneIndex
from ._input import BadLine, LineReader, LineRequest, count_lines
from ._log import JsonlLog, count_complete_lines, read_records
from ._progress import Progress, RunSummary, Tally
from ._records import bad_line_record, failure_record, short_error, success_record
from ._wire import TICKET_HEADER, WireTracker

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
    wire: WireTracker | None = None,
) -> RunSummary:
    """Send every request of ``files.input`` not yet in ``files.output`` through ``flow``.

    ``flow`` must be running. Setting ``stop`` stops reading new lines and abandons the
    queued ones; the requests on the wire finish and are written (with ``wire``, the
    :class:`WireTracker` around ``flow``'s transport; without it every submitted request
    is awaited). Cancelling the call abandons everything (it is redone on the next run).
    ``secret`` (the API key) is scrubbed from every error written. ``notify`` receives
    one-line notices (a repaired file, bad lines and their numbers).

    :raises CorruptFileError: the results file is damaged before its end
    """
    run = _Run(flow, files, options or RunOptions(), tally or Tally(), stop or asyncio.Event())
    run.secret = secret
    run.notify = notify or _ignore
    run.wire = wire
    async with run.open_files(), _showing(progress, run.options, run.tally.clock, run.refresh):
        done = run.resume()
        counting = asyncio.ensure_future(
            asyncio.to_thread(count_lines, files.input, max_line_bytes=run.options.max_line_bytes)
        )
        counting.add_done_callback(run.learn_total)
        await run.feed(done)
        run.settle_total()
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
        self.wire: WireTracker | None = None
        self.output: JsonlLog | None = None
        self.dead: JsonlLog | None = None
        # The requests this run has handed to the Flow, by ticket (the line number).
        self.tasks: dict[str, asyncio.Task[None]] = {}

    @contextlib.asynccontextmanager
    async def open_files(self) -> AsyncIterator[None]:
        interval = self.options.fsync_interval_s
        clock = self.tally.clock
        self.output = JsonlLog(self.files.output, fsync_interval_s=interval, clock=clock)
        try:
            self.dead = JsonlLog(
                self.files.dead_letter,
                fsync_interval_s=interval,
                clock=clock,
                sync_first=self.output,
            )
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
        """Index what earlier runs finished and count it; restore lost dead letters."""
        offsets = array("q")  # where each failed/invalid result's line starts, in order
        prior = self.tally.prior

        def finished_ids() -> Iterator[str]:
            for custom_id, record in read_records(self.files.output, full=False):
                status = "succeeded" if record is None else str(record.get("status"))
                prior[status] += 1
                if record is not None and status != "succeeded":
                    offset = record.get("input_offset")
                    offsets.append(offset if isinstance(offset, int) else -1)
                yield custom_id

        done = DoneIndex(finished_ids())
        self._restore_dead_letters(offsets)
        return done

    def _restore_dead_letters(self, offsets: array[int]) -> None:
        """Dead letters follow their results in order: copy any missing tail again."""
        assert self.dead is not None
        restored = 0
        for offset in offsets[count_complete_lines(self.files.dead_letter) :]:
            if offset >= 0 and self.dead.copy_line(self.files.input, offset):
                restored += 1
        if restored:
            self.notify(f"{self.dead.path}: restored {restored} dead letter(s) lost in a crash")

    def learn_total(self, counting: asyncio.Future[int]) -> None:
        if not counting.cancelled() and counting.exception() is None:
            self.tally.total_lines = counting.result()

    def settle_total(self) -> None:
        """A complete run has seen every line: its count is exact whatever the counter says."""
        if not self.tally.stop_reason:
            self.tally.total_lines = self.tally.skipped + self.tally.finished

    def refresh(self) -> None:
        """Copy the Flow's view (queue, wire, retries, last error) into the tally."""
        stats = self.flow.stats()
        self.tally.queued = stats.queued
        self.tally.in_flight = stats.in_flight
        self.tally.retries = stats.retries
        if self.wire is not None and self.wire.last_error is not None:
            self.tally.last_error = short_error(self.wire.last_error, self.secret)

    async def feed(self, done: DoneIndex) -> None:
        """Read the input and keep up to ``window`` requests going."""
        window = asyncio.Semaphore(self.options.window)
        reader = LineReader(self.files.input, max_line_bytes=self.options.max_line_bytes)
        if self.wire is not None:
            self.wire.landed = self._landed
        watcher = asyncio.create_task(self._abandon_queued_on_stop())
        try:
            for count, item in enumerate(reader):
                self.tally.blank = reader.blank
                if count % _YIELD_EVERY == 0:
                    await self.tally.clock.sleep(0)
                if self._stopping():
                    break
                if item.custom_id in done:
                    self.tally.skipped += 1
                elif isinstance(item, BadLine):
                    self._bad_line(item)
                else:
                    await window.acquire()
                    if self._stopping():
                        window.release()
                        break
                    self._submit(item, window)
            self.tally.blank = reader.blank
            if self.tasks:
                await asyncio.wait(set(self.tasks.values()))
        finally:
            watcher.cancel()
            # Cancelled (a second Ctrl-C) or aborted: abandon what is left; redone later.
            self._cancel(self.tasks)
            if self.tasks:
                await asyncio.wait(set(self.tasks.values()))

    def _stopping(self) -> bool:
        if self.stop.is_set():
            self.tally.stop_reason = self.tally.stop_reason or "stopped"
            return True
        return False

    def _submit(self, item: LineRequest, window: asyncio.Semaphore) -> None:
        ticket = str(item.line)
        task = asyncio.create_task(self._one(item, window, ticket))
        self.tasks[ticket] = task
        task.add_done_callback(lambda _: self.tasks.pop(ticket, None))

    async def _abandon_queued_on_stop(self) -> None:
        """Once ``stop`` is set, cancel every request that is not on the wire."""
        await self.stop.wait()
        if self.wire is None:
            return  # cannot tell queued from sent: everything submitted is awaited
        on_wire = self.wire.on_wire
        self._cancel({t: task for t, task in self.tasks.items() if t not in on_wire})

    def _landed(self, ticket: str, ok: bool) -> None:
        """An answer is back. After a stop, a failed attempt is abandoned, not retried."""
        if self.stop.is_set() and not ok:
            self._cancel({ticket: task} if (task := self.tasks.get(ticket)) else {})

    @staticmethod
    def _cancel(tasks: dict[str, asyncio.Task[None]]) -> None:
        for task in list(tasks.values()):
            task.cancel()

    async def _one(self, item: LineRequest, window: asyncio.Semaphore, ticket: str) -> None:
        headers = {TICKET_HEADER: ticket} if self.wire is not None else None
        try:
            result = await self.flow.create(
                priority=item.priority, wait_for_space=True, extra_headers=headers, **item.body
            )
        except (BudgetExceededError, FlowClosedError) as stopped:
            # Not this request's fault: leave it unrecorded so a later run does it.
            self.tally.stop_reason = self.tally.stop_reason or _reason(stopped)
            self.stop.set()
        except Exception as error:  # every outcome is recorded, bugs included
            self._failed(item, error)
        else:
            assert self.output is not None
            self.output.append(success_record(item, result))
            self.tally.succeeded += 1
            self.tally.input_tokens += result.usage.total_input
            self.tally.output_tokens += result.usage.output_tokens
            self.tally.cost_usd += result.cost_usd or 0.0
        finally:
            window.release()

    def _failed(self, item: LineRequest, error: Exception) -> None:
        fatal = self._fatal(error)
        if fatal:
            # Every line would fail the same way: write nothing, stop everything.
            self.tally.abort(fatal)
            self.stop.set()
            self._cancel(self.tasks)
            return
        self.tally.last_error = short_error(error, self.secret)
        invalid = isinstance(error, InvalidRequestError)
        record = failure_record(item, error, invalid=invalid, secret=self.secret)
        self._write_failure(record, item.raw, item.offset, invalid=invalid)

    def _fatal(self, error: Exception) -> str:
        """Why ``error`` means the whole run cannot succeed ("" if it does not)."""
        what = short_error(error, self.secret)
        if isinstance(error, AuthenticationError):
            return (
                f"the API rejected the API key ({what}); every request would fail. "
                "Check ANTHROPIC_API_KEY, and that --base-url is the API the key belongs to"
            )
        if isinstance(error, PermissionDeniedError):
            return (
                f"the API key is not allowed to do this ({what}); every request would fail. "
                "Check the key's workspace and permissions, and the model name"
            )
        if isinstance(error, APIConnectionError) and self.flow.stats().completed == 0:
            return (
                f"cannot reach the API at {self.flow.base_url} ({what}) and no request has "
                "succeeded. Check --base-url / ANTHROPIC_BASE_URL, the network and any proxy"
            )
        return ""

    def _bad_line(self, bad: BadLine) -> None:
        self._write_failure(bad_line_record(bad), bad.raw, bad.offset, invalid=True)
        shown = self.tally.invalid
        if shown <= _BAD_LINES_SHOWN:
            self.notify(f"{self.files.input}:{bad.line}: bad line ({bad.problem})")
        if shown == _BAD_LINES_SHOWN:
            self.notify(f"further bad lines are reported in {self.files.output} only")

    def _write_failure(
        self, record: dict[str, Any], raw: bytes | None, offset: int, *, invalid: bool
    ) -> None:
        """The result first (it is what resuming trusts), then the line as a dead letter."""
        assert self.output is not None and self.dead is not None
        self.output.append(record)
        if raw is not None:
            self.dead.append_line(raw)
        else:  # a line too long to hold: copy it from the input
            self.dead.copy_line(self.files.input, offset)
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
    progress: Progress | None, options: RunOptions, clock: Clock, refresh: Callable[[], None]
) -> AsyncIterator[None]:
    """Redraw ``progress`` every interval while the block runs, and once at the end."""
    if progress is None:
        yield
        return

    async def tick() -> None:
        while True:  # ends when the block exits and cancels it
            await clock.sleep(options.progress_interval_s)
            refresh()
            progress.show()

    ticker = asyncio.create_task(tick())
    try:
        yield
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        refresh()
        progress.show()
        progress.end()
