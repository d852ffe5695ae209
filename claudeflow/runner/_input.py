"""Reading the input file one line at a time, turning each into a request or a bad line.

An input line is a Messages API body with optional ``custom_id`` and ``priority``::

    {"custom_id": "q1", "priority": "high", "model": "...", "max_tokens": 256, "messages": [...]}

or, as in the Message Batches API, the body nested under ``params`` (then ``custom_id``
and ``priority`` are the only other keys allowed: a line mixing ``params`` with
top-level body fields is a bad line, since it is unclear which one was meant)::

    {"custom_id": "q1", "params": {"model": "...", "max_tokens": 256, "messages": [...]}}

``custom_id`` values must be unique within a file: a later line reusing one is a bad line
(the first line with that id is the one sent). Lines are read with a size cap, so memory
stays bounded whatever the file holds. Blank lines are skipped and counted apart; line
numbers count every line, blank or not, from 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .._errors import InvalidRequestError
from .._types import Priority
from ..scheduler._request import parse_priority
from ._done import IdSet

__all__ = [
    "BadLine",
    "LineReader",
    "LineRequest",
    "count_lines",
    "default_custom_id",
    "parse_line",
    "read_items",
]

REQUIRED_FIELDS: Final = ("model", "max_tokens", "messages")
# Flow.create's own keyword arguments: a body field with one of these names would
# collide with them instead of reaching the API.
_RESERVED: Final = frozenset({"queue_timeout", "wait_for_space", "extra_headers"})
_ENVELOPE: Final = frozenset({"custom_id", "priority"})
_OLD_DEAD_LETTER_KEYS: Final = frozenset({"error", "line", "raw"})
_MAX_ID_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One valid input line; ``raw`` is its exact text (without the newline)."""

    line: int
    custom_id: str
    priority: int
    body: dict[str, Any]
    raw: bytes = b""
    offset: int = 0


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot be sent.

    ``raw`` is its exact text, or ``None`` for a line over the size cap (its dead letter
    is then copied from the input file at ``offset``).
    """

    line: int
    custom_id: str
    problem: str
    raw: bytes | None = b""
    offset: int = 0


def default_custom_id(line: int) -> str:
    """The id of a line without ``custom_id``: stable as long as the file is unchanged."""
    return f"line-{line}"


def duplicate_custom_id(custom_id: str, line: int) -> str:
    """The result key of a line that reuses an earlier line's ``custom_id``."""
    return f"{custom_id} (duplicate on line {line})"


class LineReader:
    """Iterate over the items of an input file; ``blank`` counts the blank lines seen."""

    def __init__(self, path: Path, *, max_line_bytes: int) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.blank = 0

    def __iter__(self) -> Iterator[LineRequest | BadLine]:
        seen = IdSet()
        with self.path.open("rb") as file:
            for number, offset, raw in raw_lines(file, self.max_line_bytes):
                if raw is None:
                    item: LineRequest | BadLine = BadLine(
                        number,
                        default_custom_id(number),
                        f"line is longer than {self.max_line_bytes:,} bytes",
                        None,
                        offset,
                    )
                elif not raw.strip():
                    self.blank += 1
                    continue
                else:
                    item = parse_line(number, raw, offset=offset)
                yield item if seen.add(item.custom_id) else _as_duplicate(item)


def read_items(path: Path, *, max_line_bytes: int) -> Iterator[LineRequest | BadLine]:
    """Yield every non-blank line of ``path`` as a :class:`LineRequest` or :class:`BadLine`."""
    return iter(LineReader(path, max_line_bytes=max_line_bytes))


def raw_lines(file: IO[bytes], cap: int) -> Iterator[tuple[int, int, bytes | None]]:
    """``(number, offset, text)`` per line; ``text`` is ``None`` for a line over ``cap``."""
    number = 0
    offset = 0
    while True:
        raw = file.readline(cap + 1)
        if not raw:
            return
        number += 1
        start = offset
        offset += len(raw)
        if len(raw) > cap and not raw.endswith(b"\n"):
            offset += _skip_rest_of_line(file, cap)
            yield number, start, None
            continue
        yield number, start, raw[:-1] if raw.endswith(b"\n") else raw


def _skip_rest_of_line(file: IO[bytes], chunk: int) -> int:
    # Each read consumes up to ``chunk`` bytes, so this ends at the newline or EOF.
    skipped = 0
    while True:
        part = file.readline(chunk)
        skipped += len(part)
        if not part or part.endswith(b"\n"):
            return skipped


def _as_duplicate(item: LineRequest | BadLine) -> BadLine:
    problem = f"duplicate custom_id {item.custom_id!r}: custom_ids must be unique in a file"
    if isinstance(item, BadLine):
        problem = f"{item.problem}; {problem}"
    return BadLine(
        item.line, duplicate_custom_id(item.custom_id, item.line), problem, item.raw, item.offset
    )


def parse_line(number: int, raw: bytes, *, offset: int = 0) -> LineRequest | BadLine:
    """Parse one line; every problem becomes a :class:`BadLine` naming it."""
    raw = raw.rstrip(b"\n")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _bad(number, None, f"invalid JSON: {exc}", raw, offset)
    if not isinstance(data, dict):
        return _bad(number, None, f"expected a JSON object, got {type(data).__name__}", raw, offset)
    custom_id = data.get("custom_id")
    if custom_id is not None and (
        not isinstance(custom_id, str) or not 0 < len(custom_id) <= _MAX_ID_CHARS
    ):
        problem = f"custom_id: must be a string of 1-{_MAX_ID_CHARS} chars"
        return _bad(number, None, problem, raw, offset)
    try:
        priority = parse_priority(data.get("priority", Priority.NORMAL))
    except InvalidRequestError as invalid:
        return _bad(number, custom_id, str(invalid), raw, offset)
    body = _body_of(data)
    if isinstance(body, str):
        return _bad(number, custom_id, body, raw, offset)
    missing = [name for name in REQUIRED_FIELDS if name not in body]
    if missing:
        return _bad(number, custom_id, f"missing field(s): {', '.join(missing)}", raw, offset)
    reserved = sorted(_RESERVED.intersection(body))
    if reserved:
        return _bad(number, custom_id, f"reserved field(s): {', '.join(reserved)}", raw, offset)
    return LineRequest(number, custom_id or default_custom_id(number), priority, body, raw, offset)


def _body_of(data: dict[str, Any]) -> dict[str, Any] | str:
    """The request body of a line, or the problem that keeps it from having one."""
    if "params" not in data:
        return {k: v for k, v in data.items() if k not in _ENVELOPE}
    params = data["params"]
    if not isinstance(params, dict):
        return "params: must be a JSON object"
    mixed = sorted(set(data) - _ENVELOPE - {"params"})
    if mixed:
        hint = " (an older claudeflow's dead letter? drop error and line)"
        return (
            f"both params and top-level field(s) {', '.join(mixed)}: put the request body "
            "either inline or under params, not both"
            + (hint if set(mixed) <= _OLD_DEAD_LETTER_KEYS else "")
        )
    return dict(params)


def _bad(number: int, custom_id: str | None, problem: str, raw: bytes, offset: int) -> BadLine:
    return BadLine(number, custom_id or default_custom_id(number), problem, raw, offset)


def count_lines(path: Path, *, max_line_bytes: int = 32 * 1024 * 1024) -> int:
    """Non-blank lines in ``path`` (the progress display's total), read with a size cap."""
    with path.open("rb") as file:
        return sum(1 for _, _, raw in raw_lines(file, max_line_bytes) if raw is None or raw.strip())
