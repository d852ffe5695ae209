"""What an existing results file already holds, read once when a run starts.

The results file is append-only and may hold several records for one line: with
``retry_failed`` a failed line is sent again and its new outcome appended. The latest
record of a line is its outcome; a succeeded line is never sent again, so a success is
always the latest. This index answers, in a few bytes per line:

* is this line done (skip it), or was it a failure that is being retried (and as what);
* has the input changed under the results file (a line number now holds another line);
* what did earlier runs spend (a budget covers them too);
* which failures are final, in the order of their records (the dead letters).

Results files of older versions named a line without ``custom_id`` ``line-N`` after its
line number; such a record still stands for line N (:meth:`ResultsIndex.resolve`), so
a job started before the upgrade resumes without sending its finished lines again.
"""

from __future__ import annotations

import dataclasses
from array import array
from bisect import bisect_left
from collections import Counter
from pathlib import Path
from typing import Final

from ._done import DoneIndex, id_digest
from ._input import BadLine, LineRequest
from ._log import read_records

__all__ = ["ResultsIndex"]

_LOW: Final = (1 << 32) - 1  # a line number and 32 bits of its key's digest share 64 bits


class ResultsIndex:
    """The state of a results file; build it with :meth:`scan`."""

    __slots__ = ("_done", "_failures", "_legacy", "_lines", "prior", "retry_failed", "spent_usd")

    def __init__(self, *, retry_failed: bool = False) -> None:
        self.retry_failed = retry_failed
        self.prior: Counter[str] = Counter()  # lines by their latest status
        self.spent_usd = 0.0  # every record's cost, superseded ones included
        self._done = DoneIndex()
        # Latest failed/invalid record per key digest: (status, input offset), in the
        # order of those records (a dict keeps insertion order; re-inserted when retried).
        self._failures: dict[int, tuple[str, int]] = {}
        self._lines = array("Q")  # sorted (line << 32 | low digest bits) per record
        self._legacy = array("q")  # sorted numbers of the lines recorded as line-N

    @classmethod
    def scan(cls, path: Path, *, retry_failed: bool = False) -> ResultsIndex:
        """Read ``path`` (which need not exist) into an index."""
        index = cls(retry_failed=retry_failed)
        succeeded = array("Q")
        lines: list[int] = []
        legacy: list[int] = []
        for outcome in read_records(path, full=False):
            digest = id_digest(outcome.custom_id)
            # Every record counts, superseded ones too: that money was spent; the budget covers it.
            index.spent_usd += outcome.cost_usd or 0.0
            if outcome.line is not None and outcome.custom_id == _legacy_key(outcome.line):
                legacy.append(outcome.line)
            elif outcome.line is not None and 0 < outcome.line <= _LOW:
                lines.append(outcome.line << 32 | digest & _LOW)
            if outcome.status == "succeeded":
                succeeded.append(digest)
                continue
            offset = (outcome.record or {}).get("input_offset")
            # Popped and re-inserted: a retried failure moves to the end, where its new record is.
            index._failures.pop(digest, None)
            index._failures[digest] = (outcome.status, offset if isinstance(offset, int) else -1)
        # Built once after the scan: sorting once beats inserting into a sorted array per record.
        index._done = DoneIndex.from_digests(succeeded)
        for digest in [d for d in index._failures if d in index._done]:
            del index._failures[digest]  # failed first, succeeded when retried
        index._lines = array("Q", sorted(lines))
        index._legacy = array("q", sorted(legacy))
        index.prior["succeeded"] = len(index._done)
        index.prior.update(status for status, _ in index._failures.values())
        return index

    def resolve(self, item: LineRequest | BadLine) -> LineRequest | BadLine:
        """``item``, keyed ``line-N`` if it has no custom_id and an older version's
        record stands for its line (see the module docstring)."""
        if not item.by_content:
            return item
        i = bisect_left(self._legacy, item.line)
        if i < len(self._legacy) and self._legacy[i] == item.line:
            return dataclasses.replace(item, custom_id=_legacy_key(item.line))
        return item

    def is_done(self, custom_id: str) -> bool:
        """Whether the line is finished (failures too, unless they are being retried)."""
        if custom_id in self._done:
            return True
        return not self.retry_failed and id_digest(custom_id) in self._failures

    def earlier_status(self, custom_id: str) -> str | None:
        """The status of the failure that a retried line replaces (``None``: not retried)."""
        failure = self._failures.get(id_digest(custom_id))
        return failure[0] if failure is not None else None

    def moved(self, line: int, custom_id: str) -> bool:
        """Whether the results file recorded another line than ``custom_id`` at ``line``."""
        lines = self._lines
        i = bisect_left(lines, line << 32)
        low = id_digest(custom_id) & _LOW
        seen = False
        while i < len(lines) and lines[i] >> 32 == line:
            if lines[i] & _LOW == low:
                return False
            seen = True
            i += 1
        return seen

    def failure_offsets(self) -> list[int]:
        """Where each final failure's line starts in the input, in record order (-1: unknown)."""
        return [offset for _, offset in self._failures.values()]


def _legacy_key(line: int) -> str:
    return f"line-{line}"
