"""Pushing a JSONL file of requests through a Flow: streamed, bounded, resumable.

The input is read one line at a time; at most ``window`` requests are in memory (queued
or in flight) at once, so a million-line file costs no more than a hundred-line one.
Every non-blank input line ends as exactly one result line, written when it is known:

* already in the results file (an earlier run did it): skipped (with ``retry_failed``,
  only if it succeeded: a failed line is sent again and its new record appended; the
  latest record of a line is its outcome);
* a bad line (invalid JSON, missing fields, a reused custom_id): an ``invalid`` result
  plus a dead letter;
* sent: a ``succeeded`` result, or a ``failed``/``invalid`` one plus a dead letter.

A request abandoned by a stop writes nothing, so the next run redoes it. When ``stop``
is set, the lines still queued are abandoned at once and only the requests on the wire
are awaited (this needs the Flow's transport wrapped in a :class:`WireTracker`; without
one the runner cannot tell them apart and waits for every request it submitted).
An error that every line would share (the key refused with 401, a 403 for each of the
first lines with nothing succeeding, or the API unreachable before anything succeeded)
aborts the run with that cause, writing nothing for the lines in progress. A 403 once a
request has succeeded is that line's own (a model the key may not use): a dead letter.

With a ``budget_usd``, a line starts only if its worst-case price fits what is left of
the budget after everything the results file and this run have spent (see
:mod:`._budget`).

The result is written before its dead letter; if a crash falls between the two, the
next run copies the missing dead letter from the input again. The dead-letter file holds
the final failures: after a ``retry_failed`` run it is rewritten without the lines that
succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._clock import Clock
from .._config import check_positive
from .._errors import (
    APIConnectionError,
    AuthenticationError,
    BackendUnavailableError,
    BudgetExceededError,
    ClaudeflowError,
    ConfigError,
    FlowClosedError,
    InvalidRequestError,
    PermissionDeniedError,
)
from ..scheduler import Flow
from ..tokens import PriceTable
from ._budget import RunBudget
from ._input import STDIN, BadLine, LineReader, LineRequest, count_lines, items_of
from ._journal import journal_lines, journal_path
from ._log import JsonlLog, count_complete_lines
from ._progress import Progress, RunSummary, Tally
from ._records import bad_line_record, failure_record, short_error, success_record
from ._resume import ResultsIndex
from ._wire import TICKET_HEADER, WireTracker

__all__ = ["RunFiles", "RunOptions", "run_jsonl"]

# Let the loop breathe (signals, progress) while skipping many already-done lines.
_YIELD_EVERY: Final = 256
# Bad lines reported one by one on the console; the rest only in the dead-letter file.
_BAD_LINES_SHOWN: Final = 20
# A 403 is the key's (abort) when this many lines got one before anything succeeded;
# once something has succeeded, a 403 is that line's own (a model the key may not use).
_DENIED_TO_ABORT: Final = 5


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Where requests come from (``Path("-")``: stdin) and where results and dead letters go.

    Missing directories of the output files are created when they are first written.
    """

    input: Path
    output: Path
    dead_letter: Path

    def __post_init__(self) -> None:
        paths = {"input": self.input, "output": self.output, "dead_letter": self.dead_letter}
        for name, path in paths.items():
            if not isinstance(path, Path):
                raise ConfigError(name, f"must be a pathlib.Path, got {type(path).__name__}")
        if len({p if p == STDIN else p.resolve() for p in paths.values()}) != 3:
            raise ConfigError("output", "input, output and dead-letter files must all differ")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How the runner paces itself.

    :param window: most requests held at once (queued in the Flow or in flight)
    :param fsync_interval_s: longest time between ``fsync`` calls on the output files
    :param progress_interval_s: seconds between progress lines
    :param max_line_bytes: longer input lines are reported as bad
    :param retry_failed: send the lines whose latest result failed again (the input must
        be a file, not stdin: the dead letters are copied from it)
    :param budget_usd: most USD the results file may account for, earlier runs included
    """

    window: int = 64
    fsync_interval_s: float = 1.0
    progress_interval_s: float = 1.0
    max_line_bytes: int = 32 * 1024 * 1024
    retry_failed: bool = False
    budget_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("window", "max_line_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be an int >= 1, got {value!r}")
        check_positive("fsync_interval_s", self.fsync_interval_s, allow_none=False)
        check_positive("progress_interval_s", self.progress_interval_s, allow_none=False)
        check_positive("budget_usd", self.budget_usd)
        if not isinstance(self.retry_failed, bool):
            raise ConfigError("retry_failed", f"must be a bool, got {self.retry_failed!r}")


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
    prices: PriceTable | None = None,
) -> RunSummary:
    """Send every request of ``files.input`` not yet in ``files.output`` through ``flow``.

    ``flow`` must be running. Setting ``stop`` stops reading new lines and abandons the
    queued ones; the requests on the wire finish and are written (with ``wire``, the
    :class:`WireTracker` around ``flow``'s transport; without it every submitted request
    is awaited). Cancelling the call abandons everything (it is redone on the next run).
    ``secret`` (the API key) is scrubbed from every error written. ``notify`` receives
    one-line notices (a repaired file, bad lines and their numbers, a changed input).
    ``prices`` price the worst case of each line for ``options.budget_usd`` (default:
    :meth:`PriceTable.default`; give the Flow's table if it has its own).

    :raises CorruptFileError: the results file is damaged before its end
    :raises ConfigError: ``retry_failed`` with the input on stdin
    """
    options = options or RunOptions()
    if options.retry_failed and files.input == STDIN:
        raise ConfigError("retry_failed", "needs the input as a file, not stdin")
    run = _Run(flow, files, options, tally or Tally(), stop or asyncio.Event())
    run.secret = secret
    run.notify = notify or _ignore
    run.wire = wire
    run.prices = prices
    return await run.main(progress)


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
        self.prices: PriceTable | None = None
        self.batch_priced = False  # the budget prices lines at the Message Batches rate
        self.output: JsonlLog | None = None
        self.dead: JsonlLog | None = None
        self.index = ResultsIndex()
        self.budget: RunBudget | None = None
        self.warned_changed = False
        # 403s held back until it is clear whether they are the key's or their lines'.
        self.denied: list[tuple[LineRequest, Exception]] = []
        # The requests this run has handed to the Flow, by ticket (the line number).
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def main(self, progress: Progress | None) -> RunSummary:
        """Resume, feed every line, settle: the whole run (see :func:`run_jsonl`)."""
        options, files = self.options, self.files
        async with self.open_files(), _showing(progress, options, self.tally.clock, self.refresh):
            self.resume()
            if files.input != STDIN:  # stdin cannot be read twice: the total stays unknown
                counting = asyncio.ensure_future(
                    asyncio.to_thread(
                        count_lines, files.input, max_line_bytes=options.max_line_bytes
                    )
                )
                counting.add_done_callback(self.learn_total)
            await self.feed()
            self.settle_total()
            self.finish_retries()
        return self.tally.summary()

    @contextlib.asynccontextmanager
    async def open_files(self) -> AsyncIterator[None]:
        self.output = self._log(self.files.output)
        try:
            self.dead = self._log(self.files.dead_letter, sync_first=self.output)
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

    def _log(self, path: Path, sync_first: JsonlLog | None = None) -> JsonlLog:
        interval = self.options.fsync_interval_s
        return JsonlLog(
            path, fsync_interval_s=interval, clock=self.tally.clock, sync_first=sync_first
        )

    def resume(self) -> None:
        """Index what earlier runs finished and spent; bring the dead letters in line."""
        self.index = ResultsIndex.scan(self.files.output, retry_failed=self.options.retry_failed)
        self.tally.prior.update(self.index.prior)
        self.tally.prior_cost_usd = self.index.spent_usd
        if self.options.budget_usd is not None:
            self.budget = RunBudget(
                self.options.budget_usd,
                spent_usd=self.index.spent_usd,
                prices=self.prices,
                batch=self.batch_priced,
            )
        self._match_dead_letters(self.index.failure_offsets())
        self._warn_uncollected()

    def _warn_uncollected(self) -> None:
        """Say if a killed ``--batches`` run left batches whose results were not written."""
        journal = journal_path(self.files.output)
        if not journal.exists():
            return
        waiting = sum(
            not self.index.is_done(key) for _, keys in journal_lines(journal) for key in keys
        )
        if waiting:
            self.notify(
                f"warning: {journal}: {waiting} line(s) are in batches an earlier --batches "
                "run submitted and did not collect; this run sends them again (stop it and "
                "rerun with --batches to collect those batches instead)"
            )

    def _match_dead_letters(self, offsets: list[int]) -> None:
        """The dead letters are the final failures, in order: restore or rewrite them."""
        assert self.dead is not None
        have = count_complete_lines(self.files.dead_letter)
        if have == len(offsets):
            return
        if self.files.input == STDIN:
            self.notify(
                f"{self.dead.path}: holds {have} line(s) for {len(offsets)} failure(s) in "
                f"{self.files.output}; they cannot be copied from stdin again"
            )
        elif have < len(offsets):  # a crash fell between a result and its dead letter
            restored = 0
            for offset in offsets[have:]:
                if offset >= 0 and self.dead.copy_line(self.files.input, offset):
                    restored += 1
            if restored:
                self.notify(f"{self.dead.path}: restored {restored} dead letter(s) lost in a crash")
        else:  # a retry run ended before it rewrote them
            self._rewrite_dead_letters(offsets)
            self.notify(f"{self.dead.path}: rewritten to the {len(offsets)} line(s) still failed")

    def _rewrite_dead_letters(self, offsets: list[int]) -> None:
        """Replace the dead-letter file, at once, by the input lines at ``offsets``."""
        assert self.output is not None and self.dead is not None
        self.output.sync()  # the dead letters never reach the disk ahead of their results
        self.dead.close()
        target = self.files.dead_letter
        fresh = self._log(target.with_name(target.name + ".tmp"))
        fresh.path.unlink(missing_ok=True)
        for offset in offsets:
            if offset >= 0:
                fresh.copy_line(self.files.input, offset)
        fresh.close()
        if fresh.written:
            os.replace(fresh.path, target)
        else:
            target.unlink(missing_ok=True)
        self.dead = self._log(target, sync_first=self.output)

    def finish_retries(self) -> None:
        """After a retry run, the dead letters lose the lines that have now succeeded."""
        if self.tally.retried:
            index = ResultsIndex.scan(self.files.output, retry_failed=True)
            self._rewrite_dead_letters(index.failure_offsets())

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

    async def feed(self) -> None:
        """Read the input and keep up to ``window`` requests going."""
        window = asyncio.Semaphore(self.options.window)
        reader = LineReader(self.files.input, max_line_bytes=self.options.max_line_bytes)
        if self.wire is not None:
            self.wire.landed = self._landed
        watcher = asyncio.create_task(self._abandon_queued_on_stop())
        try:
            async with contextlib.aclosing(items_of(reader, self.stop)) as items:
                count = 0
                async for item in items:
                    self.tally.blank = reader.blank
                    count += 1
                    if count % _YIELD_EVERY == 0:
                        await self.tally.clock.sleep(0)
                    if self._stopping() or not await self._take(item, window):
                        break
            self._stopping()  # a stop may also end the input early (stdin: see items_of)
            self.tally.blank = reader.blank
            if self.tasks:
                await asyncio.wait(set(self.tasks.values()))
            self._judge_denied()
        finally:
            watcher.cancel()
            # Cancelled (a second Ctrl-C) or aborted: abandon what is left; redone later.
            self._cancel(self.tasks)
            if self.tasks:
                await asyncio.wait(set(self.tasks.values()))

    async def _take(self, item: LineRequest | BadLine, window: asyncio.Semaphore) -> bool:
        """Skip, record or submit one line; ``False`` once the run must stop reading."""
        item = self.index.resolve(item)
        self._check_unchanged(item)
        if self.index.is_done(item.custom_id):
            self.tally.skipped += 1
        elif isinstance(item, BadLine):
            self._bad_line(item)
        else:
            await window.acquire()
            worst = None if self._stopping() else await self._reserve(item)
            if worst is None:
                window.release()
                return not self._stopping()
            self._submit(item, window, worst)
        return True

    def _check_unchanged(self, item: LineRequest | BadLine) -> None:
        """Say once if the results file recorded another line at this line's number."""
        if not self.warned_changed and self.index.moved(item.line, item.custom_id):
            self.warned_changed = True
            self.notify(
                f"warning: {self.files.input} has changed since {self.files.output} was "
                f"written (line {item.line} is not the line recorded for it); lines are "
                "matched by custom_id or content, so finished ones are still skipped"
            )

    async def _reserve(self, item: LineRequest) -> float | None:
        """Reserve the line's worst-case price; ``None`` if it must not start (a stop,
        or an unpriced model under a budget, recorded as failed)."""
        budget = self.budget
        if budget is None:
            return 0.0
        worst = await budget.worst_case(item.body)
        if worst is None:
            model = item.body.get("model")
            why = f"model {model!r} has no price, so the budget cannot bound its cost"
            self._failed(item, BudgetExceededError(why))
            return None
        while not budget.fits(worst):
            await self._before_budget_wait()
            if not self.tasks:
                self.tally.stop_reason = self.tally.stop_reason or "budget reached"
                self.stop.set()
                return None
            # What is in flight may cost less than reserved: see once it has settled.
            await asyncio.wait(set(self.tasks.values()), return_when=asyncio.FIRST_COMPLETED)
            if self._stopping():
                return None
        budget.reserve(worst)
        return worst

    async def _before_budget_wait(self) -> None:
        """Called before waiting for what is in flight to free budget (a batch run
        submits the lines it has collected, so that something is in flight)."""

    def _stopping(self) -> bool:
        if self.stop.is_set():
            self.tally.stop_reason = self.tally.stop_reason or "stopped"
            return True
        return False

    def _submit(self, item: LineRequest, window: asyncio.Semaphore, worst: float) -> None:
        ticket = str(item.line)
        task = asyncio.create_task(self._one(item, window, ticket, worst))
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

    async def _one(
        self, item: LineRequest, window: asyncio.Semaphore, ticket: str, worst: float
    ) -> None:
        headers = {TICKET_HEADER: ticket} if self.wire is not None else None
        cost: float | None = None
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
            cost = result.cost_usd
            assert self.output is not None
            self.output.append(success_record(item, result))
            self._replaced(item.custom_id)
            self.tally.add_success(result.usage, cost)
            self._release_denied()
        finally:
            window.release()
            if self.budget is not None:
                self.budget.settle(worst, cost)

    def _replaced(self, custom_id: str) -> None:
        """A retried line has its new record: it no longer counts as its old status."""
        earlier = self.index.earlier_status(custom_id)
        if earlier is not None:
            self.tally.prior[earlier] -= 1
            self.tally.retried += 1

    def _failed(self, item: LineRequest, error: Exception) -> None:
        if isinstance(error, PermissionDeniedError) and not self.tally.succeeded:
            self.denied.append((item, error))  # the key's or the line's? see _judge_denied
            if len(self.denied) >= _DENIED_TO_ABORT:
                self._judge_denied()
            return
        fatal = self._fatal(error)
        if fatal:
            self._abort(fatal)
            return
        self._record_failure(item, error)

    def _record_failure(self, item: LineRequest, error: Exception) -> None:
        """The line's failure is final: its record and its dead letter."""
        self.tally.last_error = short_error(error, self.secret)
        invalid = self._is_invalid(error)
        record = failure_record(item, error, invalid=invalid, secret=self.secret)
        # No raw text: a batch line kept only its offset (see runner/_batches.py).
        self._write_failure(record, item.raw or None, item.offset, invalid=invalid)
        self._replaced(item.custom_id)

    def _is_invalid(self, error: Exception) -> bool:
        """Whether ``error`` is the line's own fault (the Flow refused it before sending)."""
        return isinstance(error, InvalidRequestError)

    def _abort(self, message: str) -> None:
        """Every line would fail the same way: write nothing more, stop everything."""
        self.tally.abort(message)
        self.stop.set()
        self._cancel(self.tasks)

    def _judge_denied(self) -> None:
        """403s and nothing succeeded, over the first lines or the whole input: the key's."""
        if not self.denied or self.tally.succeeded:
            return
        if self.stop.is_set():  # stopped for another reason: the held lines are redone
            self.denied.clear()
            return
        _, error = self.denied[-1]
        self.denied.clear()  # not written: redone once the key is fixed
        self._abort(
            f"the API key is not allowed to do this ({short_error(error, self.secret)}); "
            "no request succeeded, so every request would fail. "
            "Check the key's workspace and permissions, and the model name"
        )

    def _release_denied(self) -> None:
        """Something succeeded: the 403s held back were their lines' own, dead letters."""
        held, self.denied = self.denied, []
        for item, error in held:
            self._failed(item, error)

    def _fatal(self, error: Exception) -> str:
        """Why ``error`` means the whole run cannot succeed ("" if it does not)."""
        what = short_error(error, self.secret)
        if isinstance(error, AuthenticationError):
            return (
                f"the API rejected the API key ({what}); every request would fail. "
                "Check ANTHROPIC_API_KEY, and that --base-url is the API the key belongs to"
            )
        if isinstance(error, BackendUnavailableError):  # the shared limits (Redis) are gone
            return f"{what}. Check --redis and the Redis server, then rerun"
        if isinstance(error, APIConnectionError) and self.flow.stats().completed == 0:
            return (
                f"cannot reach the API at {self.flow.base_url} ({what}) and no request has "
                "succeeded. Check --base-url / ANTHROPIC_BASE_URL, the network and any proxy"
            )
        return ""

    def _bad_line(self, bad: BadLine) -> None:
        source = bad.kept or self.files.input  # where a line too long to hold is
        self._write_failure(bad_line_record(bad), bad.raw, bad.offset, invalid=True, source=source)
        if bad.kept is not None:
            bad.kept.unlink(missing_ok=True)
        self._replaced(bad.custom_id)
        shown = self.tally.invalid
        if shown <= _BAD_LINES_SHOWN:
            self.notify(f"{self.files.input}:{bad.line}: bad line ({bad.problem})")
        if shown == _BAD_LINES_SHOWN:
            self.notify(f"further bad lines are reported in {self.files.output} only")

    def _write_failure(
        self,
        record: dict[str, Any],
        raw: bytes | None,
        offset: int,
        *,
        invalid: bool,
        source: Path | None = None,
    ) -> None:
        """The result first (it is what resuming trusts), then the line as a dead letter."""
        assert self.output is not None and self.dead is not None
        self.output.append(record)
        if raw is not None:
            self.dead.append_line(raw)
        elif offset >= 0:  # a line too long to hold (or a batch line): copy it from where it is
            self.dead.copy_line(source or self.files.input, offset)
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
