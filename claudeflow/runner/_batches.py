"""``claudeflow run --batches``: every line through the Message Batches API, resumable.

The input is read once. Lines with no result yet are grouped into batches within the
API's limits (api doc §7.4) and submitted; the moment the API has accepted a batch, its
id and the custom_ids of its lines are appended (and fsynced) to a journal next to the
results file, ``<output stem>.batches.jsonl``. A run that was killed and is started
again reads the journal and resumes polling the batches whose lines have no result yet,
instead of submitting those lines again; only lines in no journalled batch are
submitted. (A kill between the API accepting a batch and the journal line reaching the
disk can still submit that batch twice: the journal cannot be ahead of the API.)

Results and dead letters are the ones ``claudeflow run`` writes, one per line, with the
batch price. Inside a batch, entries are named by position (``r0``, ``r1``, ...), since a
line's custom_id need not match the pattern the Batches API accepts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .._errors import BadRequestError, ClaudeflowError, ConfigError, InvalidRequestError
from ..batches import BatchApi, BatchError, BatchOffload
from ..batches._results import error_of, parse_results, price_result
from ..scheduler import Flow, Result
from ..tokens import PriceTable
from ..transport import Transport
from ._done import DoneIndex
from ._input import BadLine, LineReader, LineRequest
from ._log import JsonlLog, read_records
from ._progress import Progress, RunSummary, Tally
from ._records import bad_line_record, failure_record, short_error, success_record
from ._run import RunFiles, RunOptions
from ._wire import WireTracker

__all__ = ["journal_path", "run_batch_jsonl"]

# Real batches take minutes to hours: poll every second at first, then less often.
_OFFLOAD: Final = BatchOffload(poll_s=1.0, poll_factor=1.5, poll_max_s=60.0)
_VERSION: Final = "2023-06-01"


def journal_path(output: Path) -> Path:
    """Where the batch ids of a run writing ``output`` are kept."""
    return output.with_name(f"{output.stem}.batches.jsonl")


@dataclass(slots=True)
class _Batch:
    """One batch of this run: its lines in entry order, until its results are written."""

    lines: list[LineRequest] = field(default_factory=list)
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
    offload: BatchOffload | None = None,
) -> RunSummary:
    """Like :func:`run_jsonl`, but through the Message Batches API (see module doc).

    Takes the same arguments, so ``claudeflow run`` can pick either. The batch calls go
    through ``wire`` (the transport) with ``secret`` (the API key) and ``flow.retry``;
    ``progress`` is not shown (a batch reports nothing until it ends). Setting ``stop``
    stops submitting and returns; the journal lets the next run pick up the batches.
    """
    if wire is None or not secret:
        raise ConfigError("wire", "the batch path needs the transport (wire) and the API key")
    tally = tally or Tally()
    api = BatchApi(wire, retry=flow.retry, clock=tally.clock, rng=random.Random())
    headers = {"x-api-key": secret, "anthropic-version": _VERSION}
    job = _BatchJob(files, options or RunOptions(), tally, api, headers, offload or _OFFLOAD)
    job.secret, job.notify = secret, notify or (lambda _: None)
    await job.run(stop or asyncio.Event())
    return tally.summary()


class _BatchJob:
    """The state of one ``--batches`` run."""

    def __init__(
        self,
        files: RunFiles,
        options: RunOptions,
        tally: Tally,
        api: BatchApi,
        headers: Mapping[str, str],
        offload: BatchOffload,
    ) -> None:
        self.files, self.options, self.tally = files, options, tally
        self.api, self.headers, self.offload = api, headers, offload
        self.prices = PriceTable.default()
        self.secret: str | None = None
        self.notify: Callable[[str], None] = lambda _: None
        self.journal = journal_path(files.output)
        self.output: JsonlLog | None = None
        self.dead: JsonlLog | None = None
        self.done = DoneIndex()
        self.waiting: dict[str, tuple[_Batch, int]] = {}  # custom_id -> (batch, entry)

    async def run(self, stop: asyncio.Event) -> None:
        interval, clock = self.options.fsync_interval_s, self.tally.clock
        self.output = JsonlLog(self.files.output, fsync_interval_s=interval, clock=clock)
        self.dead = JsonlLog(
            self.files.dead_letter, fsync_interval_s=interval, clock=clock, sync_first=self.output
        )
        tasks: list[asyncio.Task[None]] = []
        try:
            self.done = self._done()
            resumed = self._resumed()
            await self._read_and_submit(tasks, stop)
            tasks.extend(asyncio.ensure_future(self._finish(b)) for b in resumed.values())
            if resumed:
                self.notify(f"{self.journal}: resumed {len(resumed)} batch(es) of an earlier run")
            error = await _until_done_or(tasks, stop)
            if error is not None:  # the batches stay in the journal for the next run
                self.tally.abort_message = short_error(error, self.secret)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.output.close()
            self.dead.close()

    def _done(self) -> DoneIndex:
        """The lines earlier runs answered (compact: a million ids cost a few MB)."""

        def finished() -> Iterator[str]:
            for outcome in read_records(self.files.output, full=False):
                self.tally.prior[outcome.status] += 1
                yield outcome.custom_id

        return DoneIndex(finished())

    def _resumed(self) -> dict[str, _Batch]:
        """Journalled batches with lines still unanswered, by batch id (lines filled later)."""
        batches: dict[str, _Batch] = {}
        for batch_id, custom_ids in _journal_lines(self.journal):
            if all(c in self.done for c in custom_ids):
                continue
            batch = batches[batch_id] = _Batch(batch_id=batch_id)
            # Placeholders until the input is read (offset -1: not found in it).
            batch.lines = [LineRequest(0, c, 0, {}, b"", -1) for c in custom_ids]
            for entry, custom_id in enumerate(custom_ids):
                self.waiting[custom_id] = (batch, entry)
        return batches

    async def _read_and_submit(self, tasks: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
        """Read the input; submit each batch as it fills (polling starts at once)."""
        reader = LineReader(self.files.input, max_line_bytes=self.options.max_line_bytes)
        current = _Batch()
        for item in reader:
            if stop.is_set():
                return
            if item.custom_id in self.done:
                self.tally.skipped += 1
            elif isinstance(item, BadLine):
                self._write_bad_line(item)
            elif item.custom_id in self.waiting:
                batch, entry = self.waiting[item.custom_id]
                batch.lines[entry] = _meta(item)  # where to write its result
            else:
                size = len(json.dumps(item.body)) + 64
                if current.lines and (
                    current.size + size > self.offload.max_bytes
                    or len(current.lines) >= self.offload.max_requests
                ):
                    tasks.extend(await self._submit(current))
                    current = _Batch()
                current.lines.append(item)
                current.size += size
        self.tally.blank = reader.blank
        if current.lines and not stop.is_set():
            tasks.extend(await self._submit(current))

    async def _submit(self, batch: _Batch) -> list[asyncio.Task[None]]:
        """Create the batch, journal it, and start polling it (nothing if it failed)."""
        requests = [
            {"custom_id": f"r{n}", "params": item.body} for n, item in enumerate(batch.lines)
        ]
        try:
            created = await self.api.create(requests, self.headers)
        except ClaudeflowError as error:
            for item in batch.lines:
                self._write_failure(item, error)
            return []
        batch.batch_id = str(created["id"])
        _append_journal(self.journal, batch.batch_id, [i.custom_id for i in batch.lines])
        batch.lines = [_meta(i) for i in batch.lines]  # bodies are not needed any more
        return [asyncio.ensure_future(self._finish(batch, created))]

    async def _finish(self, batch: _Batch, created: Mapping[str, Any] | None = None) -> None:
        assert batch.batch_id is not None
        info = created or await self.api.retrieve(batch.batch_id, self.headers)
        polls = 0
        while info.get("processing_status") != "ended":
            await self.tally.clock.sleep(self.offload.poll_delay(polls))
            polls += 1
            info = await self.api.retrieve(batch.batch_id, self.headers)
        body = await self.api.results(info, self.headers)
        written: set[int] = set()
        for entry_id, result in parse_results(body):
            entry = int(entry_id.removeprefix("r"))
            self._write_outcome(batch.lines[entry], result, batch.batch_id)
            written.add(entry)
        for entry, item in enumerate(batch.lines):
            if entry not in written:
                missing = BatchError(
                    "not in the results file", outcome="missing", batch_id=batch.batch_id
                )
                self._write_failure(item, missing)

    def _write_outcome(self, item: LineRequest, result: Mapping[str, Any], batch_id: str) -> None:
        if result.get("type") != "succeeded":
            self._write_failure(item, error_of(result, batch_id))
            return
        model = str((result.get("message") or {}).get("model", ""))
        priced = price_result(result, self.prices, model=model)
        record = success_record(
            item, priced.result(Result, priority=0, queue_wait_s=0.0, latency_s=0.0)
        )
        assert self.output is not None
        self.output.append(record)
        self.tally.succeeded += 1
        self.tally.input_tokens += priced.usage.total_input
        self.tally.output_tokens += priced.usage.output_tokens
        self.tally.cost_usd += priced.cost_usd or 0.0

    def _write_bad_line(self, bad: BadLine) -> None:
        assert self.output is not None and self.dead is not None
        self.output.append(bad_line_record(bad))
        self.tally.invalid += 1
        self.dead.copy_line(self.files.input, bad.offset)

    def _write_failure(self, item: LineRequest, error: ClaudeflowError) -> None:
        assert self.output is not None and self.dead is not None
        invalid = isinstance(error, BadRequestError | InvalidRequestError)
        self.output.append(failure_record(item, error, invalid=invalid, secret=self.secret))
        if invalid:
            self.tally.invalid += 1
        else:
            self.tally.failed += 1
        if item.offset >= 0:  # -1: a journalled line no longer in the input
            self.dead.copy_line(self.files.input, item.offset)


def _meta(item: LineRequest) -> LineRequest:
    """``item`` without its body: what writing its result needs."""
    return LineRequest(item.line, item.custom_id, item.priority, {}, b"", item.offset)


def _journal_lines(path: Path) -> Iterator[tuple[str, list[str]]]:
    if not path.exists():
        return
    with path.open("rb") as file:
        for raw in file:
            if raw.endswith(b"\n"):  # a torn last line was never acknowledged: skip it
                data = json.loads(raw)
                yield str(data["batch_id"]), [str(c) for c in data["custom_ids"]]


def _append_journal(path: Path, batch_id: str, custom_ids: list[str]) -> None:
    line = json.dumps({"batch_id": batch_id, "custom_ids": custom_ids}).encode() + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)  # the journal must survive a kill once the API has the batch
    finally:
        os.close(fd)


async def _until_done_or(
    tasks: list[asyncio.Task[None]], stop: asyncio.Event
) -> BaseException | None:
    """Wait for every task, or for ``stop``; the first task error, if any."""
    stopper = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = set(tasks)
    try:
        while pending and not stop.is_set():
            done, pending = await asyncio.wait(
                pending | {stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            pending.discard(stopper)
            for task in done - {stopper}:
                if task.exception() is not None:
                    return task.exception()
    finally:
        stopper.cancel()
    return None
