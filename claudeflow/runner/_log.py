"""Append-only JSONL files that survive being killed at any byte.

Write policy: each record is one JSON line handed to the kernel with ``os.write`` on an
``O_APPEND`` descriptor as soon as it is known (no user-space buffer), so a killed
process (Ctrl-C, SIGKILL, OOM) loses nothing it had finished writing. ``fsync`` runs at
most every ``fsync_interval_s`` and on close: after a machine crash only the last
interval can be missing, and a missing record is simply redone on the next run.

Crash policy: a record is complete exactly when its line ends with a newline (the
newline is written last). On open, a partial last line is cut off; its request is
redone. A damaged line anywhere else is not guessed at: it raises
:class:`CorruptFileError` naming the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple

from .._clock import Clock, LoopClock
from .._errors import ClaudeflowError

__all__ = [
    "CorruptFileError",
    "JsonlLog",
    "Outcome",
    "count_complete_lines",
    "read_records",
    "repair_tail",
]

_CHUNK: Final = 64 * 1024
_ID_PREFIX: Final = '{"custom_id": '
# What follows the id in a succeeded record as JsonlLog writes it (see _records.py).
_SUCCESS_LINE: Final = ', "status": "succeeded", "line": '
_SUCCESS_COST: Final = ', "cost_usd": '
_DECODER: Final = json.JSONDecoder()


class CorruptFileError(ClaudeflowError):
    """A results or dead-letter file holds a damaged line before its last line."""


def repair_tail(path: Path) -> int:
    """Cut a partial last line off ``path``; return how many bytes were dropped."""
    if not path.exists():
        return 0
    with path.open("rb+") as file:
        size = file.seek(0, os.SEEK_END)
        end = size
        # Walk back chunk by chunk to the last newline; bounded by the file's size.
        while end > 0:
            start = max(0, end - _CHUNK)
            file.seek(start)
            chunk = file.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            file.truncate(keep)
            file.flush()
            # Durable before anything is appended: a crash must not bring the cut tail back.
            os.fsync(file.fileno())
        return size - keep


def count_complete_lines(path: Path) -> int:
    """Newline-terminated lines in ``path`` (0 if it does not exist)."""
    if not path.exists():
        return 0
    count = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count


class Outcome(NamedTuple):
    """One result line: its key, status, input line number and cost, and the record.

    ``record`` is ``None`` for a succeeded line read without ``full`` parsing.
    """

    custom_id: str
    status: str
    line: int | None
    cost_usd: float | None
    record: dict[str, Any] | None


def read_records(path: Path, *, full: bool = True) -> Iterator[Outcome]:
    """Yield an :class:`Outcome` for each line of ``path`` (after :func:`repair_tail`).

    With ``full=False`` a succeeded record is not parsed beyond its cost: resuming a
    million-line file then costs little more than reading it.
    """
    if not path.exists():
        return
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            # "replace": a bad byte ends as a CorruptFileError naming the line, not a decode error.
            line = raw.decode("utf-8", "replace")
            # Blank lines (a hand-edited file) hold no record and do no harm.
            if not line.strip():
                continue
            quick = None if full else _quick_success(line)
            if quick is not None:
                yield quick
                continue
            record = _parse(path, number, line)
            yield Outcome(
                record["custom_id"],
                str(record.get("status")),
                _int_or_none(record.get("line")),
                _number_or_none(record.get("cost_usd")),
                record,
            )


def _quick_success(line: str) -> Outcome | None:
    """A succeeded record as :class:`JsonlLog` writes it, read without parsing it all."""
    if not line.startswith(_ID_PREFIX):
        return None
    try:
        custom_id, end = _DECODER.raw_decode(line, len(_ID_PREFIX))
        if not line.startswith(_SUCCESS_LINE, end):
            return None
        number, end = _DECODER.raw_decode(line, end + len(_SUCCESS_LINE))
        if not line.startswith(_SUCCESS_COST, end):
            return None
        cost, _ = _DECODER.raw_decode(line, end + len(_SUCCESS_COST))
    except ValueError:
        return None
    # Anything unexpected falls back to the full parse, which names the damage.
    if not isinstance(custom_id, str):
        return None
    return Outcome(custom_id, "succeeded", _int_or_none(number), _number_or_none(cost), None)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _parse(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise CorruptFileError(
            f"{path}:{number}: not a JSON record ({exc}); fix or remove that line, then rerun"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("custom_id"), str):
        raise CorruptFileError(f"{path}:{number}: record without a string custom_id")
    return record


class JsonlLog:
    """An open append-only JSONL file; see the module docstring for its guarantees."""

    def __init__(
        self,
        path: Path,
        *,
        fsync_interval_s: float = 1.0,
        clock: Clock | None = None,
        sync_first: JsonlLog | None = None,
    ):
        """``sync_first``: a log to fsync before this one, so that on disk this file is
        never ahead of it (the dead letters never ahead of their results)."""
        self.path = path
        self._sync_first = sync_first
        self.repaired_bytes = repair_tail(path)
        self._fsync_interval_s = fsync_interval_s
        self._clock = clock or LoopClock()
        # Opened (the file and its directory created) on the first write: a run that has
        # nothing to write, such as no dead letters, leaves no empty file behind.
        self._fd: int | None = None
        self._closed = False
        self._synced_at = self._clock.now()
        self._dirty = False
        self.written = 0

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line; it is on the kernel's side when this returns."""
        # ensure_ascii=False: non-ASCII replies stay readable, and the file smaller.
        self.append_line(json.dumps(record, ensure_ascii=False).encode())

    def append_line(self, line: bytes) -> None:
        """Write ``line`` (no newline in it) and a newline, as :meth:`append` does."""
        self._write(line + b"\n")
        self.written += 1
        self._sync_if_due()

    def _sync_if_due(self) -> None:
        # At most one fsync per interval: one per record would cap a run at the disk's sync rate.
        if self._clock.now() - self._synced_at >= self._fsync_interval_s:
            self.sync()

    def copy_line(self, source: Path, offset: int) -> bool:
        """Append the line of ``source`` that starts at byte ``offset``, in bounded chunks.

        Returns ``False`` (and writes nothing) if ``source`` ends before ``offset``. A
        kill midway leaves a partial last line, which the next open cuts off.
        """
        with source.open("rb") as file:
            file.seek(offset)
            chunk = file.readline(_CHUNK)
            if not chunk:
                return False
            while not chunk.endswith(b"\n"):
                self._write(chunk)
                chunk = file.readline(_CHUNK)
                if not chunk:
                    chunk = b"\n"  # the file's last line had no newline
            self._write(chunk)
        self.written += 1
        self._sync_if_due()
        return True

    def _write(self, data: bytes) -> None:
        fd = self._open()
        view = memoryview(data)
        while view:  # os.write may write less than asked (signals, huge records)
            view = view[os.write(fd, view) :]
        self._dirty = True

    def _open(self) -> int:
        if self._closed:
            raise ValueError(f"{self.path} is closed")
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    def sync(self) -> None:
        """Force written records to disk."""
        if self._fd is not None and self._dirty:
            if self._sync_first is not None:
                self._sync_first.sync()
            os.fsync(self._fd)
            self._dirty = False
        self._synced_at = self._clock.now()

    def close(self) -> None:
        self._closed = True
        if self._fd is None:
            return
        self.sync()
        os.close(self._fd)
        self._fd = None
