"""Reading the input file one line at a time, turning each into a request or a bad line.

An input line is a Messages API body with optional ``custom_id`` and ``priority``::

    {"custom_id": "q1", "priority": "high", "model": "...", "max_tokens": 256, "messages": [...]}

or, as in the Message Batches API and in claudeflow's own dead-letter files, the body
nested under ``params`` (other top-level keys, such as a dead letter's ``error``, are
then ignored)::

    {"custom_id": "q1", "params": {"model": "...", "max_tokens": 256, "messages": [...]}}

Lines are read with a size cap, so memory stays bounded whatever the file holds.
Blank lines are skipped; line numbers count every line, from 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .._types import Priority

__all__ = ["BadLine", "LineRequest", "count_lines", "default_custom_id", "parse_line", "read_items"]

REQUIRED_FIELDS: Final = ("model", "max_tokens", "messages")
# Flow.create's own keyword arguments: a body field with one of these names would
# collide with them instead of reaching the API.
_RESERVED: Final = frozenset({"queue_timeout", "wait_for_space", "extra_headers"})
_MAX_ID_CHARS: Final = 256
_RAW_KEEP: Final = 64 * 1024  # how much of a bad line the dead letter keeps


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One valid input line."""

    line: int
    custom_id: str
    priority: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot be sent; ``raw`` is (the start of) its text."""

    line: int
    custom_id: str
    problem: str
    raw: str


def default_custom_id(line: int) -> str:
    """The id of a line without ``custom_id``: stable as long as the file is unchanged."""
    return f"line-{line}"


def read_items(path: Path, *, max_line_bytes: int) -> Iterator[LineRequest | BadLine]:
    """Yield every non-blank line of ``path`` as a :class:`LineRequest` or :class:`BadLine`."""
    with path.open("rb") as file:
        number = 0
        while True:
            raw = file.readline(max_line_bytes + 1)
            if not raw:
                return
            number += 1
            if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
                _skip_rest_of_line(file, max_line_bytes)
                yield BadLine(
                    number,
                    default_custom_id(number),
                    f"line is longer than {max_line_bytes:,} bytes",
                    _text(raw[:200]),
                )
                continue
            if raw.strip():
                yield parse_line(number, raw)


def _skip_rest_of_line(file: Any, chunk: int) -> None:
    # Each read consumes up to ``chunk`` bytes, so this ends at the newline or EOF.
    while True:
        part = file.readline(chunk)
        if not part or part.endswith(b"\n"):
            return


def parse_line(number: int, raw: bytes) -> LineRequest | BadLine:
    """Parse one line; every problem becomes a :class:`BadLine` naming it."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _bad(number, None, f"invalid JSON: {exc}", raw)
    if not isinstance(data, dict):
        return _bad(number, None, f"expected a JSON object, got {type(data).__name__}", raw)
    custom_id = data.get("custom_id")
    if custom_id is not None and (
        not isinstance(custom_id, str) or not 0 < len(custom_id) <= _MAX_ID_CHARS
    ):
        return _bad(number, None, f"custom_id: must be a string of 1-{_MAX_ID_CHARS} chars", raw)
    priority = parse_priority(data.get("priority", Priority.NORMAL))
    if priority is None:
        return _bad(number, custom_id, "priority: must be an int or high/normal/low", raw)
    body = _body_of(data)
    if body is None:
        return _bad(number, custom_id, "params: must be a JSON object", raw)
    missing = [name for name in REQUIRED_FIELDS if name not in body]
    if missing:
        return _bad(number, custom_id, f"missing field(s): {', '.join(missing)}", raw)
    reserved = sorted(_RESERVED.intersection(body))
    if reserved:
        return _bad(number, custom_id, f"reserved field(s): {', '.join(reserved)}", raw)
    return LineRequest(number, custom_id or default_custom_id(number), priority, body)


def parse_priority(value: Any) -> int | None:
    """An int, or a :class:`Priority` name in any case; ``None`` if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.upper() in Priority.__members__:
        return int(Priority[value.upper()])
    return None


def _body_of(data: dict[str, Any]) -> dict[str, Any] | None:
    if "params" in data and "messages" not in data:
        params = data["params"]
        return dict(params) if isinstance(params, dict) else None
    return {k: v for k, v in data.items() if k not in ("custom_id", "priority")}


def _bad(number: int, custom_id: str | None, problem: str, raw: bytes) -> BadLine:
    return BadLine(number, custom_id or default_custom_id(number), problem, _text(raw))


def _text(raw: bytes) -> str:
    return raw[:_RAW_KEEP].decode("utf-8", "replace").rstrip("\r\n")


def count_lines(path: Path) -> int:
    """Newlines in ``path``, read in 1 MiB chunks (for the progress display's ETA)."""
    count = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count
