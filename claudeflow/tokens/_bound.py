"""A cheap, proven lower bound on a request's input tokens, to refuse hopeless ones uncounted.

Counting a 5 MB prompt takes a noticeable fraction of a second (more for odd text); when
even a lower bound exceeds the input-token bucket's capacity, the request can never fit
and counting it is wasted. The bound is of the *raw* count :func:`count_text` gives:

- with cl100k, ``ceil(utf8_bytes / 128)``, and for a text of :data:`WORDS_FROM_CHARS`
  characters or more, at least its words. No cl100k token is longer than
  :data:`LONGEST_TOKEN_BYTES` bytes (a run of spaces). And every token lies inside one
  piece of cl100k's pre-tokenizer, whose pieces each cover at most one maximal run of
  non-whitespace characters (a word takes at most its leading space), so there are at
  least as many tokens as such runs (``str.split()``'s words; the four characters
  ``\\x1c``-``\\x1f``, which Python splits on but the pre-tokenizer does not, are read
  as part of a word so that they can only lower the bound).
- with the heuristic fallback, the heuristic itself (it is as cheap as a bound).

Every request a Flow queues is bounded when it is submitted, and most fit: a burst of
them is all bounded before the first goes out. Splitting into words costs ~4 ns a
character (~80 us for 18 KB, a twelfth of counting it), so by default shorter texts
keep only the byte bound. A Flow asks for the words too (``words_from=0``) only when a
request might not fit once they are read (a text has no more words than characters).
The bytes of an ASCII text are its length (no pass at all); the words take one pass at
C speed (~20 ms for 5 MB here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._body import Parts, collect
from ._encoding import HEURISTIC_BACKEND, count_text, encoding_backend, heuristic_count
from ._numbers import ceil_tokens

__all__ = [
    "LONGEST_TOKEN_BYTES",
    "WORDS_FROM_CHARS",
    "body_lower_bound",
    "parts_lower_bound",
    "text_lower_bound",
]

# The longest cl100k token, in UTF-8 bytes (tests check it against the vocabulary).
LONGEST_TOKEN_BYTES = 128
# Texts this long are worth a pass for their words (see the module docstring).
WORDS_FROM_CHARS = 32 * 1024
# Python's str.split() separators that are not whitespace to the pre-tokenizer.
_NOT_SEPARATORS = str.maketrans("\x1c\x1d\x1e\x1f", "xxxx")


def text_lower_bound(text: str, *, words_from: int = WORDS_FROM_CHARS) -> int:
    """At most :func:`~claudeflow.tokens.count_text` of ``text``, computed without BPE.

    :param words_from: the length from which the words are counted too (0: always)
    """
    if not text:
        return 0
    if encoding_backend() == HEURISTIC_BACKEND:
        return heuristic_count(text)
    # isascii() reads a flag CPython keeps: no copy for the common case.
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    if len(text) < words_from:
        return ceil_tokens(size / LONGEST_TOKEN_BYTES)
    # Rarely present: the scan is far cheaper than always translating a 5 MB text.
    if any(c in text for c in "\x1c\x1d\x1e\x1f"):
        text = text.translate(_NOT_SEPARATORS)
    return max(ceil_tokens(size / LONGEST_TOKEN_BYTES), len(text.split()))


def body_lower_bound(body: Mapping[str, Any], *, words_from: int = WORDS_FROM_CHARS) -> int:
    """At most the raw count :class:`~claudeflow.tokens.TokenEstimator` makes of ``body``
    (``words_from`` as in :func:`text_lower_bound`).

    Text parts get :func:`text_lower_bound`; images and documents count as 0; the fixed
    overheads count in full (they are part of every estimate).
    """
    return parts_lower_bound(collect(body), words_from=words_from)


def parts_lower_bound(parts: Parts, *, words_from: int = WORDS_FROM_CHARS) -> int:
    """:func:`body_lower_bound` of a body already taken apart."""
    return parts.fixed + sum(
        text_lower_bound(payload, words_from=words_from)
        for counter, payload in parts.pieces
        if counter is count_text
    )
