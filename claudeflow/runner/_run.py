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
from collections.abc import Callable, Iterator
from typing import Final

from .._errors import (
    BudgetExceededError,
    ClaudeflowError,
    ConfigError,
    FlowClosedError,
)
from ..scheduler import Flow
from ..tokens import PriceTable
from ._budget import RunBudget
from ._input import STDIN, BadLine, LineReader, LineRequest, count_lines, items_of
from ._journal import journal_lines, journal_path
from ._options import RunFiles, RunOptions
from ._outcomes import RunState
from ._outputs import Outputs
from ._progress import Progress, RunSummary, Tally, showing
from ._records import short_error, success_record
from ._resume import ResultsIndex
from ._wire import TICKET_HEADER, WireTracker

__all__ = ["RunFiles", "RunOptions", "run_jsonl"]

# Let the loop breathe (signals, progress) while skipping many already-done lines.
_YIELD_EVERY: Final = 256


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
    run = _Run(flow, files, options, tally=tally, stop=stop, secret=secret, notify=notify)
    run.wire, run.prices = wire, prices
    return await run.main(progress)


class _Run(RunState):
    """One run; each method is one step of :func:`run_jsonl`."""

    async def main(self, progress: Progress | None) -> RunSummary:
        """Resume, feed every line, settle: the whole run (see :func:`run_jsonl`)."""
        interval_s = self.options.progress_interval_s
        with self.open_files():
            async with showing(progress, interval_s, self.tally.clock, self.refresh):
                self.resume()
                self.count_in_background()
                await self.feed()
                self.settle_total()
                # Last: the dead letters are rewritten only once every result of the run is written.
                self.finish_retries()
        return self.tally.summary()

    @contextlib.contextmanager
    def open_files(self) -> Iterator[Outputs]:
        interval = self.options.fsync_interval_s
        self.outputs = Outputs(self.files, fsync_interval_s=interval, clock=self.tally.clock)
        try:
            for notice in self.outputs.repairs():
                self.notify(notice)
            yield self.outputs
        finally:
            self.outputs.close()

    def count_in_background(self) -> None:
        """Count the input's lines beside the run, for the progress line's total."""
        if self.files.input == STDIN:  # stdin cannot be read twice: the total stays unknown
            return
        counting = asyncio.ensure_future(
            asyncio.to_thread(
                count_lines, self.files.input, max_line_bytes=self.options.max_line_bytes
            )
        )
        counting.add_done_callback(self.learn_total)

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
        assert self.outputs is not None
        # Before any new line is written: the dead letters a crash lost are the last ones.
        self.outputs.match_dead_letters(self.index.failure_offsets(), self.notify)
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

    def finish_retries(self) -> None:
        """After a retry run, the dead letters lose the lines that have now succeeded."""
        if self.tally.retried:
            assert self.outputs is not None
            # Scanned again, not tracked: the file on disk is what the next run will resume from.
            index = ResultsIndex.scan(self.files.output, retry_failed=True)
            self.outputs.rewrite_dead_letters(index.failure_offsets())

    def learn_total(self, counting: asyncio.Future[int]) -> None:
        # A failed count only leaves the total unknown: nothing else depends on it.
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
        # Held from a line's submission until its outcome is written: memory stays bounded.
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
        # Before the skip: a changed input shows first on the lines an earlier run finished.
        self._check_unchanged(item)
        if self.index.is_done(item.custom_id):
            self.tally.skipped += 1
        elif isinstance(item, BadLine):
            self._bad_line(item)
        else:
            await window.acquire()
            # Window first, then budget: money is reserved only for a line that can go out now.
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

    def _submit(self, item: LineRequest, window: asyncio.Semaphore, worst: float) -> None:
        ticket = str(item.line)  # unique within a run, unlike a content-derived custom_id
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

    async def _one(
        self, item: LineRequest, window: asyncio.Semaphore, ticket: str, worst: float
    ) -> None:
        headers = {TICKET_HEADER: ticket} if self.wire is not None else None
        cost: float | None = None
        try:
            # wait_for_space: a full Flow queue is back-pressure here, not a failure.
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
            assert self.outputs is not None
            self.outputs.results.append(success_record(item, result))
            self._replaced(item.custom_id)
            self.tally.add_success(result.usage, cost)
            self._release_denied()
        finally:
            window.release()
            if self.budget is not None:
                # In finally: a cancelled request frees its window slot and its reservation too.
                self.budget.settle(worst, cost)


def _reason(error: ClaudeflowError) -> str:
    return "budget reached" if isinstance(error, BudgetExceededError) else "flow closed"
