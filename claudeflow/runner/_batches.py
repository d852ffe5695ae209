"""``claudeflow run --batches``: every line through the Message Batches API, resumable.

The run is :func:`run_jsonl`'s in everything but how a line is sent: the same input
parsing and line keys (``custom_id``, else ``content-<hash>``), the same resume from the
results file (:class:`ResultsIndex`), the same records, dead letters, budget and
summary. So a batched run and a plain run of the same input can each resume the
other's results file.

Lines with no result yet are grouped into batches within the API's limits (api doc
§7.4) and submitted; the moment the API has accepted a batch, its id and the keys of
its lines are appended (and fsynced) to a journal next to the results file,
``<output stem>.batches.jsonl``. A run that was killed and is started again reads the
journal and resumes polling the batches whose lines have no result yet, instead of
submitting those lines again, and writes only the results still missing. (A kill
between the API accepting a batch and the journal line reaching the disk can still
submit that batch twice: the journal cannot be ahead of the API.)

``retry_failed`` is refused: a failed line's journal entry would look like one still
waiting for its batch. Retry the failures with a plain run into the same results file.

Inside a batch, entries are named by position (``r0``, ``r1``, ...), since a line's key
need not match the pattern the Batches API accepts. A stop (Ctrl-C) returns at once and
leaves the submitted batches to the journal; a spent budget submits the lines it has
collected and waits for the batches to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._errors import BadRequestError, ConfigError, InvalidRequestError
from ..batches import BatchApi, BatchError, BatchOffload
from ..batches._results import error_of, parse_results, price_result
from ..scheduler import Flow, Result
from ..tokens import PriceTable
from ..transport import Transport
from ._input import STDIN, BadLine, LineReader, LineRequest, items_of
from ._journal import append_journal, journal_lines, journal_path
from ._options import RunFiles, RunOptions
from ._progress import BatchCounts, Progress, RunSummary, Tally
from ._records import short_error, success_record
from ._run import _Run
from ._wire import WireTracker

__all__ = ["journal_path", "run_batch_jsonl"]

# Real batches take minutes to hours: poll every second at first, then less often.
_OFFLOAD: Final = BatchOffload(poll_s=1.0, poll_factor=1.5, poll_max_s=60.0)
_VERSION: Final = "2023-06-01"
_ENTRY_BYTES: Final = 64  # what an entry adds to a batch besides its body


@dataclass(slots=True)
class _Batch:
    """One batch of this run, its lines in entry order, until its results are written.

    An entry is ``None`` when its line already has a result (a resumed batch), else the
    line (without its body once submitted) and its budget reservation.
    """

    lines: list[LineRequest | None] = field(default_factory=list)
    worst: list[float] = field(default_factory=list)
    size: int = 0
    batch_id: str | None = None


async def run_batch_jsonl(
    flow: Flow,
    files: RunFiles,
    options: RunOptions | None = None,
    *,
    tally: Tally | None = None,
    stop: asyncio.Event | None = None,
    progress: Progress | None = None,
    secret: str | None = None,
    notify: Callable[[str], None] | None = None,
    wire: WireTracker | Transport | None = None,
    prices: PriceTable | None = None,
    offload: BatchOffload | None = None,
) -> RunSummary:
    """Like :func:`run_jsonl`, but through the Message Batches API (see module doc).

    Takes the same arguments, so ``claudeflow run`` can pick either. The batch calls go
    through ``wire`` (the transport) with ``secret`` (the API key) and ``flow.retry``;
    ``progress`` shows the batches' request counts. Setting ``stop`` stops submitting
    and returns; the journal lets the next run pick up the batches.

    :raises ConfigError: no ``wire`` or ``secret``; ``retry_failed`` (see module doc)
    """
    options = options or RunOptions()
    if wire is None or not secret:
        raise ConfigError("wire", "the batch path needs the transport (wire) and the API key")
    if options.retry_failed:
        raise ConfigError(
            "retry_failed",
            "cannot be combined with batches; retry the failed lines without batches "
            "(the same results file: both kinds of run resume each other's)",
        )
    run = _BatchRun(flow, files, options, tally=tally, stop=stop, secret=secret, notify=notify)
    api = BatchApi(wire, retry=flow.retry, clock=run.tally.clock, rng=random.Random())
    run.setup(api, {"x-api-key": secret, "anthropic-version": _VERSION}, offload or _OFFLOAD)
    run.prices, run.batch_prices = prices, prices or PriceTable.default()
    return await run.main(progress)


class _BatchRun(_Run):
    """A :class:`_Run` whose lines go out in batches (its :meth:`feed` and progress)."""

    api: BatchApi
    headers: Mapping[str, str]
    offload: BatchOffload
    batch_prices: PriceTable
    journal: Path
    current: _Batch
    waiting: dict[str, tuple[_Batch, int]]  # key -> (journalled batch, entry)
    counts: dict[str, Counter[str]]  # batch id -> its latest request_counts
    batch_counts: BatchCounts

    def setup(self, api: BatchApi, headers: Mapping[str, str], offload: BatchOffload) -> None:
        """The batch side of the run (once, before :meth:`main`): the base state is
        :class:`RunState`'s, built the same way for both kinds of run."""
        self.api, self.headers, self.offload = api, headers, offload
        self.batch_priced = True
        self.journal = journal_path(self.files.output)
        self.current = _Batch()
        self.waiting = {}
        self.counts = {}
        self.batch_counts = self.tally.batches = BatchCounts()

    async def feed(self) -> None:
        """Read the input, submit each batch as it fills, then await the batches."""
        resumed = self._resumed()
        try:
            await self._read()
            if self.current.lines and self.tally.stop_reason in ("", "budget reached"):
                await self._send(self.current)  # reserved lines: a budget stop sends them
            for batch in resumed.values():
                self._start(batch, None)
            if resumed:
                self.notify(f"{self.journal}: resumed {len(resumed)} batch(es) of an earlier run")
            await self._await_batches()
            self._judge_denied()
        finally:
            for task in self.tasks.values():
                task.cancel()  # a stop: the journal keeps the batches for the next run
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    def _resumed(self) -> dict[str, _Batch]:
        """Journalled batches with lines still unanswered, by batch id (lines filled later)."""
        batches: dict[str, _Batch] = {}
        for batch_id, keys in journal_lines(self.journal):
            if all(self.index.is_done(key) for key in keys):
                continue
            batch = batches[batch_id] = _Batch(batch_id=batch_id, worst=[0.0] * len(keys))
            for entry, key in enumerate(keys):
                done = self.index.is_done(key)
                # A placeholder until the input is read (offset -1: not found in it).
                batch.lines.append(None if done else LineRequest(0, key, 0, {}, b"", -1))
                if not done:
                    self.waiting[key] = (batch, entry)
        return batches

    async def _read(self) -> None:
        reader = LineReader(self.files.input, max_line_bytes=self.options.max_line_bytes)
        async with contextlib.aclosing(items_of(reader, self.stop)) as items:
            async for item in items:
                self.tally.blank = reader.blank
                if self._stopping() or not await self._take_line(item):
                    break
        self.tally.blank = reader.blank

    async def _take_line(self, item: LineRequest | BadLine) -> bool:
        """Skip, record, match to its journalled batch or collect one line; ``False``
        once the run must stop reading."""
        item = self.index.resolve(item)
        self._check_unchanged(item)
        if item.custom_id in self.waiting:
            assert isinstance(item, LineRequest)  # a journalled key is a sent request's
            batch, entry = self.waiting.pop(item.custom_id)
            worst = await self._reserve_sent(item)
            batch.lines[entry], batch.worst[entry] = self._meta(item), worst
        elif self.index.is_done(item.custom_id):
            self.tally.skipped += 1
        elif isinstance(item, BadLine):
            self._bad_line(item)
        else:
            reserved = await self._reserve(item)
            if reserved is None:
                return not self._stopping()
            await self._collect(item, reserved)
        return True

    async def _reserve_sent(self, item: LineRequest) -> float:
        """A line of a journalled batch is being paid for already: count it, unasked."""
        if self.budget is None:
            return 0.0
        worst = await self.budget.worst_case(item.body) or 0.0
        self.budget.reserve(worst)
        return worst

    async def _collect(self, item: LineRequest, worst: float) -> None:
        # Counted as sent, so a batch stays under the API's request size limit (api doc §7.4).
        size = len(json.dumps(item.body)) + _ENTRY_BYTES
        current = self.current
        if current.lines and (
            current.size + size > self.offload.max_bytes
            or len(current.lines) >= self.offload.max_requests
        ):
            await self._send(current)
            current = self.current = _Batch()
        current.lines.append(item)
        current.worst.append(worst)
        current.size += size

    async def _before_budget_wait(self) -> None:
        """The lines collected so far must be in flight for the budget to free up."""
        if self.current.lines:
            batch, self.current = self.current, _Batch()
            await self._send(batch)

    async def _send(self, batch: _Batch) -> None:
        """Create the batch, journal it, and start polling it (failures if it failed)."""
        lines = [line for line in batch.lines if line is not None]
        requests = [{"custom_id": f"r{n}", "params": line.body} for n, line in enumerate(lines)]
        try:
            created = await self.api.create(requests, self.headers)
        except Exception as error:  # every line is recorded, bugs included
            for line, worst in zip(lines, batch.worst, strict=True):
                self._settle(worst, None)
                self._failed(line, error)
            return
        # Journalled before polling starts: from here on a kill must not resubmit these lines.
        batch.batch_id = str(created["id"])
        append_journal(self.journal, batch.batch_id, [line.custom_id for line in lines])
        batch.lines = [self._meta(line) for line in lines]  # bodies are not needed any more
        self._start(batch, created)

    def _start(self, batch: _Batch, created: Mapping[str, Any] | None) -> None:
        assert batch.batch_id is not None
        self.batch_counts.submitted += 1
        task = asyncio.create_task(self._finish(batch, created))
        self.tasks[batch.batch_id] = task
        task.add_done_callback(lambda _: self.tasks.pop(str(batch.batch_id), None))

    async def _finish(self, batch: _Batch, created: Mapping[str, Any] | None) -> None:
        """Poll the batch until it ends, then write each line's result once."""
        assert batch.batch_id is not None
        try:
            info = await self._until_ended(batch.batch_id, created)
            body = await self.api.results(info, self.headers)
        except Exception as error:  # the batch stays in the journal for the next run
            self._abort(f"batch {batch.batch_id}: {short_error(error, self.secret)}")
            return
        written: set[int] = set()
        for entry_id, result in parse_results(body):
            # Results come in any order (api doc §7.3): matched by entry, each written once.
            entry = int(entry_id.removeprefix("r"))
            if entry not in written and entry < len(batch.lines):
                written.add(entry)
                self._write_outcome(batch, entry, result)
        # An entry the results file lacks still gets an outcome: every line ends as one record.
        for entry in set(range(len(batch.lines))) - written:
            missing = BatchError(
                "not in the results file", outcome="missing", batch_id=batch.batch_id
            )
            self._write_outcome(batch, entry, {"type": "missing"}, missing)
        self.batch_counts.ended += 1

    async def _until_ended(self, batch_id: str, created: Mapping[str, Any] | None) -> Any:
        # A resumed batch has no create answer: its state is fetched first.
        info = created or await self.api.retrieve(batch_id, self.headers)
        polls = 0
        while True:
            self.counts[batch_id] = Counter(info.get("request_counts") or {})
            if info.get("processing_status") == "ended":
                return info
            await self.tally.clock.sleep(self.offload.poll_delay(polls))
            polls += 1
            info = await self.api.retrieve(batch_id, self.headers)

    def _write_outcome(
        self,
        batch: _Batch,
        entry: int,
        result: Mapping[str, Any],
        error: Exception | None = None,
    ) -> None:
        line, worst = batch.lines[entry], batch.worst[entry]
        if line is None:  # an earlier run wrote it
            return
        # Cleared first: a duplicate entry in the results can never write a line twice.
        batch.lines[entry] = None
        assert batch.batch_id is not None
        if result.get("type") != "succeeded":
            self._settle(worst, None)
            # The batch has ended: its answer is final, never the key's to judge later.
            self._record_failure(line, error or error_of(result, batch.batch_id))
            return
        model = str((result.get("message") or {}).get("model", ""))
        priced = price_result(result, self.batch_prices, model=model)
        self._settle(worst, priced.cost_usd)
        answer = priced.result(Result, priority=0, queue_wait_s=0.0, latency_s=0.0)
        assert self.outputs is not None
        self.outputs.results.append(success_record(line, answer))
        self.tally.add_success(priced.usage, priced.cost_usd)
        self._release_denied()

    def _settle(self, worst: float, actual_usd: float | None) -> None:
        if self.budget is not None:
            self.budget.settle(worst, actual_usd)

    def _is_invalid(self, error: Exception) -> bool:
        # No Flow checked the line before it was sent: the API's 400 says it is invalid.
        return isinstance(error, BadRequestError | InvalidRequestError)

    def _meta(self, item: LineRequest) -> LineRequest:
        """``item`` without its body: what writing its result needs (its text too when
        it came from stdin, where a dead letter cannot be copied from)."""
        raw = item.raw if self.files.input == STDIN else b""
        return LineRequest(item.line, item.custom_id, item.priority, {}, raw, item.offset)

    async def _await_batches(self) -> None:
        """Until every batch has ended, or a stop other than a spent budget."""
        while self.tasks and not self._interrupted():
            waits: set[asyncio.Future[Any]] = set(self.tasks.values())
            stopper = None if self.stop.is_set() else asyncio.ensure_future(self.stop.wait())
            try:
                await asyncio.wait(
                    waits | {stopper} if stopper else waits, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if stopper is not None:
                    stopper.cancel()

    def _interrupted(self) -> bool:
        return self._stopping() and self.tally.stop_reason != "budget reached"

    def _warn_uncollected(self) -> None:
        """Nothing to warn about: this run collects the journalled batches."""

    def refresh(self) -> None:
        """Sum the batches' latest request counts into the tally."""
        counts: Counter[str] = Counter()
        for latest in self.counts.values():
            counts.update(latest)
        self.batch_counts.requests = counts
