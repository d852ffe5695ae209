"""run_jsonl end to end against the simulator: results, bad lines, dead letters, resume."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import (
    API_KEY,
    body,
    each_input_line_once,
    id_counts,
    records,
    write_lines,
    write_requests,
)

from claudeflow import Flow, RetryPolicy, SpendPolicy
from claudeflow.runner import RunFiles, RunOptions, RunSummary, Tally, run_jsonl
from claudeflow.runner._records import error_info
from claudeflow.simulator import FaultConfig
from claudeflow.testing import simulator

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_retries=1, base_delay=0.001, max_delay=0.002)


def files_in(tmp_path: Path, name: str = "requests.jsonl") -> RunFiles:
    return RunFiles(tmp_path / name, tmp_path / "results.jsonl", tmp_path / "dead.jsonl")


@asynccontextmanager
async def flow_for(url: str, **kwargs: Any) -> AsyncIterator[Flow]:
    # A seeded RNG: the retry jitter replays exactly from run to run.
    options: dict[str, Any] = {"concurrency": 4, "retry": FAST_RETRY, "rng": random.Random(0)}
    options |= kwargs
    async with Flow(api_key=API_KEY, base_url=url, **options) as flow:
        yield flow


async def run(files: RunFiles, url: str, **flow_kwargs: Any) -> RunSummary:
    async with flow_for(url, **flow_kwargs) as flow:
        return await run_jsonl(flow, files, RunOptions(window=8), secret=API_KEY)


async def test_every_line_gets_one_result_and_bad_lines_are_dead_letters(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    lines: list[Any] = [body(i) for i in range(30)]
    lines[4] = "{oops"
    lines[9] = {"custom_id": "no-body", "model": "m"}
    lines[12] = {"custom_id": "bad-max", "model": "m", "max_tokens": -1, "messages": []}
    write_lines(files.input, lines)
    notices: list[str] = []
    async with simulator() as sim, flow_for(sim.url) as flow:
        summary = await run_jsonl(flow, files, notify=notices.append, secret=API_KEY)
    assert (summary.succeeded, summary.invalid, summary.failed) == (27, 3, 0)
    assert summary.complete and summary.cost_usd > 0 and summary.output_tokens > 0
    results = {r["line"]: r for r in records(files.output)}
    assert len(results) == 30 == len(records(files.output))
    ok = results[1]
    assert ok["status"] == "succeeded" and ok["response"]["content"][0]["text"]
    assert ok["usage"]["output_tokens"] > 0 and ok["cost_usd"] > 0 and ok["attempts"] == 1
    assert results[5]["error"]["message"].startswith("line 5: invalid JSON")
    assert results[13]["custom_id"] == "bad-max"
    assert results[13]["error"]["type"] == "InvalidRequestError"
    assert any("requests.jsonl:5: bad line" in n for n in notices)
    assert results[10]["custom_id"] == "no-body"
    # Dead letters are the input lines themselves, byte for byte, in result order.
    given = files.input.read_text().splitlines(keepends=True)
    assert files.dead_letter.read_text() == given[4] + given[9] + given[12]


async def test_exhausted_retries_go_to_dead_letters_that_can_be_fed_back(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 12, ids=True)
    async with simulator(faults=FaultConfig(error_500=1.0)) as sim:
        summary = await run(files, sim.url)
    assert summary.failed == 12 and not summary.succeeded
    failed = records(files.output)[0]
    assert failed["status"] == "failed" and failed["error"]["status_code"] == 500
    assert failed["error"]["type"] == "InternalServerError"
    retry = RunFiles(files.dead_letter, tmp_path / "retried.jsonl", tmp_path / "dead2.jsonl")
    async with simulator() as sim:
        summary = await run(retry, sim.url)
    assert summary.succeeded == 12 and summary.complete
    assert id_counts(retry.output) == {f"req-{i}": 1 for i in range(12)}
    assert not retry.dead_letter.exists()


async def test_rerun_skips_done_lines_and_redoes_a_partial_last_line(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 20)
    async with simulator() as sim:
        await run(files, sim.url)
        lines = files.output.read_bytes().splitlines(keepends=True)
        # As if killed: ten complete lines and half of the eleventh.
        files.output.write_bytes(b"".join(lines[:10]) + lines[10][:25])
        summary = await run(files, sim.url)
    assert summary.skipped == 10 and summary.succeeded == 10
    assert id_counts(files.output) == each_input_line_once(files.input)


async def test_a_dead_letter_lost_in_a_crash_is_restored_once(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 5, ids=True)
    async with simulator(faults=FaultConfig(error_500=1.0)) as sim:
        await run(files, sim.url)
        letters = files.dead_letter.read_text().splitlines(keepends=True)
        files.dead_letter.write_text("".join(letters[:3]))  # killed before two were written
        notices: list[str] = []
        async with flow_for(sim.url) as flow:
            summary = await run_jsonl(flow, files, notify=notices.append)
    assert summary.skipped == 5 and summary.failed == 0
    assert id_counts(files.dead_letter) == {f"req-{i}": 1 for i in range(5)}
    # The lines as given, in the order of their results (which is completion order, so it
    # depends on timing with four in flight; the pairing of the two does not).
    given = {json.loads(line)["custom_id"]: line for line in files.input.read_text().splitlines()}
    in_result_order = [given[r["custom_id"]] + "\n" for r in records(files.output)]
    assert files.dead_letter.read_text() == "".join(in_result_order)
    assert any("restored 2 dead letter(s)" in n for n in notices)


async def test_a_spent_budget_stops_the_run_and_the_rest_is_done_later(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 40)
    async with simulator() as sim:
        stopped = await run(files, sim.url, spend=SpendPolicy(budget_usd=1e-9), concurrency=1)
        finished = await run(files, sim.url)
    assert stopped.stop_reason == "budget reached" and not stopped.complete
    assert stopped.failed == 0 and stopped.succeeded < 40
    assert finished.skipped == stopped.succeeded and finished.complete
    assert id_counts(files.output) == each_input_line_once(files.input)
    assert not files.dead_letter.exists()


async def test_stop_lets_in_flight_requests_finish_and_records_no_partial_work(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 200)
    stop = asyncio.Event()
    tally = Tally()
    async with simulator(ttft_s=0.01) as sim, flow_for(sim.url) as flow:
        running = asyncio.create_task(run_jsonl(flow, files, tally=tally, stop=stop))
        for _ in range(2000):  # bounded poll
            if tally.succeeded >= 5:
                break
            await asyncio.sleep(0.005)
        stop.set()
        summary = await running
        assert flow.stats().in_flight == 0
    assert summary.stop_reason == "stopped" and summary.succeeded < 200
    assert len(records(files.output)) == summary.succeeded


async def test_a_refused_key_aborts_the_run_and_writes_nothing(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 30)
    async with simulator(api_keys=frozenset({"sk-ant-the-right-one"})) as sim:
        summary = await run(files, sim.url)
    assert summary.stop_reason == "aborted" and not summary.complete
    assert "rejected the API key" in summary.abort_message
    assert "AuthenticationError" in summary.abort_message
    assert "ANTHROPIC_API_KEY" in summary.abort_message
    # Every line would have failed the same way: none is recorded, all stay to do.
    assert summary.failed == 0 and not records(files.output)
    assert not files.dead_letter.exists()
    assert API_KEY not in summary.abort_message
    leaky = error_info(RuntimeError(f"header x-api-key={API_KEY}"), API_KEY)
    assert API_KEY not in leaky["message"] and "***" in leaky["message"]


async def test_an_unreachable_api_aborts_once_the_first_request_gives_up(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 20)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening
    try:
        summary = await run(files, url)
    finally:
        closed.close()
    assert summary.stop_reason == "aborted" and "cannot reach the API at" in summary.abort_message
    assert "APIConnectionError" in summary.abort_message
    assert summary.failed == 0 and not records(files.output)


async def test_dead_letters_fed_back_stay_the_same_lines_round_after_round(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    long_line = json.dumps({"custom_id": "long"} | body(0) | {"metadata": {"pad": "x" * 3000}})
    lines: list[Any] = [body(i) for i in range(6)]
    lines[1] = "{not json at all"
    lines[2] = {"custom_id": "mixed", "params": body(2, max_tokens=32), "max_tokens": 10_000_000}
    lines[4] = long_line
    write_lines(files.input, lines)
    given = files.input.read_text().splitlines(keepends=True)
    letters = given[1] + given[2] + given[4]
    options = RunOptions(window=8, max_line_bytes=2000)
    async with simulator() as sim:
        async with flow_for(sim.url) as flow:
            first = await run_jsonl(flow, files, options)
        assert first.invalid == 3 and files.dead_letter.read_text() == letters
        retry = RunFiles(files.dead_letter, tmp_path / "retried.jsonl", tmp_path / "dead2.jsonl")
        async with flow_for(sim.url) as flow:
            again = await run_jsonl(flow, retry, options)
    assert again.invalid == 3 and retry.dead_letter.read_text() == letters  # no nesting
    failed = [r for r in records(files.output) if r["status"] != "succeeded"]
    reasons = {r["line"]: r["error"]["message"] for r in failed}
    assert reasons[2].startswith("line 2: invalid JSON")
    assert "both params and top-level field(s) max_tokens" in reasons[3]
    assert "longer than 2,000 bytes" in reasons[5]


async def test_blank_lines_are_counted_apart_not_as_lines_to_do(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    lines: list[Any] = [body(i) for i in range(30)]
    lines[7] = ""
    lines[20] = "   "
    write_lines(files.input, lines)
    async with simulator() as sim:
        summary = await run(files, sim.url)
    assert summary.blank == 2 and summary.total_lines == 28 and summary.remaining == 0
    assert summary.succeeded == 28 and len(records(files.output)) == 28


async def test_a_rerun_reports_the_failures_earlier_runs_left_in_the_file(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_requests(files.input, 10, ids=True)
    async with simulator(faults=FaultConfig(error_500=1.0)) as sim:
        first = await run(files, sim.url)
    async with simulator() as sim:
        second = await run(files, sim.url)
    assert first.failed == 10 and first.file_failed == 10
    assert (second.succeeded, second.failed, second.skipped) == (0, 0, 10)
    assert second.file_failed == 10 and second.file_unsucceeded == 10 and second.complete


def test_files_and_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must all differ"):
        RunFiles(tmp_path / "a", tmp_path / "a", tmp_path / "b")
    with pytest.raises(ValueError, match="window"):
        RunOptions(window=0)
