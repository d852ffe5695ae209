"""``claudeflow run --batches``: results at the batch price, and a killed run resumes
polling its journalled batches instead of submitting them again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from claudeflow import Flow
from claudeflow._errors import ConfigError
from claudeflow.batches import BatchOffload
from claudeflow.runner import RunFiles, RunOptions, read_items, run_jsonl
from claudeflow.runner._batches import journal_path, run_batch_jsonl
from claudeflow.simulator import BatchConfig
from claudeflow.testing import simulator
from claudeflow.tokens import PriceTable, Usage
from claudeflow.transport import AiohttpTransport

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-test-SECRET-runner-batches-0123456789"
MODEL = "claude-haiku-4-5"
FAST = BatchOffload(poll_s=0.05, poll_factor=1.5, poll_max_s=0.2, max_requests=10)


def write_input(path: Path, n: int, extra: list[str] = ()) -> Path:  # type: ignore[assignment]
    lines = [
        json.dumps(
            {
                "model": MODEL,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": f"line {i} [[output_tokens=7]]"}],
            }
        )
        for i in range(n)
    ]
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def input_keys(path: Path) -> list[str]:
    """Every input line's key (custom_id, else content-<hash>), as a plain run keys it."""
    return sorted(item.custom_id for item in read_items(path, max_line_bytes=1 << 20))


def files_in(tmp_path: Path) -> RunFiles:
    return RunFiles(tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "out.dead.jsonl")


async def run_once(files: RunFiles, url: str) -> Any:
    transport = AiohttpTransport(url)
    try:
        async with Flow(api_key=API_KEY, base_url=url, transport=transport) as flow:
            return await run_batch_jsonl(flow, files, secret=API_KEY, wire=transport, offload=FAST)
    finally:
        await transport.aclose()


async def test_every_line_is_answered_at_the_batch_price(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    bad_request = json.dumps({"model": MODEL, "max_tokens": 32, "messages": [{"role": "x"}]})
    write_input(files.input, 25, extra=["{not json", bad_request])
    async with simulator() as sim:
        summary = await run_once(files, sim.url)
        server = sim.stats()
    assert server["by_endpoint"]["batches.create"] == 3  # 26 requests, 10 per batch
    assert server["by_endpoint"].get("messages", 0) == 0
    results = records(files.output)
    assert sorted(r["custom_id"] for r in results) == input_keys(files.input)
    ok = [r for r in results if r["status"] == "succeeded"]
    assert len(ok) == 25 and summary.succeeded == 25 and summary.invalid == 2
    full = PriceTable.default().cost_usd(MODEL, Usage(**{**ok[0]["usage"]}))
    assert full is not None and ok[0]["cost_usd"] == pytest.approx(full / 2)
    assert ok[0]["response"]["usage"]["service_tier"] == "batch"
    assert len(files.dead_letter.read_text().splitlines()) == 2  # both lines, as given
    assert len(journal_path(files.output).read_text().splitlines()) == 3
    assert API_KEY not in files.output.read_text() + journal_path(files.output).read_text()


async def test_a_rerun_of_a_finished_run_submits_nothing(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 5)
    async with simulator() as sim:
        await run_once(files, sim.url)
        again = await run_once(files, sim.url)
        server = sim.stats()
    assert again.skipped == 5 and again.succeeded == 0
    assert server["by_endpoint"]["batches.create"] == 1


async def _start_cli(*args: str | Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "ANTHROPIC_API_KEY": API_KEY}
    env.pop("ANTHROPIC_BASE_URL", None)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "claudeflow.runner", *map(str, args), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def _lines(path: Path, at_least: int) -> None:
    for _ in range(3000):  # bounded, 10 ms apart; no timing is asserted
        if _count_lines(path) >= at_least:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never reached {at_least} lines")


async def test_a_sigkilled_cli_run_resumes_polling_instead_of_resubmitting(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 30)
    # 30 batch requests at 60 per 2-second minute: about a second of processing.
    async with simulator(batch=BatchConfig(process_rpm=60), minute_seconds=2) as sim:
        args = (files.input, "-o", files.output, "--base-url", sim.url, "--batches", "--quiet")
        process = await _start_cli(*args)
        await _lines(journal_path(files.output), 1)  # the API has the batch
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert not files.output.exists() or not records(files.output)  # killed mid-batch
        rerun = await _start_cli(*args)
        _, stderr = await asyncio.wait_for(rerun.communicate(), timeout=60)
        server = sim.stats()
    assert rerun.returncode == 0, stderr.decode()
    assert "resumed 1 batch(es)" in stderr.decode()
    assert server["by_endpoint"]["batches.create"] == 1  # polled again, never resubmitted
    results = records(files.output)
    assert sorted(r["custom_id"] for r in results) == input_keys(files.input)
    assert all(r["status"] == "succeeded" for r in results)


async def run_plain(files: RunFiles, url: str, **options: Any) -> Any:
    async with Flow(api_key=API_KEY, base_url=url) as flow:
        return await run_jsonl(flow, files, RunOptions(**options))


async def run_batched(files: RunFiles, url: str, **options: Any) -> Any:
    transport = AiohttpTransport(url)
    try:
        async with Flow(api_key=API_KEY, base_url=url, transport=transport) as flow:
            return await run_batch_jsonl(
                flow, files, RunOptions(**options), secret=API_KEY, wire=transport, offload=FAST
            )
    finally:
        await transport.aclose()


async def test_a_plain_run_and_a_batched_run_resume_each_other(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 4)
    async with simulator() as sim:
        plain = await run_plain(files, sim.url)
        write_input(files.input, 8, extra=["{not json"])  # the same 4 lines, 4 new, a bad one
        batched = await run_batched(files, sim.url)
        write_input(files.input, 12, extra=["{not json"])
        plain_again = await run_plain(files, sim.url)
        server = sim.stats()
    assert (plain.succeeded, batched.skipped, batched.succeeded, batched.invalid) == (4, 4, 4, 1)
    assert (plain_again.skipped, plain_again.succeeded) == (9, 4)
    assert server["by_endpoint"]["batches.create"] == 1
    assert server["by_endpoint"]["messages"] == 8
    keys = [r["custom_id"] for r in records(files.output)]
    assert sorted(keys) == input_keys(files.input)  # each line once, whichever run did it
    assert files.dead_letter.read_text() == "{not json\n"
    assert batched.file_succeeded == 8 and plain_again.file_invalid == 1


async def test_a_resumed_batch_writes_only_the_results_still_missing(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 6)
    async with simulator() as sim:
        await run_batched(files, sim.url)
        written = files.output.read_text().splitlines(keepends=True)
        files.output.write_text("".join(written[:2]))  # killed while writing the results
        again = await run_batched(files, sim.url)
        server = sim.stats()
    assert (again.skipped, again.succeeded) == (2, 4)
    assert server["by_endpoint"]["batches.create"] == 1  # polled again, never resubmitted
    assert sorted(r["custom_id"] for r in records(files.output)) == input_keys(files.input)


async def test_retry_failed_with_batches_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 2)
    async with simulator() as sim:
        with pytest.raises(ConfigError, match="retry_failed") as refused:
            await run_batched(files, sim.url, retry_failed=True)
        server = sim.stats()
    assert "without batches" in str(refused.value)
    assert server["by_endpoint"].get("batches.create", 0) == 0 and not files.output.exists()


async def test_the_budget_bounds_a_batched_run_and_a_rerun_spends_nothing_more(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 100)  # about $0.0026 at the batch rate: more than the budget
    budget = 0.002
    async with simulator() as sim:
        first = await run_batched(files, sim.url, budget_usd=budget)
        spent = sum(r["cost_usd"] for r in records(files.output))
        created = sim.stats()["by_endpoint"]["batches.create"]
        again = await run_batched(files, sim.url, budget_usd=budget)
        server = sim.stats()
    # Each line's worst case (its input estimate + 32 output tokens, at the batch rate)
    # was reserved before it joined a batch: the spend cannot pass the budget.
    assert first.stop_reason == "budget reached" and 0 < first.succeeded < 100
    assert spent <= budget and first.file_cost_usd == pytest.approx(spent)
    assert again.stop_reason == "budget reached" and again.succeeded == 0
    assert sum(r["cost_usd"] for r in records(files.output)) == spent
    assert server["by_endpoint"]["batches.create"] == created  # the rerun sent nothing


async def _stopped_once_journalled(files: RunFiles, url: str) -> Any:
    """A batched run stopped (as by Ctrl-C) once the API has its batch."""
    stop = asyncio.Event()
    transport = AiohttpTransport(url)
    try:
        async with Flow(api_key=API_KEY, base_url=url, transport=transport) as flow:
            run = asyncio.ensure_future(
                run_batch_jsonl(
                    flow, files, stop=stop, secret=API_KEY, wire=transport, offload=FAST
                )
            )
            await _lines(journal_path(files.output), 1)
            stop.set()
            return await asyncio.wait_for(run, timeout=30)
    finally:
        await transport.aclose()


async def test_a_stopped_batched_run_leaves_its_batch_to_the_next_one(tmp_path: Path) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 20)
    notices: list[str] = []
    async with simulator(batch=BatchConfig(process_rpm=60), minute_seconds=2) as sim:
        stopped = await _stopped_once_journalled(files, sim.url)
        assert stopped.stop_reason == "stopped" and stopped.succeeded == 0
        assert not files.output.exists() or not records(files.output)
        transport = AiohttpTransport(sim.url)
        try:
            async with Flow(api_key=API_KEY, base_url=sim.url, transport=transport) as flow:
                again = await run_batch_jsonl(
                    flow, files, secret=API_KEY, wire=transport, offload=FAST, notify=notices.append
                )
        finally:
            await transport.aclose()
        server = sim.stats()
    assert again.succeeded == 20 and any("resumed" in n for n in notices)
    assert server["by_endpoint"]["batches.create"] == 2  # 10 per batch, each sent once
    assert [r["custom_id"] for r in records(files.output)].count(input_keys(files.input)[0]) == 1
    assert sorted(r["custom_id"] for r in records(files.output)) == input_keys(files.input)


async def test_a_plain_run_warns_of_batches_a_killed_batched_run_did_not_collect(
    tmp_path: Path,
) -> None:
    files = files_in(tmp_path)
    write_input(files.input, 5)
    notices: list[str] = []
    async with simulator(batch=BatchConfig(process_rpm=60), minute_seconds=2) as sim:
        await _stopped_once_journalled(files, sim.url)
        async with Flow(api_key=API_KEY, base_url=sim.url) as flow:
            plain = await run_jsonl(flow, files, notify=notices.append)
    assert plain.succeeded == 5
    assert any("5 line(s) are in batches" in n and "--batches" in n for n in notices), notices
