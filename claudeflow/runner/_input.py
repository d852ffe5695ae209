"""Reading the input file one line at a time, turning each into a request or a bad line.

An input line is a Messages API body with optional ``custom_id`` and ``priority``::

    {"custom_id": "q1", "priority": "high", "model": "...", "max_tokens": 256, "messages": [...]}

or, as in the Message Batches API, the body nested under ``params`` (then ``custom_id``
and ``priority`` are the only other keys allowed: a line mixing ``params`` with
top-level body fields is a bad line, since it is unclear which one was meant)::

    {"custom_id": "q1", "params": {"model": "...", "max_tokens": 256, "messages": [...]}}

``custom_id`` values must be unique within a file: a later line reusing one is a bad line
(the first line with that id is the one sent). A line without one is known by its
content: ``content-`` and a hash of its canonical JSON (keys sorted, no spaces), with
``-2``, ``-3``... for the second and later copies of the same request. Unlike a line
number, that key stays with the line when lines are added or removed above it, so a
rerun over an edited file still skips exactly what was done. Lines are read with a size
cap, so memory stays bounded whatever the file holds. Blank lines are skipped and counted
apart; line numbers count every line, blank or not, from 1. The path ``-`` reads stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import sys
import tempfile
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .._errors import InvalidRequestError
from .._types import Priority
from ..scheduler._request import parse_priority
from ._done import IdSet

__all__ = [
    "STDIN",
    "BadLine",
    "LineReader",
    "LineRequest",
    "content_id",
    "count_lines",
    "items_of",
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
_CONTENT_PREFIX: Final = "content-"
# 80 bits: two different requests share a key with probability ~n**2 / 2**81.
_CONTENT_DIGEST_BYTES: Final = 10
# Items read from stdin ahead of the runner: enough to keep it fed, few in memory.
_AHEAD: Final = 256

STDIN: Final = Path("-")


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One valid input line; ``raw`` is its exact text (without the newline)."""

    line: int
    custom_id: str
    priority: int
    body: dict[str, Any]
    raw: bytes = b""
    offset: int = 0
    by_content: bool = False  # no custom_id: the key is the content's (see content_id)


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that cannot be sent.

    ``raw`` is its exact text, or ``None`` for a line over the size cap: its dead letter
    is then copied from the input file at ``offset``, or, read from stdin, from
    ``kept``, a temporary file holding that line alone (whoever copies it deletes it).
    """

    line: int
    custom_id: str
    problem: str
    raw: bytes | None = b""
    offset: int = 0
    by_content: bool = False
    kept: Path | None = None


def content_id(data: Any) -> str:
    """The key of a line without ``custom_id``: a hash of its canonical JSON.

    The same request written with other spacing or key order gets the same key.
    """
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _content_key(hashlib.blake2b(canonical.encode(), digest_size=_CONTENT_DIGEST_BYTES))


def _raw_content_id(raw: bytes) -> str:
    """The key of a line that is not JSON (or too long to parse): a hash of its bytes."""
    return _content_key(hashlib.blake2b(raw.strip(), digest_size=_CONTENT_DIGEST_BYTES))


def _content_key(digest: hashlib.blake2b) -> str:
    return _CONTENT_PREFIX + digest.hexdigest()


def duplicate_custom_id(custom_id: str, copy: int) -> str:
    """The result key of the ``copy``-th line (2, 3, ...) that uses ``custom_id``.

    Counted, not numbered by line, so that it too stays put when lines are added above.
    """
    return f"{custom_id} (duplicate {copy})"


class LineReader:
    """Iterate over the items of an input file; ``blank`` counts the blank lines seen.

    From stdin (``path`` is :data:`STDIN`), a line over the size cap cannot be read again
    later, so it is kept in a temporary file of its own (:attr:`BadLine.kept`).
    """

    def __init__(self, path: Path, *, max_line_bytes: int) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.blank = 0

    def __iter__(self) -> Iterator[LineRequest | BadLine]:
        seen = IdSet()
        copies: dict[str, int] = {}  # keys seen more than once: how many times
        with self._open() as file:
            keep = self.path == STDIN
            for number, offset, raw in raw_lines(file, self.max_line_bytes, keep=keep):
                if isinstance(raw, _Overflow):
                    item: LineRequest | BadLine = BadLine(
                        number,
                        raw.content_id,
                        f"line is longer than {self.max_line_bytes:,} bytes",
                        None,
                        # A kept stdin line is a file of its own, copied from 0.
                        0 if raw.kept else offset,
                        by_content=True,
                        kept=raw.kept,
                    )
                elif not raw.strip():
                    self.blank += 1
                    continue
                else:
                    item = parse_line(number, raw, offset=offset)
                # Numbered before the uniqueness check: a repeated request is a line, not a reuse.
                if item.by_content:
                    item = _numbered_copy(item, seen, copies)
                if seen.add(item.custom_id):
                    yield item
                else:
                    copies[item.custom_id] = copies.get(item.custom_id, 1) + 1
                    yield _as_duplicate(item, copies[item.custom_id])

    def _open(self) -> contextlib.AbstractContextManager[IO[bytes]]:
        if self.path != STDIN:
            return self.path.open("rb")
        return contextlib.nullcontext(sys.stdin.buffer)  # stdin is not ours to close


def _numbered_copy(
    item: LineRequest | BadLine, seen: IdSet, copies: dict[str, int]
) -> LineRequest | BadLine:
    """The second copy of a request without ``custom_id`` is ``KEY-2``, the third ``KEY-3``."""
    key = item.custom_id
    if key not in copies:
        if key not in seen:
            return item
        copies[key] = 1
    copies[key] += 1
    new = f"{key}-{copies[key]}"
    return dataclasses.replace(item, custom_id=new)


@dataclass(frozen=True, slots=True)
class _End:
    """The reading thread is done, after ``error`` if one ended it."""

    error: Exception | None = None


async def items_of(
    reader: LineReader, stop: asyncio.Event | None = None
) -> AsyncGenerator[LineRequest | BadLine, None]:
    """The items of ``reader``, without blocking the event loop on stdin.

    A file is read in the loop: each line is at most a disk read away. stdin may wait
    on its producer for any time, so a thread reads it, at most :data:`_AHEAD` items
    ahead, and setting ``stop`` ends the iteration even while no line comes. It is a
    daemon thread: one blocked on stdin must not keep the process alive once the run
    has stopped.
    """
    if reader.path != STDIN:
        for item in reader:
            yield item
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[LineRequest | BadLine | _End] = asyncio.Queue()
    room = threading.Semaphore(_AHEAD)

    def hand_over(got: LineRequest | BadLine | _End) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is reading
            loop.call_soon_threadsafe(queue.put_nowait, got)

    def pump() -> None:
        try:
            for item in reader:
                # Blocks the thread, not the loop, once _AHEAD items wait: reading stays bounded.
                room.acquire()
                hand_over(item)
        except Exception as error:  # raised again in the loop, by the reader of the queue
            hand_over(_End(error))
        else:
            hand_over(_End())

    async def end_on_stop(stop: asyncio.Event) -> None:
        await stop.wait()
        queue.put_nowait(_End())

    threading.Thread(target=pump, name="claudeflow-stdin", daemon=True).start()
    ender = asyncio.create_task(end_on_stop(stop or asyncio.Event()))
    try:
        while not isinstance(got := await queue.get(), _End):
            room.release()
            yield got
    finally:
        ender.cancel()
    if got.error is not None:
        raise got.error


def read_items(path: Path, *, max_line_bytes: int) -> Iterator[LineRequest | BadLine]:
    """Yield every non-blank line of ``path`` as a :class:`LineRequest` or :class:`BadLine`."""
    return iter(LineReader(path, max_line_bytes=max_line_bytes))


@dataclass(frozen=True, slots=True)
class _Overflow:
    """A line over the size cap: its key, and the file that keeps it (if kept)."""

    content_id: str
    kept: Path | None = None


def raw_lines(
    file: IO[bytes], cap: int, *, keep: bool = False
) -> Iterator[tuple[int, int, bytes | _Overflow]]:
    """``(number, offset, text)`` per line; a line over ``cap`` is read in bounded chunks
    (hashed, and with ``keep`` copied to a temporary file) and yields an :class:`_Overflow`."""
    number = 0
    offset = 0
    while True:
        # One byte over the cap tells a line of exactly cap bytes from a longer one.
        raw = file.readline(cap + 1)
        if not raw:
            return
        number += 1
        start = offset
        offset += len(raw)
        if len(raw) > cap and not raw.endswith(b"\n"):
            if keep:
                with tempfile.NamedTemporaryFile(
                    "wb", prefix="claudeflow-line-", delete=False
                ) as kept:
                    skipped, key = _read_rest_of_line(file, raw, cap, kept.write)
                yield number, start, _Overflow(key, Path(kept.name))
            else:
                skipped, key = _read_rest_of_line(file, raw, cap, _drop)
                yield number, start, _Overflow(key)
            offset += skipped
            continue
        yield number, start, raw[:-1] if raw.endswith(b"\n") else raw


def _read_rest_of_line(
    file: IO[bytes], head: bytes, chunk: int, kept: Callable[[bytes], object]
) -> tuple[int, str]:
    """Read to the end of a long line that starts with ``head``, handing each part to
    ``kept``: the size of the rest, and the line's key."""
    digest = hashlib.blake2b(head, digest_size=_CONTENT_DIGEST_BYTES)
    kept(head)
    skipped = 0
    while True:  # each read consumes up to ``chunk`` bytes: this ends at a newline or EOF
        part = file.readline(chunk)
        skipped += len(part)
        text = part.removesuffix(b"\n")
        digest.update(text)
        kept(text)
        if not part or part.endswith(b"\n"):
            kept(b"\n")
            return skipped, _content_key(digest)


def _drop(data: bytes) -> int:
    return len(data)


def _as_duplicate(item: LineRequest | BadLine, copy: int) -> BadLine:
    problem = f"duplicate custom_id {item.custom_id!r}: custom_ids must be unique in a file"
    if isinstance(item, BadLine):
        problem = f"{item.problem}; {problem}"
    return BadLine(
        item.line, duplicate_custom_id(item.custom_id, copy), problem, item.raw, item.offset
    )


def parse_line(number: int, raw: bytes, *, offset: int = 0) -> LineRequest | BadLine:
    """Parse one line; every problem becomes a :class:`BadLine` naming it."""
    # The newline is not part of the line: a dead letter gets exactly one back.
    raw = raw.rstrip(b"\n")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        key = _raw_content_id(raw)
        return BadLine(number, key, f"invalid JSON: {exc}", raw, offset, by_content=True)
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    if custom_id is not None and (
        not isinstance(custom_id, str) or not 0 < len(custom_id) <= _MAX_ID_CHARS
    ):
        custom_id = None  # not usable as a key: the line is known by its content
        problem = f"custom_id: must be a string of 1-{_MAX_ID_CHARS} chars"
    else:
        problem = _problem_of(data)
    # A bad line gets a key too: its invalid record must be skipped by the next run.
    key = custom_id or content_id(data)
    by_content = not custom_id
    if problem:
        return BadLine(number, key, problem, raw, offset, by_content)
    body = _body_of(data)
    assert not isinstance(body, str)  # _problem_of found nothing wrong with it
    priority = parse_priority(data.get("priority", Priority.NORMAL))
    return LineRequest(number, key, priority, body, raw, offset, by_content)


def _problem_of(data: Any) -> str:
    """What keeps a parsed line from being a request ("" if nothing)."""
    if not isinstance(data, dict):
        return f"expected a JSON object, got {type(data).__name__}"
    try:
        parse_priority(data.get("priority", Priority.NORMAL))
    except InvalidRequestError as invalid:
        return str(invalid)
    body = _body_of(data)
    if isinstance(body, str):
        return body
    missing = [name for name in REQUIRED_FIELDS if name not in body]
    if missing:
        return f"missing field(s): {', '.join(missing)}"
    reserved = sorted(_RESERVED.intersection(body))
    if reserved:
        return f"reserved field(s): {', '.join(reserved)}"
    return ""


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


def count_lines(path: Path, *, max_line_bytes: int = 32 * 1024 * 1024) -> int:
    """Non-blank lines in ``path`` (the progress display's total), read with a size cap."""
    with path.open("rb") as file:
        lines = raw_lines(file, max_line_bytes)
        return sum(1 for _, _, raw in lines if isinstance(raw, _Overflow) or raw.strip())
