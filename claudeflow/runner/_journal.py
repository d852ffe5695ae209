"""The journal of a ``--batches`` run: which batches the API has accepted, and for which lines.

One JSON line per batch, ``{"batch_id": ..., "custom_ids": [...]}`` in entry order,
appended and fsynced the moment the API accepts the batch, in ``<output stem>.batches.jsonl``
next to the results file. A torn last line (a kill mid-write) was never acknowledged and
is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["append_journal", "journal_lines", "journal_path"]


def journal_path(output: Path) -> Path:
    """Where the batch ids of a run writing ``output`` are kept."""
    return output.with_name(f"{output.stem}.batches.jsonl")


def journal_lines(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each journalled batch: its id and its lines' keys, in entry order."""
    if not path.exists():
        return
    with path.open("rb") as file:
        for raw in file:
            if raw.endswith(b"\n"):  # a torn last line was never acknowledged: skip it
                data = json.loads(raw)
                yield str(data["batch_id"]), [str(c) for c in data["custom_ids"]]


def append_journal(path: Path, batch_id: str, custom_ids: list[str]) -> None:
    """Record that the API accepted ``batch_id`` for ``custom_ids``; durable on return."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"batch_id": batch_id, "custom_ids": custom_ids}).encode() + b"\n"
    # One O_APPEND write per line: a kill can tear only the last line, never an earlier one.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)  # the journal must survive a kill once the API has the batch
    finally:
        os.close(fd)
