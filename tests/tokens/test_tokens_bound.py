"""The cheap lower bound on input tokens, and counting long texts in chunks."""

from __future__ import annotations

import math
from typing import Any

import pytest
import tiktoken
from hypothesis import example, given, settings
from hypothesis import strategies as st

from claudeflow.tokens import (
    TokenEstimator,
    _encoding,
    body_lower_bound,
    count_text,
    encoding_backend,
    text_lower_bound,
)
from claudeflow.tokens._bound import LONGEST_TOKEN_BYTES, WORDS_FROM_CHARS
from claudeflow.tokens._encoding import (
    CHUNK_CHARS,
    HEURISTIC_BACKEND,
    TIKTOKEN_BACKEND,
    chunk_bounds,
    heuristic_count,
)

ENCODING = tiktoken.get_encoding(TIKTOKEN_BACKEND)
# Letters, digits, punctuation, CJK, emoji and every kind of whitespace, including the
# separators Python splits on but cl100k's pre-tokenizer does not (\x1c-\x1f).
ALPHABET = "aZé字😀0 9.,;!'-_\n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000"
texts = st.text(alphabet=ALPHABET, max_size=300)


def test_the_longest_token_is_as_long_as_the_bound_assumes() -> None:
    longest = 0
    for rank in range(ENCODING.n_vocab):
        try:
            longest = max(longest, len(ENCODING.decode_single_token_bytes(rank)))
        except KeyError:  # unused ranks
            continue
    assert longest == LONGEST_TOKEN_BYTES


@settings(max_examples=200, deadline=None, derandomize=True)
@given(texts)
def test_the_text_bound_never_exceeds_the_count(text: str) -> None:
    assert text_lower_bound(text) <= count_text(text)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(texts.filter(bool))
def test_the_words_bound_of_a_long_text_never_exceeds_the_count(text: str) -> None:
    long = text * math.ceil(WORDS_FROM_CHARS / len(text))  # long enough for its words
    assert text_lower_bound(long) <= count_text(long)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("hello world " * 3000, id="prose"),
        pytest.param(" " * 40_000, id="spaces"),
        pytest.param("a" * 40_000, id="one-run"),
        pytest.param("!\x1c!\x1d!" * 7000, id="not-separators"),
        pytest.param("hello world " * 100, id="short"),
    ],
)
def test_the_text_bound_is_close_on_ordinary_text_and_safe_on_odd_text(text: str) -> None:
    bound, count = text_lower_bound(text), count_text(text)
    assert 0 < bound <= count


def test_long_prose_bound_is_at_least_half_the_count() -> None:
    prose = ("The quick brown fox jumps over the lazy dog, again and again. " * 600).strip()
    assert len(prose) >= WORDS_FROM_CHARS
    assert text_lower_bound(prose) >= count_text(prose) / 2


def test_a_shorter_text_is_bounded_by_its_bytes_alone() -> None:
    # Its words would cost a pass that every submitted request pays; it is counted soon.
    prose = "hello world " * 1000
    assert len(prose) < WORDS_FROM_CHARS
    assert text_lower_bound(prose) == math.ceil(len(prose) / LONGEST_TOKEN_BYTES) == 94
    accented = "é" * 200  # two UTF-8 bytes each
    assert text_lower_bound(accented) == math.ceil(400 / LONGEST_TOKEN_BYTES)


BODIES: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": "x " * 5000}]},
    {
        "system": [{"type": "text", "text": "be brief " * 100}],
        "messages": [
            {"role": "user", "content": [{"type": "image", "source": {"type": "url"}}]},
            {"role": "assistant", "content": [{"type": "tool_use", "name": "t", "input": {}}]},
        ],
        "tools": [{"name": "t", "description": "d " * 50, "input_schema": {"type": "object"}}],
    },
]


@pytest.mark.parametrize("body", BODIES)
def test_the_body_bound_never_exceeds_the_estimate(body: dict[str, Any]) -> None:
    assert 0 < body_lower_bound(body) <= TokenEstimator(margin=0.0).estimate(body)
    estimator = TokenEstimator()
    assert body_lower_bound(body) < estimator.lower_bound(body) <= estimator.estimate(body)


def test_with_the_heuristic_the_bound_is_the_heuristic(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> Any:
        raise ImportError("no tiktoken here")

    monkeypatch.setattr(_encoding, "_backend", None)
    monkeypatch.setattr(_encoding, "_load_tiktoken", fail)
    text = "a b c d e f g"  # 7 words in 13 bytes: more words than heuristic tokens
    assert encoding_backend() == HEURISTIC_BACKEND
    assert text_lower_bound(text) == heuristic_count(text) == count_text(text)


# -- chunked counting -------------------------------------------------------------------

words = st.lists(
    st.text(alphabet="abcXYZ019.,!'é字", min_size=1, max_size=12), min_size=1, max_size=80
)
separators = st.sampled_from([" ", " ", " ", "  ", "\n", " \n ", "\t"])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(words, st.lists(separators, min_size=80, max_size=80))
# Found by hypothesis: a hard cut inside a run, and one on the text's last character.
@example(["0", "0", "0", "000", "0000X00"], [" "] * 80)
@example(["00", "00", "000", "000"], [" ", "  ", " \n ", *[" "] * 77])
def test_cutting_before_a_space_between_words_changes_no_count(
    parts: list[str], seps: list[str]
) -> None:
    text = "".join(w + s for w, s in zip(parts, seps, strict=False))
    bounds = chunk_bounds(text, size=16)
    assert "".join(text[a:b] for a, b in bounds) == text
    chunked = sum(len(ENCODING.encode_ordinary(text[a:b])) for a, b in bounds)
    whole = len(ENCODING.encode_ordinary(text))
    # A soft cut sits on a space between two non-spaces; a hard one (no such space in
    # the chunk's last quarter) splits a run and may move the count by a token or two.
    hard = sum(1 for _, end in bounds[:-1] if not _soft(text, end))
    assert abs(chunked - whole) <= 2 * hard
    if hard == 0:
        assert chunked == whole


def _soft(text: str, at: int) -> bool:
    if at + 1 >= len(text) or text[at] != " ":
        return False
    return not text[at - 1].isspace() and not text[at + 1].isspace()


def test_long_prose_counts_exactly_as_one_call() -> None:
    prose = "Claude reads this sentence, and then 12345 more words.\n" * 2000
    assert len(prose) > 4 * CHUNK_CHARS
    assert count_text(prose) == len(ENCODING.encode_ordinary(prose))


def test_a_run_without_spaces_is_cut_hard_and_counted_closely() -> None:
    run = "ab" * (3 * CHUNK_CHARS)
    bounds = chunk_bounds(run)
    assert len(bounds) == 6 and all(b - a <= CHUNK_CHARS for a, b in bounds)
    exact = len(ENCODING.encode_ordinary(run))
    assert exact <= count_text(run) <= exact + 2 * len(bounds)
