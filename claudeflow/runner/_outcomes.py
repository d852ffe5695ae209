"""The state of one run, and how each line's ending is written and judged.

A line ends as a success, a failure (its record and a dead letter), or a bad line.
A 403 before anything has succeeded is held back: if the first lines all get one, the
key is refused and the run aborts (writing nothing for them); once something succeeds,
the held 403s are their own lines' failures. An error every line would share aborts the
run (see :mod:`._fatal`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from .._errors import InvalidRequestError, PermissionDeniedError
from ..scheduler import Flow
from ..tokens import PriceTable
from ._budget import RunBudget
from ._fatal import DENIED_TO_ABORT, denied_reason, fatal_reason
from ._input import BadLine, LineRequest
from ._options import RunFiles, RunOptions
from ._outputs import Outputs
from ._progress import Tally
from ._records import bad_line_record, failure_record, short_error
from ._resume import ResultsIndex
from ._wire import WireTracker

__all__ = ["RunState"]

# Bad lines reported one by one on the console; the rest only in the dead-letter file.
_BAD_LINES_SHOWN: Final = 20


class RunState:
    """What one run knows, and its outcomes; :class:`~._run._Run` adds the line loop."""

    def __init__(
        self,
        flow: Flow,
        files: RunFiles,
        options: RunOptions,
        *,
        tally: Tally | None,
        stop: asyncio.Event | None,
        secret: str | None,
        notify: Callable[[str], None] | None,
    ) -> None:
        self.flow = flow
        self.files = files
        self.options = options
        self.tally = tally or Tally()
        self.stop = stop or asyncio.Event()
        self.secret = secret
        self.notify: Callable[[str], None] = notify or _ignore
        self.wire: WireTracker | None = None
        self.prices: PriceTable | None = None
        self.batch_priced = False  # the budget prices lines at the Message Batches rate
        self.outputs: Outputs | None = None
        self.index = ResultsIndex()
        self.budget: RunBudget | None = None
        self.warned_changed = False
        # 403s held back until it is clear whether they are the key's or their lines'.
        self.denied: list[tuple[LineRequest, Exception]] = []
        # The requests this run has handed to the Flow, by ticket (the line number).
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def _stopping(self) -> bool:
        if self.stop.is_set():
            self.tally.stop_reason = self.tally.stop_reason or "stopped"
            return True
        return False

    @staticmethod
    def _cancel(tasks: dict[str, asyncio.Task[None]]) -> None:
        for task in list(tasks.values()):
            task.cancel()

    def _replaced(self, custom_id: str) -> None:
        """A retried line has its new record: it no longer counts as its old status."""
        earlier = self.index.earlier_status(custom_id)
        if earlier is not None:
            self.tally.prior[earlier] -= 1
            self.tally.retried += 1

    def _failed(self, item: LineRequest, error: Exception) -> None:
        if isinstance(error, PermissionDeniedError) and not self.tally.succeeded:
            self.denied.append((item, error))  # the key's or the line's? see _judge_denied
            # Judged once enough are held: a refused key stops the run early, not at the end.
            if len(self.denied) >= DENIED_TO_ABORT:
                self._judge_denied()
            return
        # Before recording: a fatal error is no line's own, so the line stays to be redone.
        fatal = fatal_reason(error, self.flow, self.secret)
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
        self._abort(denied_reason(error, self.secret))

    def _release_denied(self) -> None:
        """Something succeeded: the 403s held back were their lines' own, dead letters."""
        held, self.denied = self.denied, []
        for item, error in held:
            self._failed(item, error)

    def _bad_line(self, bad: BadLine) -> None:
        source = bad.kept or self.files.input  # where a line too long to hold is
        self._write_failure(bad_line_record(bad), bad.raw, bad.offset, invalid=True, source=source)
        if bad.kept is not None:
            # Deleted only after its dead letter is written: until then it is the line's only copy.
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
        """Write the line's failure and its dead letter (see :class:`Outputs`); count it."""
        assert self.outputs is not None
        self.outputs.write_failure(record, raw, offset, source)
        if invalid:
            self.tally.invalid += 1
        else:
            self.tally.failed += 1


def _ignore(message: str) -> None:
    return None
