"""Input lines: what is a request, what is a bad line (and which line it was)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_helpers import body, write_lines

from claudeflow import Priority
from claudeflow.runner import BadLine, LineRequest, parse_line, read_items


def parse(data: object) -> LineRequest | BadLine:
    raw = data if isinstance(data, str) else json.dumps(data)
    return parse_line(7, raw.encode())


def test_inline_body_with_id_and_priority() -> None:
    item = parse({"custom_id": "q1", "priority": "high"} | body(1))
    assert item == LineRequest(7, "q1", Priority.HIGH, body(1))


def test_batches_style_params_and_dead_letter_extras_are_accepted() -> None:
    item = parse({"custom_id": "q1", "params": body(1), "error": {"type": "X"}, "line": 3})
    assert item == LineRequest(7, "q1", Priority.NORMAL, body(1))


def test_missing_custom_id_defaults_to_the_line_number() -> None:
    item = parse(body(1) | {"priority": 0})
    assert isinstance(item, LineRequest) and item.custom_id == "line-7" and item.priority == 0


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param("{not json", "invalid JSON", id="json"),
        pytest.param("[1, 2]", "expected a JSON object", id="array"),
        pytest.param({"model": "m"}, "missing field(s): max_tokens, messages", id="missing"),
        pytest.param(body(1) | {"custom_id": 5}, "custom_id", id="id-type"),
        pytest.param(body(1) | {"custom_id": ""}, "custom_id", id="id-empty"),
        pytest.param(body(1) | {"priority": "urgent"}, "priority", id="priority-name"),
        pytest.param(body(1) | {"priority": True}, "priority", id="priority-bool"),
        pytest.param({"params": "x"}, "params", id="params"),
        pytest.param(body(1) | {"queue_timeout": 3}, "reserved field(s): queue_timeout", id="kw"),
    ],
)
def test_bad_lines_name_their_problem(data: object, problem: str) -> None:
    item = parse(data)
    assert isinstance(item, BadLine) and item.line == 7
    assert problem in item.problem


def test_a_bad_line_keeps_its_custom_id_when_it_has_one() -> None:
    item = parse({"custom_id": "q9", "model": "m"})
    assert isinstance(item, BadLine) and item.custom_id == "q9"


def test_reading_numbers_every_line_skips_blanks_and_caps_line_length(tmp_path: Path) -> None:
    long_line = json.dumps(body(1) | {"metadata": {"pad": "x" * 5000}})
    path = write_lines(tmp_path / "in.jsonl", [body(1), "", "   ", long_line, body(2)])
    items = list(read_items(path, max_line_bytes=1000))
    assert [item.line for item in items] == [1, 4, 5]
    assert isinstance(items[1], BadLine) and "longer than 1,000 bytes" in items[1].problem
    assert isinstance(items[2], LineRequest) and items[2].body == body(2)


def test_a_file_without_a_final_newline_still_yields_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(body(1)) + "\n" + json.dumps(body(2)))
    assert [item.line for item in read_items(path, max_line_bytes=10_000)] == [1, 2]
