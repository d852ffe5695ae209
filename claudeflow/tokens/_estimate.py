"""Estimate a request's input tokens before sending it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from .._checks import check_count, check_non_negative
from ._body import collect
from ._bound import WORDS_FROM_CHARS, parts_lower_bound
from ._numbers import ceil_tokens

__all__ = ["DEFAULT_MARGIN", "DEFAULT_THREAD_THRESHOLD", "TokenEstimator"]

# cl100k is not Claude's tokenizer, and Claude's counts run higher for the same text
# (peers §3.5: o200k x 1.15 "systematically undercounts Claude"; api doc §6: Claude 4.7+
# count ~30 % more again). Until the calibrator has samples, lean over, not under.
DEFAULT_MARGIN = 0.15
# Measured here: cl100k encodes prose at ~20 MB/s (0.9 ms for 18 KB) and dense JSON-like
# text at ~5 MB/s, while a hop to a worker thread costs ~0.13 ms of the loop's time. So
# from a few KiB on, the hop costs the loop less than the count it moves away. It also
# keeps the loop answering sockets: tiktoken releases the GIL for part of its encoding. A
# burst of 2-18 KB prompts (itpm_bound) got its first request to the server 2 ms after
# its first launch instead of 12 ms, with counts on the loop each holding it ~0.5 ms.
DEFAULT_THREAD_THRESHOLD = 4 * 1024


class TokenEstimator:
    """Counts a Messages request's input tokens locally, before it is sent.

    The count covers ``system``, every message and content block (text, images, PDFs,
    tool calls and results, thinking), tool definitions and a structured-output schema,
    plus small overheads for the markup around them; see :mod:`claudeflow.tokens._body`.
    It never raises on odd input: unknown parts are counted by their JSON text.

    :param margin: fraction added on top of the raw count (0.15 = +15 %)
    :param thread_threshold: characters to count from which :meth:`estimate_async`
        counts in a worker thread
    :raises ConfigError: if ``margin`` is negative or ``thread_threshold`` below 0

    >>> estimator = TokenEstimator(margin=0.0)
    >>> estimator.estimate({"messages": [{"role": "user", "content": "Hello, world"}]})
    10
    """

    __slots__ = ("_margin", "_thread_threshold")

    def __init__(
        self,
        *,
        margin: float = DEFAULT_MARGIN,
        thread_threshold: int = DEFAULT_THREAD_THRESHOLD,
    ) -> None:
        check_non_negative("margin", margin)
        check_count("thread_threshold", thread_threshold, minimum=0)
        self._margin = float(margin)
        self._thread_threshold = thread_threshold

    @property
    def margin(self) -> float:
        """Fraction added on top of the raw count."""
        return self._margin

    @property
    def thread_threshold(self) -> int:
        """Characters from which :meth:`estimate_async` counts off the event loop."""
        return self._thread_threshold

    def estimate(self, body: Mapping[str, Any]) -> int:
        """Input tokens of the request ``body`` (the Messages API's JSON params)."""
        return self._with_margin(collect(body).count())

    def lower_bound(self, body: Mapping[str, Any], *, words_from: int = WORDS_FROM_CHARS) -> int:
        """At most :meth:`estimate` of ``body``, at a fraction of its cost.

        When even this exceeds the input-token capacity, the request can never fit and
        need not be counted at all (see :mod:`claudeflow.tokens._bound` for the proof).

        :param words_from: the text length from which words are counted too (0: always)
        """
        return self._with_margin(parts_lower_bound(collect(body), words_from=words_from))

    def lower_bound_and_work(self, body: Mapping[str, Any]) -> tuple[int, int]:
        """:meth:`lower_bound`, and the characters :meth:`estimate` would read to count
        ``body`` (what counting costs), from one walk of it."""
        parts = collect(body)
        return self._with_margin(parts_lower_bound(parts)), parts.work

    async def estimate_async(self, body: Mapping[str, Any]) -> int:
        """Like :meth:`estimate`, but big bodies are counted in a worker thread."""
        # Collecting only walks the structure and stays on the loop; counting is the cost.
        parts = collect(body)
        if parts.work < self._thread_threshold:
            return self._with_margin(parts.count())
        return self._with_margin(await asyncio.to_thread(parts.count))

    def _with_margin(self, raw: int) -> int:
        return ceil_tokens(raw * (1.0 + self._margin))

    def __repr__(self) -> str:
        return (
            f"TokenEstimator(margin={self._margin!r}, thread_threshold={self._thread_threshold!r})"
        )
