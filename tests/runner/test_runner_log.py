"""Append-only result files: partial last lines are cut, damage elsewhere is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claudeflow.runner import CorruptFileError, DoneIndex, JsonlLog, repair_tail
from claudeflow.runner._log import read_records
from claudeflow.testing import FakeClock


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        pytest.param(b"", b"", id="empty"),
        pytest.param(b'{"a": 1}\n', b'{"a": 1}\n', id="clean"),
        pytest.param(b'{"a": 1}\n{"b": ', b'{"a": 1}\n', id="partial"),
        pytest.param(b'{"a": 1', b"", id="only-partial"),
        pytest.param(b'{"a": 1}\n\x00\x00\x00', b'{"a": 1}\n', id="zero-filled"),
    ],
)
def test_repair_tail_keeps_exactly_the_complete_lines(
    tmp_path: Path, content: bytes, kept: bytes
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    assert repair_tail(path) == len(content) - len(kept)
    assert path.read_bytes() == kept


def test_repair_tail_finds_a_newline_far_back(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"{}\n" + b"x" * 200_000)
    assert repair_tail(path) == 200_000
    assert repair_tail(tmp_path / "missing.jsonl") == 0


def unsynced(log: JsonlLog) -> bool:
    return log._dirty


async def test_append_writes_whole_lines_and_fsyncs_on_its_interval(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "out.jsonl"
    log = JsonlLog(path, fsync_interval_s=5.0, clock=clock)
    log.append({"custom_id": "a", "status": "succeeded"})
    assert path.read_text() == '{"custom_id": "a", "status": "succeeded"}\n'  # no buffering
    assert unsynced(log)  # not yet synced
    await clock.advance(5.0)
    log.append({"custom_id": "b", "status": "failed", "text": "é"})
    assert not unsynced(log)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append({"custom_id": "c"})
    assert [outcome.custom_id for outcome in read_records(path)] == ["a", "b"]


def test_read_records_skips_parsing_successes_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    lines = [
        {"custom_id": 'a "quoted"', "status": "succeeded", "line": 4, "cost_usd": 0.5, "x": {}},
        {"custom_id": "b", "status": "failed", "line": 5, "cost_usd": None, "error": {}},
        {"status": "succeeded", "custom_id": "c"},  # not our key order: parsed in full
        {"custom_id": "d", "status": "succeeded", "line": 7, "response": {}, "cost_usd": 2},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    quick = list(read_records(path, full=False))
    assert [(o.custom_id, o.status, o.line, o.cost_usd) for o in quick] == [
        ('a "quoted"', "succeeded", 4, 0.5),
        ("b", "failed", 5, None),
        ("c", "succeeded", None, None),
        ("d", "succeeded", 7, 2.0),  # an older key order: parsed in full, same answer
    ]
    assert quick[0].record is None and quick[1].record == lines[1]
    assert quick[2].record == lines[2] and quick[3].record == lines[3]


@pytest.mark.parametrize(
    "bad", [pytest.param("{broken", id="json"), pytest.param('{"x": 1}', id="no-id")]
)
def test_damage_before_the_last_line_is_refused_with_its_line_number(
    tmp_path: Path, bad: str
) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(f'{{"custom_id": "a"}}\n{bad}\n{{"custom_id": "c"}}\n')
    with pytest.raises(CorruptFileError, match=r"out\.jsonl:2"):
        list(read_records(path))


def test_done_index_answers_membership_in_eight_bytes_per_id() -> None:
    ids = [f"line-{n}" for n in range(1000)]
    index = DoneIndex(ids)
    assert len(index) == 1000
    assert all(custom_id in index for custom_id in ids)
    assert "line-1000" not in index and 5 not in index
    assert index._digests.itemsize == 8
    assert "x" not in DoneIndex()


def test_dead_letters_never_reach_the_disk_ahead_of_their_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    output = JsonlLog(tmp_path / "out.jsonl", fsync_interval_s=60)
    dead = JsonlLog(tmp_path / "dead.jsonl", fsync_interval_s=60, sync_first=output)
    output.append({"custom_id": "a", "status": "failed"})
    dead.append_line(b'{"custom_id": "a"}')
    dead.sync()
    assert synced == [output._fd, dead._fd]
    dead.close()
    output.close()
