"""Kill the real ``claudeflow run`` process mid-run, rerun it: every line exactly once.

The simulator runs in the test's loop; the runner is a separate process started with
``python -m claudeflow.runner`` and stopped with SIGKILL (no cleanup at all) or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from runner_helpers import (
    API_KEY,
    complete_lines,
    each_input_line_once,
    finish,
    id_counts,
    records,
    start_cli,
    write_requests,
)

from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

LINES = 400


async def wait_for_lines(path: Path, at_least: int) -> None:
    for _ in range(3000):  # bounded poll, 10 ms apart
        if complete_lines(path) >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never reached {at_least} lines")


async def test_sigkilled_twice_then_rerun_every_line_appears_exactly_once(tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", LINES)
    output = tmp_path / "results.jsonl"
    # 20 ms to first token and 4 in flight: the run takes ~2 s, time enough to kill it.
    async with simulator(ttft_s=0.02) as sim:
        args = (requests, "-o", output, "--base-url", sim.url, "--concurrency", "4", "--quiet")
        killed_at = []
        for threshold in (40, 150):
            process = await start_cli(*args)
            await wait_for_lines(output, threshold)
            process.send_signal(signal.SIGKILL)
            code, _ = await finish(process)
            assert code == -signal.SIGKILL
            killed_at.append(complete_lines(output))
        code, stderr = await finish(await start_cli(*args))
    assert code == 0, stderr
    assert killed_at[0] < LINES and killed_at[1] < LINES  # really killed mid-run
    counts = id_counts(output)
    assert counts == each_input_line_once(requests) and len(counts) == LINES
    assert all(record["status"] == "succeeded" for record in records(output))
    assert f"skipped (already done) {killed_at[1]}" in stderr
    assert API_KEY not in output.read_text()


async def test_ctrl_c_finishes_in_flight_requests_and_the_rerun_completes(tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", LINES, ids=True)
    output = tmp_path / "results.jsonl"
    async with simulator(ttft_s=0.02) as sim:
        args = (requests, "-o", output, "--base-url", sim.url, "--concurrency", "4", "--quiet")
        process = await start_cli(*args)
        await wait_for_lines(output, 40)
        process.send_signal(signal.SIGINT)
        code, stderr = await finish(process)
        assert code == 130, stderr
        assert "rerun the same command" in stderr
        first = id_counts(output)
        code, stderr = await finish(await start_cli(*args))
    assert code == 0, stderr
    assert max(first.values()) == 1 and len(first) < LINES
    assert id_counts(output) == {f"req-{i}": 1 for i in range(LINES)}


async def test_sigterm_stops_promptly_abandoning_the_queue_and_the_rerun_completes(
    tmp_path: Path,
) -> None:
    lines = 120
    requests = write_requests(tmp_path / "requests.jsonl", lines, ids=True)
    output = tmp_path / "results.jsonl"
    # 0.2 s per request, 8 on the wire, a read-ahead window of 64: serving the queued 56
    # too would take 1.4 s more; abandoning them leaves only the 8 on the wire (<= 0.2 s).
    async with simulator(ttft_s=0.2) as sim:
        args = (requests, "-o", output, "--base-url", sim.url, "--concurrency", "8", "--quiet")
        process = await start_cli(*args, "--window", "64")
        await wait_for_lines(output, 16)
        at_signal = complete_lines(output)
        process.send_signal(signal.SIGTERM)
        code, stderr = await finish(process)
        assert code == 128 + signal.SIGTERM, stderr
        assert "SIGTERM: stopping; queued lines are abandoned" in stderr
        first = id_counts(output)
        # Written after the signal: the 8 requests on the wire when it landed, plus at most
        # one batch of 8 answered while it was on its way (answers come 8 at a time, 0.2 s
        # apart). Serving the 56 queued lines too would write far more. (Counted, not
        # timed: a busy machine stretches time, not this count.)
        assert len(first) - at_signal <= 2 * 8
        assert max(first.values()) == 1 and len(first) < lines
        code, stderr = await finish(await start_cli(*args))
    assert code == 0, stderr
    assert id_counts(output) == {f"req-{i}": 1 for i in range(lines)}
    assert f"skipped (already done) {len(first)}" in stderr


async def test_a_refused_key_exits_3_and_leaves_every_line_to_do(tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 30)
    output = tmp_path / "results.jsonl"
    async with simulator(api_keys=frozenset({"sk-ant-the-right-one"})) as sim:
        code, stderr = await finish(await start_cli(requests, "-o", output, "--base-url", sim.url))
    assert code == 3, stderr
    # The preflight (GET /v1/models) meets the 401 before any request is sent.
    assert "aborted before sending anything" in stderr and "rejected the API key (401" in stderr
    assert "Check ANTHROPIC_API_KEY" in stderr
    assert API_KEY not in stderr
    assert not records(output)
