"""Input from stdin (``-``): streamed from a thread, long lines kept, never blocking."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import tempfile
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


async def test_a_slow_producer_does_not_stall_the_lines_already_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    stdin = io.TextIOWrapper(os.fdopen(read_end, "rb"))
    monkeypatch.setattr(sys, "stdin", stdin)
    files = RunFiles(STDIN, tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    async with simulator() as sim, Flow(api_key=API_KEY, base_url=sim.url) as flow:
        running = asyncio.create_task(run_jsonl(flow, files))
        os.write(write_end, (json.dumps(body(1)) + "\n").encode())
        # The producer has not finished (or closed stdin), yet the first line is answered:
        # reading stdin does not hold up the loop.
        for _ in range(500):  # bounded poll: 5 s at most
            if records(files.output):
                break
            await asyncio.sleep(0.01)
        assert len(records(files.output)) == 1 and not running.done()
        os.write(write_end, (json.dumps(body(2)) + "\n").encode())
        os.close(write_end)
        summary = await asyncio.wait_for(running, timeout=10)
    stdin.close()
    assert summary.succeeded == 2 and summary.complete


async def test_a_stop_while_stdin_is_silent_ends_the_run_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_end, write_end = os.pipe()
    stdin = io.TextIOWrapper(os.fdopen(read_end, "rb"))
    monkeypatch.setattr(sys, "stdin", stdin)
    files = RunFiles(STDIN, tmp_path / "out.jsonl", tmp_path / "dead.jsonl")
    stop = asyncio.Event()
    try:
        async with simulator() as sim, Flow(api_key=API_KEY, base_url=sim.url) as flow:
            running = asyncio.create_task(run_jsonl(flow, files, stop=stop))
            os.write(write_end, (json.dumps(body(1)) + "\n").encode())
            for _ in range(500):  # bounded poll: 5 s at most
                if records(files.output):
                    break
                await asyncio.sleep(0.01)
            stop.set()  # the producer is still there, silent
            summary = await asyncio.wait_for(running, timeout=10)
    finally:
        os.close(write_end)
        stdin.close()
    assert summary.stop_reason == "stopped" and summary.succeeded == 1
