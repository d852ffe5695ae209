"""Input from stdin (``-``): streamed from a thread, long lines kept, never blocking."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from runner_helpers import API_KEY, body, records

from claudeflow import Flow
from claudeflow.runner import RunFiles, RunOptions, run_jsonl
from claudeflow.runner._input import STDIN
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration


async def test_stdin_input_keeps_a_line_too_long_to_hold_for_its_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    long_line = json.dumps(body(0) | {"metadata": {"pad": "x" * 5000}})
    data = "\n".join([json.dumps(body(1)), long_line, json.dumps(body(2))]) + "\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    files = RunFiles(STDIN, tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    async with simulator() as sim, Flow(api_key=API_KEY, base_url=sim.url) as flow:
        summary = await run_jsonl(flow, files, RunOptions(max_line_bytes=1000))
    assert (summary.succeeded, summary.invalid) == (2, 1) and summary.total_lines == 3
    assert files.dead_letter.read_text() == long_line + "\n"
    bad = next(r for r in records(files.output) if r["status"] == "invalid")
    assert bad["line"] == 2 and "longer than 1,000 bytes" in bad["error"]["message"]
    assert not kept_lines(tmp_path)  # the long line's temporary copy is gone


def kept_lines(directory: Path) -> list[Path]:
    return list(directory.glob("claudeflow-line-*"))


class Producer:
    """The other end of a pipe that is stdin: writes lines, then ends the input."""

    def __init__(self, write_end: int) -> None:
        self.write_end: int | None = write_end

    def send(self, line: object) -> None:
        assert self.write_end is not None
        os.write(self.write_end, (json.dumps(line) + "\n").encode())

    def end(self) -> None:
        if self.write_end is not None:
            os.close(self.write_end)
            self.write_end = None


@contextmanager
def piped_stdin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Producer]:
    read_end, write_end = os.pipe()
    stdin = io.TextIOWrapper(os.fdopen(read_end, "rb"))
    monkeypatch.setattr(sys, "stdin", stdin)
    producer = Producer(write_end)
    try:
        yield producer
    finally:
        producer.end()
        stdin.close()


async def answered(path: Path, count: int) -> None:
    for _ in range(500):  # bounded poll: 5 s at most
        if len(records(path)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never held {count} record(s)")


async def test_a_slow_producer_does_not_stall_the_lines_already_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = RunFiles(STDIN, tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    with piped_stdin(monkeypatch) as producer:
        async with simulator() as sim, Flow(api_key=API_KEY, base_url=sim.url) as flow:
            running = asyncio.create_task(run_jsonl(flow, files))
            producer.send(body(1))
            # The producer has not finished (or closed stdin), yet the first line is
            # answered: reading stdin does not hold up the loop.
            await answered(files.output, 1)
            assert not running.done()
            producer.send(body(2))
            producer.end()
            summary = await asyncio.wait_for(running, timeout=10)
    assert summary.succeeded == 2 and summary.complete


async def test_a_stop_while_stdin_is_silent_ends_the_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = RunFiles(STDIN, tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    stop = asyncio.Event()
    with piped_stdin(monkeypatch) as producer:
        async with simulator() as sim, Flow(api_key=API_KEY, base_url=sim.url) as flow:
            running = asyncio.create_task(run_jsonl(flow, files, stop=stop))
            producer.send(body(1))
            await answered(files.output, 1)
            stop.set()  # the producer is still there, silent
            summary = await asyncio.wait_for(running, timeout=10)
    assert summary.stop_reason == "stopped" and summary.succeeded == 1
