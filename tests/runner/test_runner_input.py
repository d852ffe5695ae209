"""Input lines: what is a request, what is a bad line (and which line it was)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_helpers import body, write_lines

from claudeflow import Priority
from claudeflow.runner import BadLine, LineReader, LineRequest, parse_line, read_items
from claudeflow.runner._done import IdSet
from claudeflow.runner._input import content_id, count_lines


def parse(data: object) -> LineRequest | BadLine:
    raw = data if isinstance(data, str) else json.dumps(data)
    return parse_line(7, raw.encode())


def test_inline_body_with_id_and_priority() -> None:
    raw = json.dumps({"custom_id": "q1", "priority": "high"} | body(1))
    item = parse_line(7, raw.encode(), offset=40)
    assert item == LineRequest(7, "q1", Priority.HIGH, body(1), raw.encode(), 40)


def test_batches_style_params() -> None:
    item = parse({"custom_id": "q1", "priority": 2, "params": body(1)})
    assert isinstance(item, LineRequest) and (item.custom_id, item.priority) == ("q1", 2)
    assert item.body == body(1)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"max_tokens": 10_000_000}, id="body-field"),
        pytest.param({"error": {"type": "X"}, "line": 3}, id="old-dead-letter-fields"),
    ],
)
def test_params_mixed_with_top_level_fields_is_a_bad_line(extra: dict[str, object]) -> None:
    item = parse({"custom_id": "r030", "params": body(1, max_tokens=32)} | extra)
    assert isinstance(item, BadLine) and item.custom_id == "r030"
    assert "both params and top-level field(s)" in item.problem
    assert all(name in item.problem for name in extra)
    assert ("older claudeflow" in item.problem) == ("error" in extra)


def test_a_line_without_custom_id_is_known_by_its_content_not_its_place() -> None:
    item = parse(body(1) | {"priority": 0})
    assert isinstance(item, LineRequest) and item.priority == 0
    assert item.custom_id == content_id(body(1) | {"priority": 0})
    assert item.custom_id.startswith("content-") and len(item.custom_id) == len("content-") + 20
    # The same request elsewhere, with other spacing and key order: the same key.
    reordered = json.dumps(dict(reversed(list((body(1) | {"priority": 0}).items()))), indent=1)
    moved = parse_line(99, reordered.replace("\n", " ").encode())
    assert moved.custom_id == item.custom_id and moved.line == 99
    assert parse(body(2)).custom_id != item.custom_id
    assert parse("{oops").custom_id == parse("{oops  ").custom_id != parse("{oops!").custom_id


def test_repeats_of_an_id_less_request_are_numbered_and_survive_a_prepended_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "in.jsonl"
    reused = {"custom_id": "a"} | body(9)
    write_lines(path, [body(1), body(2), body(1), body(1), reused, reused])
    before = [item.custom_id for item in read_items(path, max_line_bytes=10_000)]
    key = content_id(body(1))
    assert before == [key, content_id(body(2)), f"{key}-2", f"{key}-3", "a", "a (duplicate 2)"]
    write_lines(path, [body(0), body(1), body(2), body(1), body(1), reused, reused])
    after = [item.custom_id for item in read_items(path, max_line_bytes=10_000)]
    assert after == [content_id(body(0)), *before]


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
        pytest.param({"params": "x"}, "params: must be a JSON object", id="params"),
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


def test_reading_numbers_every_line_counts_blanks_apart_and_caps_line_length(
    tmp_path: Path,
) -> None:
    long_line = json.dumps(body(1) | {"metadata": {"pad": "x" * 5000}})
    path = write_lines(tmp_path / "in.jsonl", [body(1), "", "   ", long_line, body(2)])
    reader = LineReader(path, max_line_bytes=1000)
    items = list(reader)
    assert [item.line for item in items] == [1, 4, 5] and reader.blank == 2
    assert isinstance(items[1], BadLine) and "longer than 1,000 bytes" in items[1].problem
    assert items[1].raw is None  # too long to hold: its dead letter is copied by offset
    assert isinstance(items[2], LineRequest) and items[2].body == body(2)
    content = path.read_bytes()
    assert all(
        content[item.offset :].startswith(content.splitlines()[item.line - 1]) for item in items
    )
    # The progress total counts what can become a result: blank lines are not lines to do.
    assert count_lines(path, max_line_bytes=1000) == 3


def test_a_reused_custom_id_is_a_bad_line_with_a_key_of_its_own(tmp_path: Path) -> None:
    lines = [{"custom_id": "a"} | body(1), {"custom_id": "b"} | body(2)]
    clash = content_id(body(4))
    lines += [{"custom_id": "a"} | body(3), body(4), {"custom_id": clash} | body(5)]
    items = list(read_items(write_lines(tmp_path / "in.jsonl", lines), max_line_bytes=10_000))
    assert [type(item).__name__ for item in items] == [
        "LineRequest",
        "LineRequest",
        "BadLine",
        "LineRequest",
        "BadLine",
    ]
    dup = items[2]
    assert isinstance(dup, BadLine) and "duplicate custom_id 'a'" in dup.problem
    assert dup.custom_id == "a (duplicate 2)" and dup.raw == json.dumps(lines[2]).encode()
    assert items[4].custom_id == f"{clash} (duplicate 2)"  # clashes with a content id
    assert len({item.custom_id for item in items}) == 5


def test_the_id_set_grows_and_stays_exact() -> None:
    seen = IdSet()
    assert all(seen.add(f"id-{n}") for n in range(5000))
    assert not any(seen.add(f"id-{n}") for n in range(0, 5000, 7))
    assert len(seen) == 5000


def test_a_file_without_a_final_newline_still_yields_its_last_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(body(1)) + "\n" + json.dumps(body(2)))
    assert [item.line for item in read_items(path, max_line_bytes=10_000)] == [1, 2]
